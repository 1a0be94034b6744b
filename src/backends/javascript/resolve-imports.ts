import { builtinModules } from 'node:module';
import { exports as resolveExports, imports as resolveImports } from 'resolve.exports';
import { basenameRel, dirnameRel, joinRel, toRelPath } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { FileTextKey, ListingKey, type Workspace } from '../../fs/index.js';
import { FileImportsKey, type FileImports, type ImportedModule } from './imports.js';
import { PackageJsonKey } from './package-json.js';
import { nearestTsconfig, owningTsconfig, TsconfigKey, type TsconfigResolution } from './tsconfig.js';
import { JsWorkspaceKey } from './workspace.js';

/** What one import resolved to. */
export type Resolution =
  /** A file of the workspace, root-relative. */
  | { readonly type: 'file'; readonly path: string }
  /** A workspace package as a whole: a third-party package it declares, or a workspace package whose entry maps to no source file. */
  | { readonly type: 'package'; readonly dir: string }
  /** A Node built-in (`node:fs`, `path`): nothing of the workspace. */
  | { readonly type: 'builtin' }
  | { readonly type: 'unresolved'; readonly reason: string };

export interface ResolvedImport {
  readonly import: ImportedModule;
  readonly resolution: Resolution;
}

export interface FileDependencies {
  readonly imports: readonly ResolvedImport[];
  /** The parser's first error: the imports after it may be missing. */
  readonly parseError: FileImports['parseError'];
}

/** The fields of a package.json that say where its modules are (Node's `exports`/`imports`, the older `main`/`module`/`types`). */
interface PackageEntries {
  readonly name: string | null;
  readonly exports: unknown;
  readonly imports: unknown;
  readonly main: string | null;
  readonly module: string | null;
  readonly types: string | null;
}

/** package.json's entry fields; one key per package, so an edit of the `exports` of one re-resolves only the files that read it. */
class PackageEntriesKey implements Key<PackageEntries | null> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `js-package-entries:${dir}`;
  }
  describe(): string {
    return `module entries of ${joinRel(this.#dir, 'package.json')}`;
  }
  async compute(ctx: ComputeContext): Promise<PackageEntries | null> {
    const text = await ctx.get(new FileTextKey(this.#ws, joinRel(this.#dir, 'package.json')));
    if (text === null) return null;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return null; // The package's own target reports it, with the position.
    }
    const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    return {
      name: str(json.name),
      exports: json.exports ?? null,
      imports: json.imports ?? null,
      main: str(json.main),
      module: str(json.module),
      types: str(json.types) ?? str(json.typings),
    };
  }
}

/** TypeScript's order: a `.js` import names the `.ts` file it is compiled from (TS 4.7+, `moduleResolution` node16 and bundler). */
const SUBSTITUTES: Readonly<Record<string, readonly string[]>> = {
  '.js': ['.ts', '.tsx', '.d.ts', '.js', '.jsx'],
  '.jsx': ['.tsx', '.jsx'],
  '.mjs': ['.mts', '.d.mts', '.mjs'],
  '.cjs': ['.cts', '.d.cts', '.cjs'],
};
/** Tried after an extensionless specifier, as TypeScript then Node (CommonJS) do. */
const APPENDED = ['.ts', '.tsx', '.d.ts', '.js', '.jsx', '.mts', '.cts', '.mjs', '.cjs', '.json'];
/** A declaration file stands for the module it declares, which substitution then maps to its source. */
const DECLARATION_OF: Readonly<Record<string, string>> = { '.d.ts': '.js', '.d.mts': '.mjs', '.d.cts': '.cjs' };
/** Output directories a package's entry points commonly name, when no tsconfig says where sources are. */
const OUTPUT_DIRS = ['dist', 'build', 'lib', 'out'];

const BUILTINS = new Set(builtinModules);

function extensionOf(path: string): string {
  const base = basenameRel(path);
  for (const d of ['.d.ts', '.d.mts', '.d.cts']) if (base.endsWith(d)) return d;
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot);
}

/** `@scope/name/sub/path` → [`@scope/name`, `./sub/path`]; `name` → [`name`, `.`]. */
function splitBare(specifier: string): [string, string] {
  const parts = specifier.split('/');
  const n = specifier.startsWith('@') ? 2 : 1;
  const rest = parts.slice(n).join('/');
  return [parts.slice(0, n).join('/'), rest === '' ? '.' : `./${rest}`];
}

/**
 * The resolution of every import of one file, by Node's and TypeScript's
 * rules, over the workspace as the engine sees it (file listings,
 * package.json and tsconfig.json keys), never the disk directly: adding
 * `x.ts` beside an import of `./x.js`, or editing a package's `exports`,
 * re-resolves the files that read them, and nothing else. node_modules is
 * not read: trews installs in a sandbox, and a workspace package resolves to
 * its source files, not to what a link in node_modules would give.
 */
export class FileDependenciesKey implements Key<FileDependencies> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #path: string;
  readonly #pkgDir: string;
  constructor(ws: Workspace, path: string, pkgDir: string) {
    this.#ws = ws;
    this.#path = path;
    this.#pkgDir = pkgDir;
    // The package is part of the id: a package.json appearing above a file moves it to another package, which resolves differently.
    this.id = `js-file-dependencies:${pkgDir}:${path}`;
  }
  describe(): string {
    return `resolved imports of ${this.#path}`;
  }
  async compute(ctx: ComputeContext): Promise<FileDependencies> {
    const parsed = await ctx.get(new FileImportsKey(this.#ws, this.#path));
    if (parsed.imports.length === 0) return { imports: [], parseError: parsed.parseError };
    const r = new Resolver(ctx, this.#ws, this.#path, this.#pkgDir);
    const imports: ResolvedImport[] = [];
    for (const i of parsed.imports) imports.push({ import: i, resolution: await r.resolve(i) });
    return { imports, parseError: parsed.parseError };
  }
}

class Resolver {
  readonly #ctx: ComputeContext;
  readonly #ws: Workspace;
  readonly #file: string;
  readonly #pkgDir: string;
  #tsconfig: TsconfigResolution | null | undefined;
  #referencedOutputs: Promise<[string, string][]> | undefined;
  constructor(ctx: ComputeContext, ws: Workspace, file: string, pkgDir: string) {
    this.#ctx = ctx;
    this.#ws = ws;
    this.#file = file;
    this.#pkgDir = pkgDir;
  }

  async resolve(i: ImportedModule): Promise<Resolution> {
    const s = i.specifier;
    const conditions = await this.#conditions(i);
    if (i.kind === 'reference') return this.#relative(s.startsWith('.') ? s : `./${s}`);
    if (s.startsWith('node:') || BUILTINS.has(s) || BUILTINS.has(s.split('/')[0]!)) return { type: 'builtin' };
    if (s.startsWith('./') || s.startsWith('../') || s === '.' || s === '..') return this.#relative(s);
    if (s.startsWith('/')) return { type: 'unresolved', reason: 'an absolute path names a file outside the workspace\'s control; import it relatively' };
    if (s.startsWith('#')) return this.#subpathImport(s, conditions);
    const viaTsconfig = await this.#tsconfigPaths(s);
    if (viaTsconfig !== undefined) return viaTsconfig;
    return this.#bare(s, conditions);
  }

  async #conditions(i: ImportedModule): Promise<string[]> {
    const ts = await this.#ts();
    // `types` first for TypeScript; `source`/`development` lead to sources where a package offers them.
    return [...(ts?.customConditions ?? []), 'types', i.kind === 'require' ? 'require' : 'import', 'node', 'default'];
  }

  async #ts(): Promise<TsconfigResolution | null> {
    if (this.#tsconfig === undefined) this.#tsconfig = await owningTsconfig(this.#ctx, this.#ws, this.#file);
    return this.#tsconfig;
  }

  /**
   * `outDir` → source directory of each project the file's project
   * references, as `tsc -b` builds them: what an import finds under a
   * referenced project's output is built from its sources, which is what
   * the file depends on. The source directory is the reference's `rootDir`,
   * else its `src/`, else its own directory (tsc's default for a composite
   * project).
   */
  #outputs(): Promise<[string, string][]> {
    this.#referencedOutputs ??= (async () => {
      const ts = await this.#ts();
      const refs = await this.#ctx.getAll((ts?.references ?? []).map((r) => new TsconfigKey(this.#ws, r)));
      const out: [string, string][] = [];
      for (const r of refs) {
        if (r.outDir === null) continue;
        const dir = dirnameRel(r.path);
        if (r.rootDir !== null) out.push([r.outDir, r.rootDir]);
        else out.push([r.outDir, joinRel(dir, 'src')], [r.outDir, dir]);
      }
      return out;
    })();
    return this.#referencedOutputs;
  }

  /** A candidate path, or the source it is built from when it lies under a referenced project's output directory. */
  async #candidate(candidate: string): Promise<string | undefined> {
    for (const [out, src] of await this.#outputs()) {
      if (!candidate.startsWith(`${out}/`)) continue;
      let rest = candidate.slice(out.length + 1);
      const ext = extensionOf(rest);
      const built = DECLARATION_OF[ext];
      if (built !== undefined) rest = rest.slice(0, -ext.length) + built;
      const found = await this.#file_(src === '' ? rest : joinRel(src, rest));
      if (found !== undefined) return found;
    }
    return this.#file_(candidate);
  }

  async #exists(path: string): Promise<boolean> {
    const listing = await this.#ctx.get(new ListingKey(this.#ws, dirnameRel(path)));
    return listing.files.includes(basenameRel(path));
  }

  /** A path as TypeScript and Node look for it: extension substitution, appended extensions, a directory's index. */
  async #file_(candidate: string): Promise<string | undefined> {
    const ext = extensionOf(candidate);
    const subs = SUBSTITUTES[ext];
    if (subs !== undefined) {
      const stem = candidate.slice(0, -ext.length);
      for (const e of subs) if (await this.#exists(stem + e)) return stem + e;
      return undefined;
    }
    if (ext !== '' && (await this.#exists(candidate))) return candidate;
    if (ext === '.d.ts' || ext === '.d.mts' || ext === '.d.cts') return undefined;
    for (const e of APPENDED) if (await this.#exists(candidate + e)) return candidate + e;
    const dir = await this.#ctx.get(new ListingKey(this.#ws, candidate));
    if (dir.exists) for (const e of APPENDED) if (dir.files.includes(`index${e}`)) return joinRel(candidate, `index${e}`);
    return undefined;
  }

  async #relative(s: string): Promise<Resolution> {
    const candidate = toRelPath(joinRel(dirnameRel(this.#file), s));
    if (candidate === undefined) return { type: 'unresolved', reason: 'it leads out of the build root' };
    const found = await this.#candidate(candidate);
    return found !== undefined ? { type: 'file', path: found } : { type: 'unresolved', reason: `no file \`${candidate}\` (nor with a TypeScript or JavaScript extension, nor an index file in it)` };
  }

  /** `#internal` specifiers: the `imports` of the file's own package.json. */
  async #subpathImport(s: string, conditions: string[]): Promise<Resolution> {
    const entries = await this.#ctx.get(new PackageEntriesKey(this.#ws, this.#pkgDir));
    let targets: string[] | void = undefined;
    try {
      if (entries?.imports !== null && entries?.imports !== undefined) targets = resolveImports({ name: entries.name ?? '', imports: entries.imports } as never, s, { conditions, unsafe: true });
    } catch {
      targets = undefined;
    }
    if (targets === undefined || targets.length === 0) return { type: 'unresolved', reason: `\`imports\` of ${joinRel(this.#pkgDir, 'package.json')} has no entry for it` };
    for (const t of targets) {
      if (t.startsWith('./')) {
        const found = await this.#inPackage(this.#pkgDir, t);
        if (found !== undefined) return { type: 'file', path: found };
      } else {
        return this.#bare(t, conditions);
      }
    }
    return { type: 'unresolved', reason: `\`imports\` of ${joinRel(this.#pkgDir, 'package.json')} maps it to ${targets.join(', ')}, which is no file` };
  }

  /** tsconfig `paths` (the longest matching prefix wins, its substitutions in order), then `baseUrl`. */
  async #tsconfigPaths(s: string): Promise<Resolution | undefined> {
    const ts = await this.#ts();
    if (ts === null) return undefined;
    let best: { pattern: string; star: string; prefix: number } | undefined;
    for (const pattern of Object.keys(ts.paths)) {
      const star = pattern.indexOf('*');
      if (star < 0) {
        if (pattern === s) {
          best = { pattern, star: '', prefix: Infinity };
          break;
        }
        continue;
      }
      const pre = pattern.slice(0, star);
      const post = pattern.slice(star + 1);
      if (s.length >= pre.length + post.length && s.startsWith(pre) && s.endsWith(post) && (best === undefined || pre.length > best.prefix)) {
        best = { pattern, star: s.slice(pre.length, s.length - post.length), prefix: pre.length };
      }
    }
    if (best !== undefined) {
      for (const sub of ts.paths[best.pattern]!) {
        const candidate = toRelPath(joinRel(ts.pathsBase, sub.replace('*', best.star)));
        if (candidate === undefined) continue;
        const found = await this.#candidate(candidate);
        if (found !== undefined) return { type: 'file', path: found };
      }
    }
    if (ts.baseUrl !== null) {
      const candidate = toRelPath(joinRel(ts.baseUrl, s));
      const found = candidate === undefined ? undefined : await this.#candidate(candidate);
      if (found !== undefined) return { type: 'file', path: found };
    }
    return undefined;
  }

  /**
   * A file a package entry names (`./dist/index.js`), mapped back to the
   * source it is built from when it lies in an output directory: the
   * package's tsconfig `outDir` → `rootDir` (default `src`), else `dist/`,
   * `build/`, `lib/`, `out/` → `src/`. Declarations (`.d.ts`) map to their
   * `.ts`. The named file itself when it is a source.
   */
  async #inPackage(pkgDir: string, target: string): Promise<string | undefined> {
    const path = toRelPath(joinRel(pkgDir, target));
    if (path === undefined) return undefined;
    const ts = await nearestTsconfig(this.#ctx, this.#ws, pkgDir);
    const mappings: [string, string][] = [];
    if (ts?.outDir) mappings.push([ts.outDir, ts.rootDir ?? joinRel(pkgDir, 'src')]);
    // A solution tsconfig.json (`"files": []`) builds nothing itself: the projects it references have the outDir.
    for (const r of await this.#ctx.getAll((ts?.references ?? []).map((p) => new TsconfigKey(this.#ws, p)))) {
      if (r.outDir !== null) mappings.push([r.outDir, r.rootDir ?? joinRel(pkgDir, 'src')]);
    }
    for (const d of OUTPUT_DIRS) mappings.push([joinRel(pkgDir, d), joinRel(pkgDir, 'src')], [joinRel(pkgDir, d), pkgDir]);
    for (const [out, src] of mappings) {
      if (!path.startsWith(`${out}/`)) continue;
      let rest = path.slice(out.length + 1);
      const ext = extensionOf(rest);
      const built = DECLARATION_OF[ext];
      if (built !== undefined) rest = rest.slice(0, -ext.length) + built;
      const found = await this.#file_(src === '' ? rest : joinRel(src, rest));
      if (found !== undefined) return found;
    }
    return this.#file_(path);
  }

  async #bare(s: string, conditions: string[]): Promise<Resolution> {
    const [name, subpath] = splitBare(s);
    const ws = await this.#ctx.get(new JsWorkspaceKey(this.#ws));
    const pkg = ws.packages.find((p) => p.name === name);
    if (pkg !== undefined) {
      const entries = await this.#ctx.get(new PackageEntriesKey(this.#ws, pkg.dir));
      const targets: string[] = [];
      if (entries !== null && entries.exports !== null) {
        try {
          targets.push(...(resolveExports({ name, exports: entries.exports } as never, subpath, { conditions, unsafe: true }) ?? []));
        } catch {
          return { type: 'unresolved', reason: `\`exports\` of ${joinRel(pkg.dir, 'package.json')} does not export \`${subpath}\`` };
        }
      } else if (subpath === '.') {
        for (const t of [entries?.types, entries?.module, entries?.main, './index.js']) if (typeof t === 'string') targets.push(t.startsWith('.') ? t : `./${t}`);
      } else {
        targets.push(subpath);
      }
      for (const t of targets) {
        const found = await this.#inPackage(pkg.dir, t);
        if (found !== undefined) return { type: 'file', path: found };
      }
      return { type: 'package', dir: pkg.dir };
    }
    // Third-party: the package whose package.json declares it (this file's, else the root's, as hoisting lets it resolve).
    for (const dir of [this.#pkgDir, '']) {
      const manifest = await this.#ctx.get(new PackageJsonKey(this.#ws, dir));
      if (manifest === null) continue;
      const types = name.startsWith('@') ? `@types/${name.slice(1).replace('/', '__')}` : `@types/${name}`;
      if (manifest.dependencies.some((d) => d.name === name || d.name === types)) return { type: 'package', dir };
      if (manifest.name === name) return { type: 'package', dir };
    }
    const own = joinRel(this.#pkgDir, 'package.json');
    return { type: 'unresolved', reason: `\`${name}\` is neither a package of the workspace nor a dependency in ${own}${this.#pkgDir === '' ? '' : ' or the root package.json'}` };
  }
}
