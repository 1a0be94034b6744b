import { createEngine, createKeyRebuilders, type Engine, type KeyRebuilders } from '../engine/index.js';
import { makeCommandRunner } from '../exec/index.js';
import { join } from 'node:path';
import { DEFAULT_TEXT_FILE_MAX_BYTES, fsKeyRebuilders, openFileDigestIndex, openStatIndex, workDirOf, type FileDigestIndex, type StatIndex, type Workspace, type FsRules } from '../fs/index.js';
import { GLOBAL, SANDBOX_SCOPE, parseByteSize, type Options } from '../options/index.js';
import { createLocalStore, damageCount, sweepStoreMemos, type BlobStore, type LocalStore, type MemoSweep, type StoreUse } from '../store/index.js';
import type { RemoteConfig, RemoteLayers } from '../remote/client/index.js';
import { remoteClient } from './remote-client-loader.js';
import { createProject, TargetTypeRegistry, type Project } from '../targets/index.js';
import { RuleRegistry, ruleKeyRebuilders, type Backend, type RuleEnv } from '../backends/index.js';
import type { ExecServices } from '../runtime/index.js';
import type { AbsPath, Logger } from '../core/index.js';
import type { GraphFile } from './graph-file.js';

/**
 * What survives between runs against one build root: the engine (the graph is
 * the only cache), what its keys were built with, and the local store their
 * digests refer to. The daemon keeps one alive; an in-process run makes one
 * and drops it.
 */
export interface App {
  readonly root: string;
  readonly engine: Engine;
  readonly project: Project;
  readonly renv: RuleEnv;
  /** What the App was built for (file-system rules, store directory); another needs a new App. */
  readonly identity: string;
  /** When this App (its graph and store memos) was made: what it knows of the store dates from then. */
  readonly createdAt: number;
  /**
   * How the keys that compute on their own (file-system keys, inputs,
   * transient keys) come back from their id in a kept graph
   * (Engine.importGraph), for a run with these options: each layer's
   * rebuilders (fs, backends/api, every backend's), by id kind.
   */
  keyRebuilders(options: Options): KeyRebuilders;
  /**
   * Why the graph may name blobs the store no longer has, making the App
   * unfit for another run (undefined when it is fit): a GC removed entries
   * or is removing them, or blobs were found missing or damaged (by any run
   * in this process). The first call records the store's state. A fresh App
   * re-reads the workspace and re-stores what is missing.
   */
  staleReason(use: StoreUse): string | undefined;
  /**
   * The runner stack for these options over the App's store, built on first
   * use (introspection goals never open the store) and kept while the
   * options it depends on stay the same, so a daemon's runs share one bound
   * on parallelism and the store's in-memory memos. `remote` is the run's
   * remote configuration, validated once by the run.
   */
  execution(options: Options, remote: RemoteConfig | null): ExecServices;
  /** Waits for the remote cache writes a run left in the background: a run is not over before them. */
  flushRemote(): Promise<void>;
  /**
   * Writes the build root's persisted indexes if the run added to them (none
   * without a build root): the file digests (fs) and the store blobs verified (store).
   */
  saveIndexes(): void;
  /**
   * A run is over: in a daemon's App (one with a bound), the store's
   * in-memory memos forget what none of the last `daemon_graph_idle_runs`
   * runs used, as the graph does (store/memo-sweep.ts). Undefined when
   * nothing was swept: a one-run App, a run that never opened the store,
   * or a run between the sweeps (every eighth of the window, as the graph).
   */
  sweepMemos(signal?: AbortSignal): Promise<MemoSweep | undefined>;
}

/** The options the runner stack is built from; a change rebuilds it. */
function executionKey(options: Options, remote: RemoteConfig | null): string {
  return JSON.stringify([
    options.maybeInt(GLOBAL, 'process_execution_local_parallelism'),
    options.enum(GLOBAL, 'keep_sandboxes'),
    options.registry.options(SANDBOX_SCOPE).some((s) => s.name === 'explain') && options.bool(SANDBOX_SCOPE, 'explain'),
    remote === null ? 'remote:off' : remoteClient().remoteConfigFingerprint(remote),
  ]);
}

export function fsRulesFrom(options: Options): FsRules {
  return {
    buildPatterns: options.list(GLOBAL, 'build_patterns'),
    ignorePatterns: options.list(GLOBAL, 'ignore'),
    useGitignore: options.bool(GLOBAL, 'ignore_use_gitignore'),
    textFileMaxBytes: parseByteSize(options.string(GLOBAL, 'build_file_max_size')) ?? DEFAULT_TEXT_FILE_MAX_BYTES,
  };
}

/** How far a daemon's graph may grow: the engine's eviction settings, from `daemon_graph_*`. */
export interface GraphBound {
  readonly evictAfterIdleRuns: number;
  readonly maxNodes: number;
}

export function graphBoundFrom(options: Options): GraphBound {
  return { evictAfterIdleRuns: options.int(GLOBAL, 'daemon_graph_idle_runs'), maxNodes: options.int(GLOBAL, 'daemon_graph_max_nodes') };
}

/** `.trews.d/store-verified`: the local store's blobs this build root's runs verified, for the next process. */
export const STORE_VERIFIED_FILE = 'store-verified';

function appIdentity(rules: FsRules, storeDir: string): string {
  return JSON.stringify([rules, storeDir]);
}

/**
 * `bound` is for a daemon's long-lived graph; a one-run App has none.
 * `inBuildRoot`: `root` is a build root, whose `.trews.d` keeps the file digest index.
 */
export function createApp(root: string, rules: FsRules, storeDir: string, backends: readonly Backend[], logger: Logger, bound?: GraphBound, inBuildRoot = false): App {
  const types = new TargetTypeRegistry();
  for (const b of backends) for (const { type } of b.targets) types.register(type);
  const digestIndex: FileDigestIndex | undefined = inBuildRoot ? openFileDigestIndex(root, { logger }) : undefined;
  const verifiedIndex: StatIndex | undefined = inBuildRoot ? openStatIndex(join(workDirOf(root), STORE_VERIFIED_FILE), storeDir, 'store-verified', { logger }) : undefined;
  const ws: Workspace = { root: root as AbsPath, rules, ...(digestIndex ? { digestIndex } : {}) };
  const project = createProject(
    ws,
    types,
    backends.flatMap((b) => b.inferrers ?? []),
    backends.flatMap((b) => b.syntheticTargets ?? []),
  );
  const renv: RuleEnv = { project, rules: new RuleRegistry(backends) };
  const engine = createEngine({
    ...bound,
    onCompute: (key) => {
      if (key.id.startsWith('build-file:')) logger.debug(`parsing ${key.id.slice('build-file:'.length)}`);
      else if (key.id.startsWith('js-file-imports:')) logger.debug(`reading imports of ${key.id.slice('js-file-imports:'.length)}`);
      else logger.trace(`computing ${key.id}`);
    },
  });
  let local: LocalStore | undefined;
  let services: { key: string; value: ExecServices; remote: RemoteLayers | undefined } | undefined;
  const execution = (options: Options, remoteConfig: RemoteConfig | null): ExecServices => {
    const key = executionKey(options, remoteConfig);
    if (services?.key === key) return services.value;
    local ??= createLocalStore({ dir: storeDir, logger, ...(verifiedIndex ? { verifiedIndex } : {}) });
    void services?.remote?.close();
    // Warnings go to the run whose request raised them (ExecContext.warn), not to the layers.
    const remote = remoteConfig === null ? undefined : remoteClient().createRemoteLayersFromConfig(remoteConfig, { store: local, logger });
    const store = remote?.store ?? local;
    services = { key, remote, value: { store, runner: makeCommandRunner({ options, store, logger, ...(remote ? { remote } : {}) }) } };
    return services.value;
  };
  const flushRemote = async (): Promise<void> => {
    await services?.remote?.flush();
  };
  const createdAt = Date.now();
  const keyRebuilders = (options: Options): KeyRebuilders => createKeyRebuilders([...fsKeyRebuilders(ws), ...ruleKeyRebuilders(backends, { renv, options })]);
  let seen: { readonly at: number; readonly damage: number; readonly generation: string } | undefined;
  const staleReason = (use: StoreUse): string | undefined => {
    if (seen === undefined) {
      seen = { at: Date.now(), damage: damageCount(storeDir), generation: use.gcGeneration };
      return undefined;
    }
    // A GC that started after this App first relied on the store may be removing what its memos name.
    if (use.gcRunningSince !== undefined && use.gcRunningSince >= seen.at - 1000) return 'a garbage collection of the local store is running';
    if (use.gcGeneration !== seen.generation) return 'a garbage collection removed entries from the local store';
    if (damageCount(storeDir) !== seen.damage) return 'blobs of the local store were found missing or damaged';
    return undefined;
  };
  const saveIndexes = (): void => {
    digestIndex?.save();
    verifiedIndex?.save();
  };
  const idleRuns = bound?.evictAfterIdleRuns ?? 0;
  let runsEnded = 0;
  let sweptAt = 0;
  const sweepMemos = async (signal?: AbortSignal): Promise<MemoSweep | undefined> => {
    if (idleRuns <= 0 || local === undefined) return undefined;
    runsEnded++;
    // Every run ends a period (what it used is stamped with it); the sweep
    // itself, like the graph's, comes every eighth of the window.
    const due = runsEnded - sweptAt >= Math.max(1, Math.floor(idleRuns / 8));
    const window = due ? idleRuns : 0;
    if (due) sweptAt = runsEnded;
    const verified = local.forgetIdle(window);
    const front = services?.value.store;
    let sweep = await sweepStoreMemos(local, window, signal);
    if (front !== undefined && front !== local) {
      const f = await sweepStoreMemos(front, window, signal);
      sweep = { forgotten: sweep.forgotten + f.forgotten, flushed: sweep.flushed + f.flushed, sizes: sweep.sizes };
    }
    return due ? { ...sweep, forgotten: sweep.forgotten + verified } : undefined;
  };
  return { root, engine, project, renv, identity: appIdentity(rules, storeDir), createdAt, keyRebuilders, staleReason, execution, flushRemote, saveIndexes, sweepMemos };
}

/**
 * How an AppCache's Apps use `.trews.d/graph` (graph-file.ts): each App's
 * first run starts from it; `code` is the running code's identity
 * (code-identity.ts), which the file must have been made by.
 */
export interface KeptGraphs {
  readonly code: string | undefined;
  /**
   * Without a daemon every run that changed the graph writes it. A daemon
   * writes it as it stops (AppCache.saveGraphs): one write of a long-lived
   * graph, not one per run.
   */
  readonly saveAfterEachRun: boolean;
}

/** A daemon's App's kept graph: loaded (or not) at its first run, saved as the daemon stops. */
interface KeptGraph {
  readonly file: GraphFile;
  /** Settles once the first run's load is over: a concurrent first run waits for it. */
  readonly loading: Promise<boolean>;
  /** The store the App's last run staged trees in, which the save writes out first. */
  blobs: BlobStore | undefined;
}

/** Apps by build root, reused while what they were built for stays the same. */
export class AppCache {
  readonly #apps = new Map<string, App>();
  readonly #bound: GraphBound | undefined;
  /** Set when Apps start from, and keep, `.trews.d/graph`. */
  readonly keptGraphs: KeptGraphs | undefined;
  readonly #kept = new Map<App, KeptGraph>();

  /** `bound`: the daemon's; `daemon_graph_*` are daemon options, so one value serves its whole life. */
  constructor(bound?: GraphBound, o: { readonly keptGraphs?: KeptGraphs } = {}) {
    this.#bound = bound;
    this.keptGraphs = o.keptGraphs;
  }

  /** The kept graph of a daemon's App, once its first run started loading it. */
  keptGraphOf(app: App): KeptGraph | undefined {
    return this.#kept.get(app);
  }

  /** A daemon's App's first run is loading its kept graph with `file`: later runs wait for `loading`, and the daemon saves it as it stops. */
  keepGraph(app: App, file: GraphFile, loading: Promise<boolean>): void {
    this.#kept.set(app, { file, loading, blobs: undefined });
  }

  /**
   * A daemon stops: writes the graph of each App still in use. `cutoffMs`:
   * the moment the watcher's last sync began; what it delivered has been
   * queued on the engines, and the export applies it (Engine.exportGraph).
   */
  async saveGraphs(cutoffMs: number): Promise<void> {
    for (const [app, kept] of this.#kept) {
      if (this.#apps.get(app.root) !== app) continue;
      await kept.file.save(await kept.loading, kept.blobs, cutoffMs);
    }
  }

  /** Every live App: the daemon's watcher invalidates their engines. */
  all(): App[] {
    return [...this.#apps.values()];
  }
  /** The App kept for `root`, if any, without checking it is still fit. */
  peek(root: string): App | undefined {
    return this.#apps.get(root);
  }
  /**
   * The App for `root`, fresh when what it was built for changed or, given
   * the run's lease on the store, when the kept one's memos may name lost blobs.
   */
  get(root: string, rules: FsRules, storeDir: string, backends: readonly Backend[], logger: Logger, use?: StoreUse): App {
    const app = this.#apps.get(root);
    const fit = app !== undefined && app.identity === appIdentity(rules, storeDir);
    const stale = fit && use ? app.staleReason(use) : undefined;
    if (fit && stale === undefined) return app;
    if (stale !== undefined) logger.info(`starting from a fresh graph: ${stale}, and the graph may name blobs that are gone`);
    if (app !== undefined) this.#kept.delete(app);
    const fresh = createApp(root, rules, storeDir, backends, logger, this.#bound, true);
    if (use) fresh.staleReason(use);
    this.#apps.set(root, fresh);
    return fresh;
  }
}
