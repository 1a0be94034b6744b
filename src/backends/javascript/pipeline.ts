import { closest } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { ScopeOptionsKey } from '../api/index.js';

/** The options scope of the backend: `[javascript]` in trews.toml. */
export const JAVASCRIPT_SCOPE = 'javascript';
/** `[javascript] install_network`: whether a strictly isolated install keeps the network. */
export const INSTALL_NETWORK_OPTION = 'install_network';

/**
 * How one package.json script runs, Turborepo's `tasks` with trews' field
 * names. Every field is optional where it is written (trews.toml, a BUILD
 * file); a script's resolved task fills the rest from the defaults.
 */
export interface TaskConfig {
  /** `^build`: the `build` scripts of the package's first-party dependencies; `build`: its own; `pkg#build`: that package's. */
  readonly depends_on?: readonly string[];
  /** Globs of the files it writes, relative to the package (`dist/**`); `!` narrows. */
  readonly outputs?: readonly string[];
  /** Globs of the files it reads, relative to the package; null: the package's files minus outputs. */
  readonly inputs?: readonly string[] | null;
  /** More files it reads, added to `inputs`: relative to the package, or to the build root with `//`. */
  readonly extra_inputs?: readonly string[];
  /** Names of variables whose values join its cache key (`NODE_ENV`, `NEXT_PUBLIC_*`); no other variable reaches it. */
  readonly env?: readonly string[];
  /** Whether its result may be reused; false for scripts whose effect is not their outputs. */
  readonly cache?: boolean;
  /** A long-running process (a dev server, a watcher): never cached, run with `trews run`. */
  readonly persistent?: boolean;
  /** Seconds it may run before it is killed; null: the runner's default. */
  readonly timeout?: number | null;
  /** `strict` or `none`, over `[sandbox] isolation`; null: the package's, else the option. */
  readonly sandbox_isolation?: 'none' | 'strict' | null;
  /** Under strict isolation, keep the network. */
  readonly network?: boolean;
}

/** A script's task with every field decided, and what decided each (for messages). */
export interface ResolvedTask {
  readonly depends_on: readonly string[];
  readonly outputs: readonly string[];
  readonly inputs: readonly string[] | null;
  readonly extra_inputs: readonly string[];
  readonly env: readonly string[];
  readonly cache: boolean;
  readonly persistent: boolean;
  readonly timeout: number | null;
  readonly sandbox_isolation: 'none' | 'strict' | null;
  readonly network: boolean;
  /** field → where its value came from: `the default for \`build\``, `[javascript] tasks`, `packages/lib/BUILD:3:5`. */
  readonly origins: Readonly<Record<string, string>>;
}

export const TASK_FIELDS = ['depends_on', 'outputs', 'inputs', 'extra_inputs', 'env', 'cache', 'persistent', 'timeout', 'sandbox_isolation', 'network'] as const;
export type TaskField = (typeof TASK_FIELDS)[number];

const BASE: Omit<ResolvedTask, 'origins'> = {
  depends_on: [],
  outputs: [],
  inputs: null,
  extra_inputs: [],
  env: [],
  cache: true,
  persistent: false,
  timeout: null,
  sandbox_isolation: null,
  network: false,
};

const afterDeps: TaskConfig = { depends_on: ['^build'] };
const devServer: TaskConfig = { depends_on: ['^build'], cache: false, persistent: true };
/** `start` runs what the package built (`node dist/main.js`), so its own build comes first too. */
const startServer: TaskConfig = { ...devServer, depends_on: ['^build', 'build'] };

/**
 * Defaults by script name, so a typical repository needs no configuration
 * (README.md says why each). Other scripts take the base task: no
 * dependencies, no outputs, cached.
 */
export const DEFAULT_TASKS: Readonly<Record<string, TaskConfig>> = {
  build: { depends_on: ['^build'], outputs: ['dist/**', 'build/**', '.next/**', '!.next/cache/**'] },
  test: { depends_on: ['^build', 'build'] },
  lint: afterDeps,
  typecheck: afterDeps,
  'type-check': afterDeps,
  'check-types': afterDeps,
  dev: devServer,
  start: startServer,
  serve: devServer,
  watch: devServer,
};

/**
 * A script's task: the base, its name's default, `[javascript] tasks`, then
 * any BUILD layers, each later one replacing the fields it sets.
 */
export function resolveTask(script: string, tasks: Readonly<Record<string, TaskConfig>>, layers: readonly { config: TaskConfig; origin: string }[] = []): ResolvedTask {
  const out: Record<string, unknown> = { ...BASE };
  const origins: Record<string, string> = {};
  for (const f of TASK_FIELDS) origins[f] = 'the default';
  const apply = (c: TaskConfig | undefined, origin: string): void => {
    if (c === undefined) return;
    for (const f of TASK_FIELDS) {
      if (c[f] !== undefined) {
        out[f] = c[f];
        origins[f] = origin;
      }
    }
  };
  if (Object.hasOwn(DEFAULT_TASKS, script)) apply(DEFAULT_TASKS[script], `the default for \`${script}\``);
  if (Object.hasOwn(tasks, script)) apply(tasks[script], `\`[${JAVASCRIPT_SCOPE}] tasks\``);
  for (const l of layers) apply(l.config, l.origin);
  return { ...(out as Omit<ResolvedTask, 'origins'>), origins };
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;

/** Why `value` is not a task (`where` names it in the message, e.g. `tasks.build`), or undefined. */
export function checkTask(value: unknown, where: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `\`${where}\` must be a table of task fields (${TASK_FIELDS.join(', ')})`;
  for (const [k, v] of Object.entries(value)) {
    const at = `\`${where}.${k}\``;
    if (!(TASK_FIELDS as readonly string[]).includes(k)) {
      const guess = closest(k, TASK_FIELDS);
      return `${at} is not a task field${guess !== undefined ? ` (did you mean \`${guess}\`?)` : ''}; the fields are ${TASK_FIELDS.join(', ')}`;
    }
    const field = k as TaskField;
    const strings = Array.isArray(v) && v.every((x) => typeof x === 'string');
    switch (field) {
      case 'depends_on':
        if (!strings) return `${at} must be a list of script names (\`"^build"\`, \`"build"\`, \`"pkg#build"\`)`;
        for (const d of v as string[]) {
          if (!/^(\^|[^#\s]+#)?[^\s^#]+$/.test(d)) return `${at}: \`${d}\` is not \`script\`, \`^script\` or \`package#script\``;
        }
        break;
      case 'outputs':
      case 'extra_inputs':
        if (!strings) return `${at} must be a list of globs`;
        break;
      case 'inputs':
        if (v !== null && !strings) return `${at} must be a list of globs`;
        break;
      case 'env':
        if (!strings) return `${at} must be a list of variable names`;
        for (const n of v as string[]) if (!ENV_NAME.test(n)) return `${at}: \`${n}\` is not a variable name (letters, digits and _, optionally ending in *)`;
        break;
      case 'sandbox_isolation':
        if (v !== null && v !== 'none' && v !== 'strict') return `${at} must be "none" or "strict"`;
        break;
      case 'cache':
      case 'persistent':
      case 'network':
        if (typeof v !== 'boolean') return `${at} must be true or false`;
        break;
      case 'timeout':
        if (v !== null && !(typeof v === 'number' && Number.isInteger(v) && v > 0)) return `${at} must be a positive number of seconds`;
        break;
    }
  }
  return undefined;
}

/** Why a `tasks` dict (script name → task) is not one, or undefined. */
export function checkTasks(value: unknown, where: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `\`${where}\` must map script names to tasks`;
  for (const [script, task] of Object.entries(value)) {
    const problem = checkTask(task, `${where}.${script}`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * `[javascript] tasks` as the targets read it. A key of its own over the
 * scope's options, so the targets re-validate only when the tasks (not
 * another `[javascript]` option) change.
 */
export class JsTasksKey implements Key<Readonly<Record<string, TaskConfig>>> {
  readonly id = 'js-tasks';
  describe(): string {
    return `[${JAVASCRIPT_SCOPE}] tasks`;
  }
  async compute(ctx: ComputeContext): Promise<Readonly<Record<string, TaskConfig>>> {
    const options = await ctx.get(new ScopeOptionsKey(JAVASCRIPT_SCOPE));
    // Checked by the option's own validation when it was resolved.
    return options.dict('tasks') as Readonly<Record<string, TaskConfig>>;
  }
}
