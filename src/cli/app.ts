import { homedir } from 'node:os';
import { createEngine, type Engine } from '../engine/index.js';
import { makeCommandRunner } from '../exec/index.js';
import { type Workspace, type FsRules } from '../fs/index.js';
import { GLOBAL, type Options } from '../options/index.js';
import { createLocalStore, damageCount, type StoreUse } from '../store/index.js';
import type { RemoteLayers, WarningSink } from '../remote/client/index.js';
import { remoteClient, remoteEnabled } from './remote-client-loader.js';
import { createTargetEnv, TargetTypeRegistry, type TargetEnv } from '../targets/index.js';
import { localStoreDirOf, type Backend, type ExecServices } from '../backends/index.js';
import { FailureError, type AbsPath, type Logger } from '../core/index.js';

/**
 * What survives between runs against one build root: the engine (the graph is
 * the only cache) and what its keys were built with. The daemon keeps one alive;
 * an in-process run makes one and drops it.
 */
export interface App {
  readonly root: string;
  readonly engine: Engine;
  readonly env: TargetEnv;
  /** The file-system rules the engine was built with; a change needs a new App. */
  readonly rulesKey: string;
  /** When this App (its graph and store memos) was made: what it knows of the store dates from then. */
  readonly createdAt: number;
  /**
   * Why the graph may name blobs the store no longer has, making the App
   * unfit for another run (undefined when it is fit): a GC removed entries
   * or is removing them, or blobs were found missing or damaged (by any run
   * in this process). The first call for a store directory records its
   * state. A fresh App re-reads the workspace and re-stores what is missing.
   */
  staleReason(storeDir: string, use: StoreUse): string | undefined;
  /**
   * The local store and the CommandRunner stack for these options, built on
   * first use (introspection goals never open the store) and kept while
   * the options they depend on stay the same, so a daemon's runs share one
   * bound on parallelism and the store's in-memory memos.
   */
  execution(options: Options, clientEnv: Readonly<Record<string, string>>, warn?: WarningSink): ExecServices;
  /** Waits for the remote cache writes a run left in the background: a run is not over before them. */
  flushRemote(): Promise<void>;
}

/** The options the store and runner stack are built from; a change rebuilds them. */
function executionKey(storeDir: string, options: Options): string {
  return JSON.stringify([
    storeDir,
    options.maybeInt(GLOBAL, 'process_execution_local_parallelism'),
    options.enum(GLOBAL, 'keep_sandboxes'),
  ]);
}

export function fsRulesFrom(options: Options): FsRules {
  return {
    buildPatterns: options.list(GLOBAL, 'build_patterns'),
    ignorePatterns: options.list(GLOBAL, 'ignore'),
    useGitignore: options.bool(GLOBAL, 'ignore_use_gitignore'),
  };
}

export function createApp(root: string, rules: FsRules, backends: readonly Backend[], logger: Logger): App {
  const types = new TargetTypeRegistry();
  for (const b of backends) for (const t of b.targetTypes) types.register(t);
  const ws: Workspace = { root: root as AbsPath, rules };
  const env = createTargetEnv(ws, types, backends.flatMap((b) => b.inferrers ?? []));
  const engine = createEngine({
    onCompute: (key) => {
      if (key.id.startsWith('build-file:')) logger.debug(`parsing ${key.id.slice('build-file:'.length)}`);
      else logger.trace(`computing ${key.id}`);
    },
  });
  let services: { key: string; value: ExecServices; local: ExecServices['store']; remote: RemoteLayers | undefined } | undefined;
  // Remote cache warnings go to the run that asked for the services last.
  let warnSink: WarningSink | undefined;
  const execution = (options: Options, clientEnv: Readonly<Record<string, string>>, warn?: WarningSink): ExecServices => {
    if (warn !== undefined) warnSink = warn;
    const storeDir = localStoreDirOf(options, root, clientEnv, clientEnv['HOME'] ?? homedir());
    const client = remoteEnabled(options) ? remoteClient() : undefined;
    const remoteConfig = client ? client.validateRemoteOptions(options) : ({ ok: true, value: null } as const);
    if (!remoteConfig.ok) throw new FailureError(remoteConfig.failure);
    const key = JSON.stringify([executionKey(storeDir, options), client ? client.remoteConfigFingerprint(remoteConfig.value) : 'remote:off']);
    if (services?.key === key) return services.value;
    const local = services?.local.dir === storeDir ? services.local : createLocalStore({ dir: storeDir, logger });
    void services?.remote?.close();
    const remote = !client || remoteConfig.value === null ? undefined : client.createRemoteLayersFromConfig(remoteConfig.value, { store: local, logger, warnings: (m) => warnSink?.(m) });
    const store = remote?.store ?? local;
    services = { key, local, remote, value: { store, runner: makeCommandRunner({ options, store, logger, ...(remote ? { remote } : {}) }) } };
    return services.value;
  };
  const flushRemote = async (): Promise<void> => {
    await services?.remote?.flush();
  };
  const createdAt = Date.now();
  const seen = new Map<string, { readonly at: number; readonly damage: number; readonly generation: string }>();
  const staleReason = (storeDir: string, use: StoreUse): string | undefined => {
    const base = seen.get(storeDir);
    if (base === undefined) {
      seen.set(storeDir, { at: Date.now(), damage: damageCount(storeDir), generation: use.gcGeneration });
      return undefined;
    }
    // A GC that started after this App first relied on the store may be removing what its memos name.
    if (use.gcRunningSince !== undefined && use.gcRunningSince >= base.at - 1000) return 'a garbage collection of the local store is running';
    if (use.gcGeneration !== base.generation) return 'a garbage collection removed entries from the local store';
    if (damageCount(storeDir) !== base.damage) return 'blobs of the local store were found missing or damaged';
    return undefined;
  };
  return { root, engine, env, rulesKey: JSON.stringify(rules), createdAt, staleReason, execution, flushRemote };
}

/** Apps by build root, reused while their file-system rules stay the same. */
export class AppCache {
  readonly #apps = new Map<string, App>();
  /** Every live App: the daemon's watcher invalidates their engines. */
  all(): App[] {
    return [...this.#apps.values()];
  }
  /** The App kept for `root`, if any, without checking it is still fit. */
  peek(root: string): App | undefined {
    return this.#apps.get(root);
  }
  /**
   * The App for `root`, fresh when the rules changed or, given the run's
   * lease on the store, when the kept one's memos may name lost blobs.
   */
  get(root: string, rules: FsRules, backends: readonly Backend[], logger: Logger, store?: { readonly dir: string; readonly use: StoreUse }): App {
    const key = JSON.stringify(rules);
    const app = this.#apps.get(root);
    const stale = app && store ? app.staleReason(store.dir, store.use) : undefined;
    if (app && app.rulesKey === key && stale === undefined) return app;
    if (stale !== undefined) logger.info(`starting from a fresh graph: ${stale}, and the graph may name blobs that are gone`);
    const fresh = createApp(root, rules, backends, logger);
    if (store) fresh.staleReason(store.dir, store.use);
    this.#apps.set(root, fresh);
    return fresh;
  }
}
