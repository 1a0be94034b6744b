import { FailureError, type Logger } from '../../core/index.js';
import type { CommandRunner, RemoteRunners } from '../../exec/index.js';
import type { Options } from '../../options/index.js';
import type { LocalStore } from '../../store/index.js';
import { capabilitiesFailure, checkCapabilities, fetchCapabilities, type RemoteCapabilities } from './capabilities.js';
import { createChannelPool, type ChannelPool, type RemoteEndpoint, type RpcCounts } from './channel.js';
import { UploadedTrees } from './ensure-uploaded.js';
import { createFetchingStore } from './fetching-store.js';
import { createRemoteActionCache, type RemoteActionCache } from './remote-action-cache.js';
import { createRemoteBlobStore, type RemoteBlobStore } from './remote-blob-store.js';
import { createRemoteCacheRunner, type RemoteCacheRunner } from './remote-cache-runner.js';
import type { RemoteConfig } from './remote-config.js';
import { createRemoteExecutionRunner } from './remote-execution-runner.js';
import type { RetryPolicy } from './retry.js';
import { validateRemoteOptions, type OptionFiles } from './validate-options.js';
import { describeError } from './describe-error.js';
import { abortable } from './signals.js';
import { createCacheWarner, type CacheWarner, type WarningSink } from './warnings.js';

export interface RemoteLayersDeps {
  /** The local store the runner stack uses. */
  readonly store: LocalStore;
  readonly logger: Logger;
  /** Where remote cache warnings are shown (see warnings.ts); default: the log only. */
  readonly warnings?: WarningSink;
  /** Channels to reuse (a daemon keeps one pool for its lifetime); default: a pool of our own, closed by close(). */
  readonly pool?: ChannelPool;
  /** Race remote cache lookups against local execution after this many ms; default: no race. */
  readonly raceAfterMs?: number;
  readonly files?: OptionFiles;
}

/**
 * The remote seam for makeCommandRunner (`wrapCache` and/or `execution`),
 * plus what the owner of a run needs around it:
 *
 *   const remote = createRemoteLayers(options, { store, logger, warnings });
 *   const runner = makeCommandRunner({ options, store: remote?.store ?? store, logger, remote });
 *   try { …the run… } finally { await remote?.flush(); await remote?.close(); }
 *
 * `store` is the local store with deferred blobs fetched on use (itself when
 * cache_content_behavior is `fetch`). `flush()` waits for background cache
 * writes; a run is not over before them.
 */
export interface RemoteLayers extends RemoteRunners {
  readonly config: RemoteConfig;
  readonly store: LocalStore;
  readonly cas: RemoteBlobStore;
  readonly actionCache: RemoteActionCache;
  /** Asks both servers for their capabilities and checks them: an unusable server is an error now rather than mid-build. */
  check(signal?: AbortSignal): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** RPCs made so far, by method (over the whole pool when it is shared). */
  rpcCounts(): RpcCounts;
}

/**
 * Builds the remote layers from options; undefined when nothing remote is
 * on. Throws the FailureError validateRemoteOptions would return (run it
 * first, before any work, to report it as early as possible).
 */
export function createRemoteLayers(options: Options, deps: RemoteLayersDeps): RemoteLayers | undefined {
  const config = validateRemoteOptions(options, deps.files);
  if (!config.ok) throw new FailureError(config.failure);
  return config.value === null ? undefined : createRemoteLayersFromConfig(config.value, deps);
}

export function createRemoteLayersFromConfig(config: RemoteConfig, deps: RemoteLayersDeps): RemoteLayers {
  return new Layers(config, deps);
}

class Layers implements RemoteLayers {
  readonly config: RemoteConfig;
  readonly store: LocalStore;
  readonly cas: RemoteBlobStore;
  readonly actionCache: RemoteActionCache;
  readonly wrapCache?: (inner: CommandRunner) => CommandRunner;
  readonly execution?: CommandRunner;
  readonly #pool: ChannelPool;
  readonly #ownsPool: boolean;
  readonly #storeEndpoint: RemoteEndpoint;
  readonly #execEndpoint: RemoteEndpoint | undefined;
  readonly #cacheRunners = new Set<RemoteCacheRunner>();
  readonly #warner: CacheWarner;
  readonly #uploaded = new UploadedTrees();
  #storeCaps: Promise<RemoteCapabilities> | undefined;
  #execCaps: Promise<RemoteCapabilities> | undefined;

  constructor(config: RemoteConfig, deps: RemoteLayersDeps) {
    this.config = config;
    this.#ownsPool = deps.pool === undefined;
    this.#pool = deps.pool ?? createChannelPool();
    this.#storeEndpoint = this.#pool.endpoint(config.store, config.instanceName);
    this.#execEndpoint = config.executionEndpoint === null ? undefined : this.#pool.endpoint(config.executionEndpoint, config.instanceName);
    // Store RPCs: the option's retries, with backoff long enough to ride out a server restart.
    const storeRetry: RetryPolicy = { maxRetries: config.storeRpcRetries, baseDelayMs: 200, maxDelayMs: 5000 };
    const uploaded = this.#uploaded;
    this.#warner = createCacheWarner(config.warnings, deps.warnings, deps.logger);

    this.cas = createRemoteBlobStore({
      endpoint: this.#storeEndpoint,
      capabilities: () => this.#storeCapabilities(),
      chunkBytes: config.chunkBytes,
      batchApiSizeLimit: config.batchApiSizeLimit,
      retry: storeRetry,
      timeoutMs: config.storeRpcTimeoutMs,
    });
    this.actionCache = createRemoteActionCache({ endpoint: this.#storeEndpoint, timeoutMs: config.cacheRpcTimeoutMs, retry: storeRetry, logger: deps.logger });
    this.store = config.cacheContentBehavior === 'fetch' ? deps.store : createFetchingStore(deps.store, this.cas, deps.logger);

    if (config.execution && this.#execEndpoint !== undefined) {
      // The execution server's own action cache serves and stores results
      // (Execute looks it up; the server records what it runs), so no
      // separate cache layer: it would only double the lookups.
      this.execution = createRemoteExecutionRunner({
        local: this.store,
        cas: this.cas,
        execution: this.#execEndpoint,
        capabilities: async () => ({ store: await this.#storeCapabilities(), execution: await this.#executionCapabilities() }),
        parallelism: config.remoteParallelism,
        overallDeadlineMs: config.overallDeadlineMs,
        contentBehavior: config.cacheContentBehavior,
        extraPlatformProperties: config.extraPlatformProperties,
        queueWarnAfterMs: config.queueWarnAfterMs,
        ...(deps.warnings !== undefined ? { warnings: deps.warnings } : {}),
        uploaded,
        logger: deps.logger,
      });
    } else if (config.cacheRead || config.cacheWrite) {
      const warner = this.#warner;
      this.wrapCache = (inner) => {
        const r = createRemoteCacheRunner(inner, {
          local: this.store,
          cas: this.cas,
          actionCache: this.actionCache,
          read: config.cacheRead,
          write: config.cacheWrite,
          contentBehavior: config.cacheContentBehavior,
          warner,
          capabilities: () => this.#storeCapabilities(),
          uploaded,
          ...(deps.raceAfterMs !== undefined ? { raceAfterMs: deps.raceAfterMs } : {}),
        });
        this.#cacheRunners.add(r);
        return r;
      };
    }
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
    const timeoutMs = this.execution === undefined ? this.config.cacheRpcTimeoutMs : this.config.storeRpcTimeoutMs;
    const p = fetchCapabilities(ep, { timeoutMs }).then(
      (caps) => checkCapabilities(caps, ep, needs),
      (e: unknown) => {
        throw capabilitiesFailure(e, ep);
      },
    );
    // A failure is remembered only for a cache-only run: one dead cache
    // server must not cost every process of the build its own timeouts.
    // Remote execution cannot go on without the server, so it asks again
    // (the server may be restarting).
    p.catch(() => {
      if (this.execution === undefined) return;
      if (needs.execution) this.#execCaps = undefined;
      else this.#storeCaps = undefined;
    });
    return p;
  }

  /**
   * With remote execution, an unusable server throws (the build cannot go
   * on). For a cache only, it is a warning: the build runs locally.
   */
  async check(signal?: AbortSignal): Promise<void> {
    const wait = <T>(p: Promise<T>): Promise<T> => abortable(p, signal);
    if (this.execution !== undefined) {
      await wait(this.#storeCapabilities());
      await wait(this.#executionCapabilities());
      return;
    }
    try {
      await wait(this.#storeCapabilities());
    } catch (e) {
      if (signal?.aborted) throw e;
      this.#warner.warn(`${describeError(e)}; running without it`);
    }
  }

  /**
   * The end of a run: waits for background cache writes, and forgets which
   * trees were seen uploaded (the server may evict before the next run).
   */
  async flush(): Promise<void> {
    await Promise.all([...this.#cacheRunners].map((r) => r.flush()));
    this.#uploaded.clear();
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.#ownsPool) this.#pool.close();
  }

  rpcCounts(): RpcCounts {
    return this.#pool.rpcCounts();
  }
}
