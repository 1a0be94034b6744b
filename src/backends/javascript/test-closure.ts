import picomatch from 'picomatch';
import { joinRel, type Digest } from '../../core/index.js';
import type { ComputeContext } from '../../engine/index.js';
import { EMPTY_TREE_DIGEST, mergeTrees, SnapshotKey, subsetTree } from '../../store/index.js';
import { DependenciesKey, DirTargetsKey, type Address, type Target } from '../../targets/index.js';
import { BUILD, type RuleContext } from '../api/index.js';
import { JAVASCRIPT_SOURCE, JAVASCRIPT_TEST } from './source-targets.js';
import { NODE_SCRIPT, PACKAGE_JSON } from './target-types.js';
import { nearestTsconfig } from './tsconfig.js';

/** The package directory of a per-file target (`packages/a/src/x.ts:../a` is `{dir: packages/a, file: src/x.ts}`). */
export function packageDirOf(t: Target): string {
  return t.addr.dir;
}

/** What a test file reaches through its imports. */
export interface TestClosure {
  /** Source files (the test's own first), build-root paths, sorted after the first. */
  readonly files: readonly string[];
  /** Workspace packages a file reaches as a whole (an import that resolved to no source file of theirs). */
  readonly packages: readonly string[];
  /** The directories of every package a file of the closure lies in, or reaches. */
  readonly packageDirs: ReadonlySet<string>;
}

/**
 * The files a test file's imports reach, transitively, through per-file
 * targets only: a package target reached by an import (a third-party
 * package's declaring package.json, a workspace package with no source
 * found) stops the walk, so an edit of a file the test cannot reach is no
 * input of its process.
 */
export async function testClosure(rc: RuleContext, test: Target): Promise<TestClosure> {
  const files = new Map<string, string>([[test.address, test.sources[0]!]]);
  const packages = new Set<string>();
  const packageDirs = new Set<string>([packageDirOf(test)]);
  const seen = new Set<string>([test.address]);
  let frontier: Address[] = [test.addr];
  while (frontier.length > 0) {
    const deps = await rc.getAll(frontier.map((a) => new DependenciesKey(rc.project, a)));
    const next: Address[] = [];
    for (const t of await rc.targets(deps.flatMap((d) => d.dependencies))) {
      if (seen.has(t.address)) continue;
      seen.add(t.address);
      if (t.type === JAVASCRIPT_SOURCE || t.type === JAVASCRIPT_TEST) {
        files.set(t.address, t.sources[0]!);
        packageDirs.add(packageDirOf(t));
        next.push(t.addr);
      } else if (t.type === PACKAGE_JSON) {
        packageDirs.add(t.addr.dir);
        packages.add(t.addr.dir);
      }
    }
    frontier = next;
  }
  const own = test.sources[0]!;
  return { files: [own, ...[...files.values()].filter((f) => f !== own).sort()], packages: [...packages].sort(), packageDirs };
}

const COMPILED_EXTENSION: Readonly<Record<string, string>> = { '.ts': '.js', '.tsx': '.js', '.mts': '.mjs', '.cts': '.cjs', '.js': '.js', '.jsx': '.js', '.mjs': '.mjs', '.cjs': '.cjs' };
const OUTPUT_DIRS = ['dist', 'build', 'lib', 'out'];

function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot);
}

/** A package's build script and what it says about where its sources compile to. */
export interface PackageBuild {
  readonly dir: string;
  readonly script: Target | undefined;
  /** Source root → output directory, build-root paths (tsconfig rootDir → outDir, else src → dist). */
  readonly rootDir: string;
  readonly outDir: string;
  /** The build's output globs, build-root paths. */
  readonly outputs: readonly string[];
}

export async function packageBuild(rc: RuleContext, dir: string): Promise<PackageBuild> {
  const script = (await rc.get(new DirTargetsKey(rc.project, dir))).targets.find((x) => x.type === NODE_SCRIPT && x.fields['script'] === 'build');
  const outputs = script === undefined ? [] : ((script.fields['outputs'] as string[] | null) ?? []).map((g) => (g.startsWith('!') ? `!${joinRel(dir, g.slice(1))}` : joinRel(dir, g)));
  const ctx = { get: (k) => rc.get(k), getAll: (ks) => rc.getAll(ks) } as ComputeContext;
  const ts = await nearestTsconfig(ctx, rc.project.ws, dir);
  let outDir = ts?.outDir ?? null;
  if (outDir === null) {
    // No outDir: the first conventional output directory the build declares.
    const declared = outputs.filter((g) => !g.startsWith('!')).map((g) => picomatch.scan(g).base);
    outDir = OUTPUT_DIRS.map((d) => joinRel(dir, d)).find((d) => declared.includes(d)) ?? joinRel(dir, 'dist');
  }
  return { dir, script, rootDir: ts?.rootDir ?? joinRel(dir, 'src'), outDir, outputs };
}

/** Where the build puts the compiled form of `source` (`packages/a/src/x.test.ts` → `packages/a/dist/x.test.js`), or undefined when it compiles no such file. */
export function compiledPath(b: PackageBuild, source: string): string | undefined {
  const ext = extensionOf(source);
  const to = COMPILED_EXTENSION[ext];
  if (to === undefined || source.endsWith('.d.ts') || !source.startsWith(`${b.rootDir}/`)) return undefined;
  return `${b.outDir}/${source.slice(b.rootDir.length + 1, -ext.length)}${to}`;
}

function literalGlob(path: string): string {
  return path.replace(/[*?[\]{}()!+@]/g, (c) => `\\${c}`);
}

/**
 * The compiled files of a test's closure, taken from each package's build
 * outputs (a subset by path): the output of a file the test cannot reach
 * is not in it, and tsc writes unchanged files byte for byte alike, so an
 * edit elsewhere leaves this tree (and the test's cache key) as it was.
 * A package reached as a whole brings all its outputs. Files of a package
 * without a build (plain JavaScript) come as they are.
 */
export async function compiledClosure(rc: RuleContext, closure: TestClosure): Promise<{ tree: Digest; paths: Map<string, string> }> {
  const byPackage = new Map<string, string[]>();
  const ownerOf = async (f: string): Promise<string> => {
    for (const d of [...closure.packageDirs].sort((a, b) => b.length - a.length)) if (d === '' || f.startsWith(`${d}/`)) return d;
    return '';
  };
  for (const f of closure.files) {
    const d = await ownerOf(f);
    byPackage.set(d, [...(byPackage.get(d) ?? []), f]);
  }
  for (const d of closure.packages) if (!byPackage.has(d)) byPackage.set(d, []);
  const paths = new Map<string, string>();
  const trees: Digest[] = [];
  const plain: string[] = [];
  for (const [dir, files] of byPackage) {
    const b = await packageBuild(rc, dir);
    const built = b.script === undefined ? null : await rc.serve(BUILD, b.script, undefined);
    if (built === null) {
      plain.push(...files);
      continue;
    }
    const wanted: string[] = [];
    for (const f of files) {
      const c = compiledPath(b, f);
      if (c === undefined) plain.push(f);
      else {
        paths.set(f, c);
        // The source map too, when the build writes one: failures then point into the source (node --enable-source-maps).
        wanted.push(literalGlob(c), literalGlob(`${c}.map`));
      }
    }
    if (closure.packages.includes(dir)) trees.push(built.tree);
    else if (wanted.length > 0) trees.push(await subsetTree(rc.store, built.tree, wanted, rc.signal));
  }
  if (plain.length > 0) trees.push((await rc.get(new SnapshotKey(rc.project.ws, rc.store, plain.sort()))).digest);
  return { tree: trees.length === 0 ? EMPTY_TREE_DIGEST : await mergeTrees(rc.store, trees, rc.signal), paths };
}
