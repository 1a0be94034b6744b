import { dirname, join } from 'node:path';
import { readFile, realpath } from 'node:fs/promises';
import { failure, FailureError, type Location } from '../../core/index.js';
import type { Key, KeyRebuilder } from '../../engine/index.js';
import type { OptionRegistry } from '../../options/index.js';
import { lookupTool, PATH_TOKEN, type RuleContext, type Tool, type ToolSearch } from '../api/index.js';
import type { PackageManager, PackageManagerName } from './workspace.js';

/**
 * `[nodejs]`: the runtime side of the workspace, as Pants names it — where
 * node, the package manager and the programs scripts call are found.
 */
export const NODEJS_SCOPE = 'nodejs';
export const NODEJS_SEARCH: ToolSearch = { scope: NODEJS_SCOPE, option: 'search_path' };

/** Programs scripts commonly call besides node (`rm -rf dist && tsc`), put on their PATH when the machine has them. */
const DEFAULT_TOOLS = [
  'basename', 'cat', 'chmod', 'cp', 'date', 'dirname', 'echo', 'env', 'false', 'find', 'grep', 'head', 'ln', 'ls', 'mkdir', 'mv',
  'printf', 'rm', 'sed', 'sleep', 'sort', 'tail', 'tee', 'test', 'touch', 'tr', 'true', 'uname', 'wc', 'xargs',
];

export function registerNodejsOptions(registry: OptionRegistry): void {
  registry.registerScope({ name: NODEJS_SCOPE, help: 'The Node.js runtime of the JavaScript workspace: where node, the package manager and the programs scripts call are found.', isGoal: false });
  registry.register({
    scope: NODEJS_SCOPE,
    name: 'search_path',
    type: 'list',
    default: [PATH_TOKEN],
    help: `Absolute directories where node, sh, the package manager (npm, pnpm, yarn) and \`tools\` are looked up, in order. \`${PATH_TOKEN}\` stands for the PATH of the trews client.`,
  });
  registry.register({
    scope: NODEJS_SCOPE,
    name: 'tools',
    type: 'list',
    default: DEFAULT_TOOLS,
    help: 'Programs put on the PATH of scripts (besides node, sh, the package manager and node_modules/.bin), when found on `search_path`; a missing one is left out. Each is part of the cache key by its content digest.',
  });
}

/** node, which runs every script and the install. */
export async function nodeTool(rc: RuleContext, why: string, at: Location | undefined): Promise<Tool> {
  return (await lookupTool(rc, 'node', NODEJS_SEARCH, why, at))!;
}

/** sh, which runs every script (as npm runs them). */
export async function shTool(rc: RuleContext, why: string, at: Location | undefined): Promise<Tool> {
  return (await lookupTool(rc, 'sh', NODEJS_SEARCH, why, at))!;
}

/** The `[nodejs] tools` found on the search path. */
export async function extraTools(rc: RuleContext): Promise<Tool[]> {
  const names = (await rc.options(NODEJS_SCOPE)).list('tools');
  const found = await Promise.all(names.map((n) => lookupTool(rc, n, NODEJS_SEARCH, 'in `[nodejs] tools`', undefined, true)));
  return found.filter((t): t is Tool => t !== undefined);
}

/** A package manager found on the machine, and its version (from its own package.json). */
export interface PackageManagerTool {
  readonly tool: Tool;
  readonly name: PackageManagerName;
  readonly version: string;
  /**
   * The directory of its installed package (real path), which its program
   * reads beside itself: a strict sandbox shows it whole. Undefined for a
   * remote environment's, found on the worker.
   */
  readonly home?: string;
}

/** The npm package a package manager's program belongs to. */
const PACKAGES: Readonly<Record<PackageManagerName, readonly string[]>> = { npm: ['npm'], pnpm: ['pnpm', '@pnpm/exe'], yarn: ['@yarnpkg/cli-dist', 'yarn', '@yarnpkg/cli'] };

/**
 * The version of the package that holds `path` (following symlinks): read
 * from the nearest package.json above it that names one of `names`.
 * Transient: the machine is no input any watcher sees.
 */
class ProgramVersionKey implements Key<{ readonly version: string; readonly dir: string } | null> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #path: string;
  readonly #names: readonly string[];
  constructor(path: string, names: readonly string[]) {
    this.#path = path;
    this.#names = names;
    // JSON: the id names one path and one list of names, read back by rebuildProgramVersionKey.
    this.id = `${PROGRAM_VERSION}${JSON.stringify([path, names])}`;
  }
  describe(): string {
    return `the version of ${this.#path}`;
  }
  isTransient(): boolean {
    return true;
  }
  /**
   * The program and each package.json compute() read, from the program's real
   * directory up to the one that named it. Each directory the real path
   * passes through is stamped too: a link along the way that now leads
   * elsewhere changes one of them.
   */
  async replayProof(value: { readonly version: string; readonly dir: string } | null): Promise<readonly string[] | undefined> {
    let real: string;
    try {
      real = await realpath(this.#path);
    } catch {
      return undefined;
    }
    const proof = [this.#path, real];
    let dir = dirname(real);
    for (;;) {
      proof.push(dir, join(dir, 'package.json'));
      if (value !== null && dir === value.dir) return proof;
      const up = dirname(dir);
      if (up === dir) return value === null ? proof : undefined;
      dir = up;
    }
  }
  async compute(): Promise<{ readonly version: string; readonly dir: string } | null> {
    let dir = dirname(await realpath(this.#path));
    for (;;) {
      try {
        const m = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
        if (typeof m.name === 'string' && this.#names.includes(m.name) && typeof m.version === 'string') return { version: m.version, dir };
      } catch {
        // none here
      }
      const up = dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  }
}

const PROGRAM_VERSION = 'program-version:';

/**
 * The key of a `program-version:` id, for a graph a process without a daemon
 * kept (programVersionRebuilder). Undefined for any other id.
 */
export function rebuildProgramVersionKey(id: string): ProgramVersionKey | undefined {
  if (!id.startsWith(PROGRAM_VERSION)) return undefined;
  try {
    const [path, names] = JSON.parse(id.slice(PROGRAM_VERSION.length)) as [unknown, unknown];
    if (typeof path !== 'string' || !Array.isArray(names) || !names.every((n) => typeof n === 'string')) return undefined;
    return new ProgramVersionKey(path, names as string[]);
  } catch {
    return undefined;
  }
}

/**
 * How `program-version:` keys come back from their id (Backend.keyRebuilders):
 * the key is transient, so it must come back with its compute, or everything
 * that depends on it (the package manager, every install and script)
 * recomputes on every run.
 */
export const programVersionRebuilder: KeyRebuilder = { kind: PROGRAM_VERSION, rebuild: rebuildProgramVersionKey };

/**
 * The workspace's package manager on this machine. Its identity in the
 * cache key is `name@version` plus its program's digest (npm's program is
 * the same few lines in every version). A `packageManager` pin must match
 * the version found exactly, as corepack would run that version.
 */
export async function packageManagerTool(rc: RuleContext, pm: PackageManager): Promise<PackageManagerTool> {
  const why = `the workspace's package manager, decided by ${pm.decidedBy}`;
  const tool = (await lookupTool(rc, pm.name, NODEJS_SEARCH, why, { file: 'package.json' }))!;
  const found = await rc.get(new ProgramVersionKey(tool.path, PACKAGES[pm.name]));
  if (found === null) {
    throw new FailureError(
      failure('environment', 'package-manager-unknown', `cannot tell which version of ${pm.name} ${tool.path} is: no package.json of ${PACKAGES[pm.name].join(' or ')} above it`, {
        hints: [`install ${pm.name} from npm (\`npm install -g ${pm.name === 'yarn' ? '@yarnpkg/cli-dist' : pm.name}\`), or put the directory of one on \`[${NODEJS_SCOPE}] search_path\``],
      }),
    );
  }
  const version = found.version;
  if (pm.version !== null && pm.version !== version) {
    throw new FailureError(
      failure('environment', 'package-manager-version', `\`packageManager\` pins ${pm.name}@${pm.version}, but the ${pm.name} found is ${version} (${tool.path})`, {
        location: { file: 'package.json' },
        hints: [`install ${pm.name}@${pm.version} and put it first on \`[${NODEJS_SCOPE}] search_path\`, or change \`packageManager\``],
      }),
    );
  }
  return { tool: { ...tool, identity: `${pm.name}@${version}, ${tool.identity}` }, name: pm.name, version, home: found.dir };
}
