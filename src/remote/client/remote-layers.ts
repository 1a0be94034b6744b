import { failure, FailureError, type Logger } from '../../core/index.js';
import type { CommandRunner, ExecContext, Process, ProcessResult, RemoteRunners } from '../../exec/index.js';
import type { Options } from '../../options/index.js';
import type { LocalStore } from '../../store/index.js';
import { describeError } from './describe-error.js';
import { UploadedTrees } from './ensure-uploaded.js';
import { createAwaitingStore, createFetchingStore } from './fetching-store.js';
import { createOutputFetcher, type OutputFetcher } from './output-fetcher.js';
import { loadProvider } from './load-provider.js';
import type { ByteStoreProvider, RemoteProvider } from './provider.js';
import { createRemoteCacheRunner, type RemoteCacheRunner } from './remote-cache-runner.js';
import type { RemoteConfig } from './remote-config.js';
import { validateRemoteOptions, type OptionFiles } from './validate-options.js';
import { createCacheWarner, type CacheWarner, type WarningSink } from './warnings.js';

export interface RemoteLayersDeps {
  /** The local store the runner stack uses. */
  readonly store: LocalStore;
  readonly logger: Logger;
  /** Where remote cache warnings are shown (see warnings.ts); default: the log only. */
  readonly warnings?: WarningSink;
  /** Race remote cache lookups against local execution after this many ms; default: no race. */
  readonly raceAfterMs?: number;
  readonly files?: OptionFiles;
  /** How long a remote action's output waits for others before its download goes (output-fetcher.ts); tests set it long to catch outputs still owed. */
  readonly outputFetchDelayMs?: number;
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
 *
 * The layers speak to servers through a RemoteProvider (provider.ts),
 * chosen by the scheme of `remote_store_server` and loaded on first use:
 * building the layers loads no transport.
 */
export interface RemoteLayers extends RemoteRunners {
  readonly config: RemoteConfig;
  readonly store: LocalStore;
  /** The provider for the configured servers (loading its module the first time). */
  provider(): Promise<RemoteProvider>;
  /** Asks the servers whether they can serve: an unusable one is an error now rather than mid-build (a warning for a cache only). */
  check(signal?: AbortSignal): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Requests made so far, by method; empty before the provider is loaded. */
  rpcCounts(): Readonly<Record<string, number>>;
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

/** The one factory of remote layers, for any provider: the CLI's App builds them through it. */
export function createRemoteLayersFromConfig(config: RemoteConfig, deps: RemoteLayersDeps): RemoteLayers {
  return new Layers(config, deps);
}

class Layers implements RemoteLayers {
  readonly config: RemoteConfig;
  readonly store: LocalStore;
  readonly wrapCache?: (inner: CommandRunner) => CommandRunner;
  readonly execution?: CommandRunner;
  readonly environmentExecution?: CommandRunner;
  readonly #deps: RemoteLayersDeps;
  readonly #cacheRunners = new Set<RemoteCacheRunner>();
  readonly #warner: CacheWarner;
  readonly #uploaded = new UploadedTrees();
  /** Output downloads of remote execution left for later (`fetch`): the run's end waits for them. */
  readonly #fetcher: OutputFetcher | undefined;
  #provider: Promise<RemoteProvider> | undefined;
  #loaded: RemoteProvider | undefined;

  constructor(config: RemoteConfig, deps: RemoteLayersDeps) {
    this.config = config;
    this.#deps = deps;
    this.#warner = createCacheWarner(config.warnings, deps.warnings, deps.logger);
    const remoteCas = async (): Promise<ByteStoreProvider> => (await this.provider()).cas;
    if (config.cacheContentBehavior !== 'fetch') this.store = createFetchingStore(deps.store, remoteCas, deps.logger);
    else if (config.execution || config.executionEndpoint !== null) {
      // The next action needs an output's digest, not its bytes: they come
      // in the background, and whatever reads one locally waits for it.
      this.#fetcher = createOutputFetcher({ local: deps.store, remote: remoteCas, logger: deps.logger, ...(deps.outputFetchDelayMs !== undefined ? { delayMs: deps.outputFetchDelayMs } : {}) });
      this.store = createAwaitingStore(deps.store, this.#fetcher, deps.logger);
    } else this.store = deps.store;

    if (!config.execution && config.executionEndpoint !== null) {
      // remote_execution is off, but remote environments run there.
      this.environmentExecution = new LazyExecution(async () => {
        const e = (await this.provider()).execution;
        if (e === undefined) {
          throw new FailureError(
            failure('input', 'environment-needs-reapi-store', `remote environments need a REAPI server for their inputs, and remote_store_server ${config.store.option} is not one`, {
              hints: ['point remote_store_server at a REAPI server (grpc://…), usually the same as remote_execution_server'],
            }),
          );
        }
        return e;
      });
    }
    if (config.execution) {
      // The execution server's own action cache serves and stores results
      // (Execute looks it up; the server records what it runs), so no
      // separate cache layer: it would only double the lookups.
      this.execution = new LazyExecution(async () => {
        const e = (await this.provider()).execution;
        if (e === undefined) throw new Error('bug: remote_execution is on but the provider has no execution');
        return e;
      });
    } else if (config.cacheRead || config.cacheWrite) {
      // Remote environments' processes go through it too (the remote cache
      // in front of their execution: a hit there is a hit).
      this.wrapCache = (inner) => {
        const r = createRemoteCacheRunner(inner, {
          local: this.store,
          cache: async () => (await this.provider()).cache(),
          read: config.cacheRead,
          write: config.cacheWrite,
          contentBehavior: config.cacheContentBehavior,
          warner: this.#warner,
          uploaded: this.#uploaded,
          ...(deps.raceAfterMs !== undefined ? { raceAfterMs: deps.raceAfterMs } : {}),
        });
        this.#cacheRunners.add(r);
        return r;
      };
    }
  }

  provider(): Promise<RemoteProvider> {
    if (this.#provider === undefined) {
      const d = this.#deps;
      const p = loadProvider(this.config, {
        local: this.store,
        logger: d.logger,
        ...(d.warnings !== undefined ? { warnings: d.warnings } : {}),
        uploaded: this.#uploaded,
        ...(this.#fetcher !== undefined ? { fetcher: this.#fetcher } : {}),
      });
      this.#provider = p;
      p.then(
        (loaded) => (this.#loaded = loaded),
        () => {
          if (this.#provider === p) this.#provider = undefined;
        },
      );
    }
    return this.#provider;
  }

  /**
   * With remote execution, an unusable server throws (the build cannot go
   * on). For a cache only, it is a warning: the build runs locally.
   */
  async check(signal?: AbortSignal): Promise<void> {
    const provider = await this.provider();
    if (this.execution !== undefined) return provider.check(signal);
    try {
      await provider.check(signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      this.#warner.warn(`${describeError(e)}; running without it`);
    }
  }

  /**
   * The end of a run: waits for background output downloads and cache
   * writes, and forgets which trees were seen uploaded (the server may
   * evict before the next run) and whether the cache was down. Throws the
   * failure of an output download: the run has not got its outputs.
   */
  async flush(): Promise<void> {
    let failed: { readonly e: unknown } | undefined;
    try {
      await this.#fetcher?.drain();
    } catch (e) {
      failed = { e };
    }
    await Promise.all([...this.#cacheRunners].map((r) => r.flush()));
    this.#uploaded.clear();
    this.#loaded?.endRun();
    if (failed !== undefined) throw failed.e;
  }

  async close(): Promise<void> {
    // A run's flush has reported any failed download; closing only waits for the rest.
    await this.flush().catch((e: unknown) => this.#deps.logger.debug(`remote: closing: ${describeError(e)}`));
    const p = this.#provider;
    if (p !== undefined) await (await p.catch(() => undefined))?.close();
  }

  rpcCounts(): Readonly<Record<string, number>> {
    return this.#loaded?.requestCounts() ?? {};
  }
}

/**
 * The provider's execution runner, which exists only once the provider is
 * loaded; the runner stack is built before that, synchronously.
 */
class LazyExecution implements CommandRunner {
  readonly #get: () => Promise<CommandRunner>;

  constructor(get: () => Promise<CommandRunner>) {
    this.#get = get;
  }

  async run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    return (await this.#get()).run(ctx, proc);
  }
}
