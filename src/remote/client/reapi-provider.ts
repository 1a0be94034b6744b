import type { CommandRunner } from '../../exec/index.js';
import { capabilitiesFailure, checkCapabilities, fetchCapabilities, type RemoteCapabilities } from './capabilities.js';
import { createChannelPool, type ChannelPool, type RemoteEndpoint, type RpcCounts } from './channel.js';
import type { ProviderDeps } from './load-provider.js';
import type { CacheAccess, RemoteProvider } from './provider.js';
import { createRemoteActionCache, type RemoteActionCache } from './remote-action-cache.js';
import { createRemoteBlobStore, type RemoteBlobStore } from './remote-blob-store.js';
import type { RemoteConfig } from './remote-config.js';
import { createRemoteExecutionRunner } from './remote-execution-runner.js';
import type { RetryPolicy } from './retry.js';
import { abortable } from './signals.js';

/** The REAPI provider: a CAS, an action cache and remote execution over gRPC. */
export interface ReapiProvider extends RemoteProvider {
  readonly protocol: 'reapi';
  readonly cas: RemoteBlobStore;
  readonly actionCache: RemoteActionCache;
  requestCounts(): RpcCounts;
}

/**
 * The provider for `grpc://`, `grpcs://` and scheme-less addresses. This
 * module is the one that loads @grpc/grpc-js (load-provider.ts imports it
 * only for such addresses).
 */
export function createReapiProvider(config: RemoteConfig, deps: ProviderDeps): ReapiProvider {
  return new Reapi(config, deps);
}

class Reapi implements ReapiProvider {
  readonly protocol = 'reapi';
  readonly cas: RemoteBlobStore;
  readonly actionCache: RemoteActionCache;
  readonly execution?: CommandRunner;
  readonly #config: RemoteConfig;
  readonly #pool: ChannelPool = createChannelPool();
  readonly #storeEndpoint: RemoteEndpoint;
  readonly #execEndpoint: RemoteEndpoint | undefined;
  #storeCaps: Promise<RemoteCapabilities> | undefined;
  #execCaps: Promise<RemoteCapabilities> | undefined;

  constructor(config: RemoteConfig, deps: ProviderDeps) {
    this.#config = config;
    this.#storeEndpoint = this.#pool.endpoint(config.store, config.instanceName);
    this.#execEndpoint = config.executionEndpoint === null ? undefined : this.#pool.endpoint(config.executionEndpoint, config.instanceName);
    // Store RPCs: the option's retries, with backoff long enough to ride out a server restart.
    const storeRetry: RetryPolicy = { maxRetries: config.storeRpcRetries, baseDelayMs: 200, maxDelayMs: 5000 };
    this.cas = createRemoteBlobStore({
      endpoint: this.#storeEndpoint,
      capabilities: () => this.#storeCapabilities(),
      chunkBytes: config.chunkBytes,
      batchApiSizeLimit: config.batchApiSizeLimit,
      retry: storeRetry,
      timeoutMs: config.storeRpcTimeoutMs,
    });
    this.actionCache = createRemoteActionCache({ endpoint: this.#storeEndpoint, timeoutMs: config.cacheRpcTimeoutMs, retry: storeRetry, logger: deps.logger });
    // With remote_execution off, an execution endpoint serves the processes of remote environments only.
    if (this.#execEndpoint !== undefined) {
      this.execution = createRemoteExecutionRunner({
        local: deps.local,
        cas: this.cas,
        execution: this.#execEndpoint,
        capabilities: async () => ({ store: await this.#storeCapabilities(), execution: await this.#executionCapabilities() }),
        parallelism: config.remoteParallelism,
        overallDeadlineMs: config.overallDeadlineMs,
        contentBehavior: config.cacheContentBehavior,
        extraPlatformProperties: config.extraPlatformProperties,
        queueWarnAfterMs: config.queueWarnAfterMs,
        ...(deps.warnings !== undefined ? { warnings: deps.warnings } : {}),
        uploaded: deps.uploaded,
        ...(deps.fetcher !== undefined ? { fetcher: deps.fetcher } : {}),
        logger: deps.logger,
      });
    }
  }

  async cache(): Promise<CacheAccess> {
    const caps = await this.#storeCapabilities();
    return { cas: this.cas, actionCache: this.actionCache, updateEnabled: caps.actionCacheUpdateEnabled };
  }

  async check(signal?: AbortSignal): Promise<void> {
    await abortable(this.#storeCapabilities(), signal);
    if (this.#config.execution) await abortable(this.#executionCapabilities(), signal);
  }

  endRun(): void {
    // A cache found down during this run is asked again by the next one.
    if (!this.#config.execution) this.#storeCaps = undefined;
    // The server may evict or restart between runs: the next one learns afresh.
    this.cas.presence.clear();
  }

  requestCounts(): RpcCounts {
    return this.#pool.rpcCounts();
  }

  async close(): Promise<void> {
    this.#pool.close();
  }

  #storeCapabilities(): Promise<RemoteCapabilities> {
    this.#storeCaps ??= this.#capabilities(this.#storeEndpoint, { cache: true, execution: false });
    return this.#storeCaps;
  }

  #executionCapabilities(): Promise<RemoteCapabilities> {
    const ep = this.#execEndpoint;
    if (ep === undefined) return this.#storeCapabilities();
    this.#execCaps ??= this.#capabilities(ep, { cache: false, execution: true });
    return this.#execCaps;
  }

  #capabilities(ep: RemoteEndpoint, needs: { cache: boolean; execution: boolean }): Promise<RemoteCapabilities> {
    // A cache-only run asks within the cache's own (short) timeout: a hanging
    // cache server must not hold up the first lookups longer than a miss would.
    const timeoutMs = !this.#config.execution && !needs.execution ? this.#config.cacheRpcTimeoutMs : this.#config.storeRpcTimeoutMs;
    const p = fetchCapabilities(ep, { timeoutMs }).then(
      (caps) => checkCapabilities(caps, ep, needs),
      (e: unknown) => {
        throw capabilitiesFailure(e, ep);
      },
    );
    // A failure is remembered only for a cache-only run (until endRun): one
    // dead cache server must not cost every process of the build its own
    // timeouts. Remote execution cannot go on without the server, so it
    // asks again (the server may be restarting).
    p.catch(() => {
      if (!this.#config.execution && !needs.execution) return;
      if (needs.execution) this.#execCaps = undefined;
      else this.#storeCaps = undefined;
    });
    return p;
  }
}
