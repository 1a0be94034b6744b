import { posix } from 'node:path';
import { digestEquals, joinRel, type Digest } from '../../core/index.js';
import { EMPTY_TREE_DIGEST, mergeTrees, SnapshotKey, subsetTree } from '../../store/index.js';
import { DependenciesKey, type Target } from '../../targets/index.js';
import type { RuleContext } from '../api/index.js';
import { NODE_SCRIPT, PACKAGE_JSON } from './target-types.js';
import { shellWords } from './test-runners/index.js';
import { nearestTsconfig, TsconfigKey } from './tsconfig.js';

/** `[javascript] declaration_inputs`: whether a plain tsc compile sees only its dependencies' declarations. */
export const DECLARATION_INPUTS_OPTION = 'declaration_inputs';

/** What a dependency's build contributes to a tsc compile when it emitted declarations. */
const DECLARATIONS = ['**/*.d.ts', '**/*.d.mts', '**/*.d.cts', '**/*.d.ts.map', '**/*.d.mts.map', '**/*.d.cts.map'];
const DECLARATION_VIEW = [...DECLARATIONS, '**/*.json'];

/** A file tsc compiles (or reads as JS under allowJs), as opposed to a declaration file or anything else. */
const COMPILED = /\.(?:ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const DECLARATION_FILE = /\.d\.(?:[^/]*\.)?[cm]?ts$/;

const BUILD_FLAGS = new Set(['-b', '--build']);
const PROJECT_FLAGS = new Set(['-p', '--project']);
const WATCH_FLAGS = new Set(['-w', '--watch']);

/**
 * The tsconfig files a command reads when it is a plain TypeScript compile
 * (`tsc`, `tsc -p X`, `tsc --project X`, `tsc -b [projects] [options]`),
 * root-relative; null when it is anything else (a bundler, `tsc && esbuild`,
 * a watch, a script the tokenizer does not read). `[]`: tsc with no
 * tsconfig found.
 */
export function tscProjects(command: string, pkgDir: string): { build: boolean; projects: string[] | null } | null {
  const split = shellWords(command);
  if (!split.ok || split.words[0] !== 'tsc') return null;
  const args = split.words.slice(1);
  if (args.some((a) => WATCH_FLAGS.has(a))) return null;
  const configAt = (p: string): string => {
    const joined = posix.join(pkgDir || '.', p);
    const at = joined === '.' ? '' : joined;
    return at.endsWith('.json') ? at : joinRel(at, 'tsconfig.json');
  };
  if (args.some((a) => BUILD_FLAGS.has(a))) {
    const positional = args.filter((a) => !a.startsWith('-'));
    return { build: true, projects: (positional.length === 0 ? ['.'] : positional).map(configAt) };
  }
  const p = args.findIndex((a) => PROJECT_FLAGS.has(a));
  if (p >= 0) {
    const value = args[p + 1];
    return value === undefined ? null : { build: false, projects: [configAt(value)] };
  }
  // No -p: tsc looks for tsconfig.json from its directory up (the caller resolves it).
  return { build: false, projects: null };
}

/**
 * Whether the commands a script's sandbox runs are all plain tsc compiles
 * whose configurations read nothing of another package by path: a
 * `paths` mapping (Nx's way to link packages) or `references` (tsc -b
 * rebuilds a referenced project it finds out of date) can make tsc read a
 * dependency's sources, so those keep the full sandbox.
 */
export async function compilesFromDeclarations(rc: RuleContext, commands: readonly string[], pkgDir: string): Promise<boolean> {
  if (commands.length === 0) return false;
  for (const command of commands) {
    const tsc = tscProjects(command, pkgDir);
    if (tsc === null) return false;
    const configs =
      tsc.projects === null
        ? [await nearestTsconfig(rc, rc.project.ws, pkgDir)]
        : await Promise.all(tsc.projects.map((p) => rc.get(new TsconfigKey(rc.project.ws, p))));
    for (const c of configs) if (c !== null && (Object.keys(c.paths).length > 0 || c.references.length > 0)) return false;
  }
  return true;
}

/**
 * The scripts of other packages that run before the compile, transitively,
 * by package directory: every script the closure's scripts depend on, and
 * theirs, to the end (the `^build` chain), keeping those reached by an edge
 * from another package (`^x`, `pkg#x`): what a package publishes to its
 * dependents, not the steps inside it (its own `codegen`).
 */
async function publishedScripts(rc: RuleContext, closure: readonly Target[]): Promise<Map<string, Target[]>> {
  const published = new Map<string, Target[]>();
  const seen = new Set<string>();
  let frontier = closure.filter((t) => t.type === NODE_SCRIPT);
  for (const t of frontier) seen.add(t.address);
  while (frontier.length > 0) {
    const next: Target[] = [];
    const deps = await Promise.all(frontier.map(async (f) => rc.targets((await rc.get(new DependenciesKey(rc.project, f.addr))).dependencies)));
    frontier.forEach((f, i) => {
      for (const d of deps[i]!) {
        if (d.type !== NODE_SCRIPT || seen.has(d.address)) continue;
        seen.add(d.address);
        next.push(d);
        if (d.addr.dir !== f.addr.dir) published.set(d.addr.dir, [...(published.get(d.addr.dir) ?? []), d]);
      }
    });
    frontier = next;
  }
  return published;
}

/**
 * The sandbox inputs of a tsc compile (see the README, "Declaration inputs"):
 * the closure `sandboxInputs` merges, except that a first-party package
 * whose build emitted declarations contributes only those (and its json
 * files), and its package none of its compiled sources. That holds for the
 * packages the compile depends on directly (their `^build` is in the
 * closure) and for every package reached through them (its build runs
 * earlier in the `^build` chain; its files are in the sandbox, since tsc
 * follows a dependency's declarations to the packages they import). A
 * package with no declaration output, or none of whose scripts run before
 * the compile, contributes as before: a direct one its full outputs and
 * files, a transitive one its files.
 */
export async function declarationSandboxInputs(rc: RuleContext, closure: readonly Target[], ownDir: string): Promise<Digest> {
  const built = new Set<string>();
  const declarationView = async (full: Digest): Promise<Digest | null> =>
    digestEquals(await subsetTree(rc.store, full, DECLARATIONS, rc.signal), EMPTY_TREE_DIGEST) ? null : subsetTree(rc.store, full, DECLARATION_VIEW, rc.signal);
  const produced = await Promise.all(
    closure.map(async (t) => {
      const full = await rc.contribution(t);
      if (t.type !== NODE_SCRIPT || t.addr.dir === ownDir) return full;
      const view = await declarationView(full);
      if (view === null) return full;
      built.add(t.addr.dir);
      return view;
    }),
  );
  // Packages whose files are in the sandbox without a script of theirs: reached through another package.
  const direct = new Set(closure.filter((t) => t.type === NODE_SCRIPT).map((t) => t.addr.dir));
  const reached = new Set(closure.filter((t) => t.type === PACKAGE_JSON && t.addr.dir !== ownDir && !direct.has(t.addr.dir)).map((t) => t.addr.dir));
  const published = reached.size === 0 ? new Map<string, Target[]>() : await publishedScripts(rc, closure);
  const transitive = await Promise.all(
    [...reached].map(async (dir) => {
      const scripts = published.get(dir) ?? [];
      if (scripts.length === 0) return [];
      const full = await mergeTrees(rc.store, await Promise.all(scripts.map((s) => rc.contribution(s))), rc.signal);
      const view = await declarationView(full);
      if (view === null) return [];
      built.add(dir);
      return [view];
    }),
  );
  // The package a source belongs to: the deepest package directory of the closure above it,
  // found by walking up its directories (a scan of every package per file made a cold
  // build at 200 packages cubic: ~0.7 s of CPU in this function alone).
  const packageDirs = new Set(closure.filter((t) => t.type === PACKAGE_JSON || t.type === NODE_SCRIPT).map((t) => t.addr.dir));
  const packageOf = (f: string): string | undefined => deepestDirOf(packageDirs, f);
  const sources = new Set<string>();
  for (const t of closure) {
    if (rc.rulesFor(t)?.sandbox?.sources !== true) continue;
    for (const f of t.sources) {
      const pkg = packageOf(f);
      if (pkg !== undefined && built.has(pkg) && COMPILED.test(f) && !DECLARATION_FILE.test(f)) continue;
      sources.add(f);
    }
  }
  const snapshot = sources.size === 0 ? undefined : await rc.get(new SnapshotKey(rc.project.ws, rc.store, [...sources]));
  return mergeTrees(rc.store, [...(snapshot === undefined ? [] : [snapshot.digest]), ...produced, ...transitive.flat()], rc.signal);
}

/** The deepest of `dirs` (root-relative; `''` is the root) that holds the file `f`, walking up its directories. */
export function deepestDirOf(dirs: ReadonlySet<string>, f: string): string | undefined {
  for (let end = f.lastIndexOf('/'); end > 0; end = f.lastIndexOf('/', end - 1)) {
    const dir = f.slice(0, end);
    if (dirs.has(dir)) return dir;
  }
  return dirs.has('') ? '' : undefined;
}
