import { EMPTY_DIGEST } from '../../core/index.js';
import { createHttpActionCache } from './http-action-cache.js';
import { createHttpBlobStore } from './http-blob-store.js';
import { createHttpCacheClient, type HttpCacheClient } from './http-client.js';
import type { ProviderDeps } from './load-provider.js';
import type { ActionCacheProvider, ByteStoreProvider, CacheAccess, RemoteProvider } from './provider.js';
import type { RemoteConfig } from './remote-config.js';
import { abortable } from './signals.js';

/**
 * The provider for `http://` and `https://` addresses: the HTTP cache
 * protocol of bazel-remote, Bazel's `--remote_cache=http…` and many CI
 * caches. Caching only: validation refuses remote execution with it.
 * Node's own http/https; this module never loads gRPC.
 */
export function createHttpProvider(config: RemoteConfig, deps: ProviderDeps): RemoteProvider {
  return new Http(config, deps);
}

/** Connections per server: HEADs and transfers go one blob per request, so several at once. */
const MAX_SOCKETS = 16;

class Http implements RemoteProvider {
  readonly protocol = 'http';
  readonly cas: ByteStoreProvider;
  readonly actionCache: ActionCacheProvider;
  readonly #client: HttpCacheClient;
  readonly #config: RemoteConfig;
  #probe: Promise<CacheAccess> | undefined;

  constructor(config: RemoteConfig, deps: ProviderDeps) {
    this.#config = config;
    this.#client = createHttpCacheClient({
      endpoint: config.store,
      instanceName: config.instanceName,
      retry: { maxRetries: config.storeRpcRetries, baseDelayMs: 200, maxDelayMs: 5000 },
      maxSockets: MAX_SOCKETS,
    });
    this.cas = createHttpBlobStore({ client: this.#client, timeoutMs: config.storeRpcTimeoutMs, concurrency: MAX_SOCKETS });
    this.actionCache = createHttpActionCache({ client: this.#client, timeoutMs: config.cacheRpcTimeoutMs, logger: deps.logger });
  }

  /**
   * The protocol has no capabilities to ask for, so one HEAD of the empty
   * blob stands in: any 200 or 404 proves the server answers and takes our
   * credentials, and a refusal (401, 403) is found once per run rather
   * than once per process.
   */
  cache(): Promise<CacheAccess> {
    if (this.#probe === undefined) {
      const p = this.#client
        .send({ method: 'HEAD', kind: 'cas', hash: EMPTY_DIGEST.hash, timeoutMs: this.#config.cacheRpcTimeoutMs }, [200, 404])
        .then((res): CacheAccess => {
          res.discard();
          return { cas: this.cas, actionCache: this.actionCache, updateEnabled: true };
        });
      this.#probe = p;
    }
    return this.#probe;
  }

  async check(signal?: AbortSignal): Promise<void> {
    await abortable(this.cache(), signal);
  }

  endRun(): void {
    // A cache found down (or refusing us) during this run is asked again by the next one.
    this.#probe = undefined;
  }

  requestCounts(): Readonly<Record<string, number>> {
    return this.#client.counts();
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
