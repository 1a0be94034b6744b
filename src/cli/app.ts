import { homedir } from 'node:os';
import { createEngine, type Engine } from '../engine/index.js';
import { makeCommandRunner } from '../exec/index.js';
import { DEFAULT_TEXT_FILE_MAX_BYTES, type Workspace, type FsRules } from '../fs/index.js';
import { GLOBAL, parseByteSize, type Options } from '../options/index.js';
import { createLocalStore } from '../store/index.js';
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
    textFileMaxBytes: parseByteSize(options.string(GLOBAL, 'build_file_max_size')) ?? DEFAULT_TEXT_FILE_MAX_BYTES,
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
  return { root, engine, env, rulesKey: JSON.stringify(rules), execution, flushRemote };
}

/** Apps by build root, reused while their file-system rules stay the same. */
export class AppCache {
  readonly #apps = new Map<string, App>();
  /** Every live App: the daemon's watcher invalidates their engines. */
  all(): App[] {
    return [...this.#apps.values()];
  }
  get(root: string, rules: FsRules, backends: readonly Backend[], logger: Logger): App {
    const key = JSON.stringify(rules);
    const app = this.#apps.get(root);
    if (app && app.rulesKey === key) return app;
    const fresh = createApp(root, rules, backends, logger);
    this.#apps.set(root, fresh);
    return fresh;
  }
}
