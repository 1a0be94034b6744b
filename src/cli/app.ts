import { createEngine, type Engine } from '../engine/index.js';
import { type Workspace, type FsRules } from '../fs/index.js';
import { GLOBAL, type Options } from '../options/index.js';
import { createTargetEnv, TargetTypeRegistry, type TargetEnv } from '../targets/index.js';
import type { Backend } from '../backends/index.js';
import type { AbsPath, Logger } from '../core/index.js';

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
  return { root, engine, env, rulesKey: JSON.stringify(rules) };
}

/** Apps by build root, reused while their file-system rules stay the same. */
export class AppCache {
  readonly #apps = new Map<string, App>();
  get(root: string, rules: FsRules, backends: readonly Backend[], logger: Logger): App {
    const key = JSON.stringify(rules);
    const app = this.#apps.get(root);
    if (app && app.rulesKey === key) return app;
    const fresh = createApp(root, rules, backends, logger);
    this.#apps.set(root, fresh);
    return fresh;
  }
}
