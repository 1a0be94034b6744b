import { parse, type ParseError } from 'jsonc-parser';
import picomatch from 'picomatch';
import { dirnameRel, joinRel, toRelPath } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { FileTextKey, ListingKey, type Workspace } from '../../fs/index.js';
import { JsWorkspaceKey } from './workspace.js';

/** What resolution needs of a tsconfig.json, after its `extends` chain; paths root-relative. */
export interface TsconfigResolution {
  readonly path: string;
  /** `compilerOptions.paths` patterns → substitutions, and the directory they are relative to (baseUrl, else the file that wrote them). */
  readonly paths: Readonly<Record<string, readonly string[]>>;
  readonly pathsBase: string;
  readonly baseUrl: string | null;
  readonly outDir: string | null;
  readonly rootDir: string | null;
  readonly customConditions: readonly string[];
  /** The tsconfig files its `references` name (a directory names its tsconfig.json); never inherited, as in tsc. */
  readonly references: readonly string[];
  /**
   * Which files it owns, root-relative: `files` (exact paths) and `include`
   * globs (a pattern naming a directory stands for everything under it), minus
   * `exclude`; inherited through `extends`, relative to the file that wrote
   * them. Both null: everything under its directory (tsc's default `**\/*`).
   */
  readonly files: readonly string[] | null;
  readonly include: readonly string[] | null;
  readonly exclude: readonly string[];
}

interface RawCompilerOptions {
  paths?: unknown;
  baseUrl?: unknown;
  outDir?: unknown;
  rootDir?: unknown;
  customConditions?: unknown;
}

interface RawTsconfig {
  compilerOptions?: RawCompilerOptions;
  extends?: unknown;
  references?: unknown;
  files?: unknown;
  include?: unknown;
  exclude?: unknown;
}

/** At most this many files in one `extends` tree: a loop is cut there rather than followed. */
const MAX_EXTENDS = 16;

const strings = (v: unknown): string[] | null => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : null);

/**
 * One tsconfig.json as resolution reads it (TypeScript's own reading:
 * comments and trailing commas allowed, `extends` followed — relative, a
 * workspace package's, or one in node_modules, an array merged in order —
 * a later file's option replacing an earlier one). An unreadable or invalid
 * file counts as one with no options: `trews check` reports it, where tsc
 * does.
 */
export class TsconfigKey implements Key<TsconfigResolution> {
  readonly id: string;
  readonly ignoresSignal = true;
  readonly #ws: Workspace;
  readonly #path: string;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.#path = path;
    this.id = `tsconfig:${path}`;
  }
  describe(): string {
    return `compiler options of ${this.#path}`;
  }
  async compute(ctx: ComputeContext): Promise<TsconfigResolution> {
    const out: { -readonly [K in keyof TsconfigResolution]: TsconfigResolution[K] } = {
      path: this.#path,
      paths: {},
      pathsBase: dirnameRel(this.#path),
      baseUrl: null,
      outDir: null,
      rootDir: null,
      customConditions: [],
      references: [],
      files: null,
      include: null,
      exclude: [],
    };
    let loaded = 0;
    const seen = new Set<string>();
    // Depth first, bases before the file that extends them, so each file's options override what it extends.
    const load = async (path: string, own: boolean): Promise<void> => {
      if (seen.has(path) || loaded >= MAX_EXTENDS) return;
      seen.add(path);
      loaded++;
      const text = await ctx.get(new FileTextKey(this.#ws, path));
      if (text === null) return;
      const errors: ParseError[] = [];
      const json = parse(text, errors, { allowTrailingComma: true }) as RawTsconfig | undefined;
      if (json === undefined || typeof json !== 'object' || json === null) return;
      for (const ext of Array.isArray(json.extends) ? json.extends : [json.extends]) {
        if (typeof ext !== 'string') continue;
        const base = await extendedPath(ctx, this.#ws, path, ext);
        if (base !== undefined) await load(base, false);
      }
      const dir = dirnameRel(path);
      const rel = (v: unknown): string | null => (typeof v === 'string' ? (toRelPath(joinRel(dir, v)) ?? null) : null);
      const rels = (v: unknown): string[] | null => strings(v)?.map((s) => rel(s)).filter((s): s is string => s !== null) ?? null;
      const options = typeof json.compilerOptions === 'object' && json.compilerOptions !== null ? json.compilerOptions : {};
      if (typeof options.baseUrl === 'string') out.baseUrl = rel(options.baseUrl);
      if (typeof options.outDir === 'string') out.outDir = rel(options.outDir);
      if (typeof options.rootDir === 'string') out.rootDir = rel(options.rootDir);
      if (Array.isArray(options.customConditions)) out.customConditions = strings(options.customConditions)!;
      if (typeof options.paths === 'object' && options.paths !== null) {
        const paths: Record<string, string[]> = {};
        for (const [k, v] of Object.entries(options.paths)) if (Array.isArray(v)) paths[k] = strings(v)!;
        out.paths = paths;
        out.pathsBase = dir;
      }
      if (json.files !== undefined) out.files = rels(json.files);
      if (json.include !== undefined) out.include = rels(json.include);
      if (json.exclude !== undefined) out.exclude = rels(json.exclude) ?? [];
      if (own && Array.isArray(json.references)) {
        const refs: string[] = [];
        for (const r of json.references as unknown[]) {
          const p = typeof r === 'object' && r !== null ? rel((r as { path?: unknown }).path) : null;
          if (p !== null) refs.push(p.endsWith('.json') ? p : joinRel(p, 'tsconfig.json'));
        }
        out.references = refs;
      }
    };
    await load(this.#path, true);
    // Paths are relative to baseUrl when there is one (TypeScript's rule), else to the file that wrote them.
    if (out.baseUrl !== null) out.pathsBase = out.baseUrl;
    return out;
  }
}

/**
 * Where an `extends` leads, as tsc looks: a relative path (`.json` appended
 * when the name has none); a workspace package's file (`@acme/tsconfig/base.json`,
 * or its tsconfig.json for the bare name), its sources rather than a copy
 * installed from it; else the package in a node_modules from the extending
 * file's directory up (`@tsconfig/node20/tsconfig.json`). A node_modules
 * file is read like any other, but the daemon does not watch node_modules:
 * a reinstall that changes it is seen after `trews daemon stop`.
 */
async function extendedPath(ctx: ComputeContext, ws: Workspace, from: string, ext: string): Promise<string | undefined> {
  const dir = dirnameRel(from);
  const withJson = (p: string): string => (p.endsWith('.json') ? p : `${p}.json`);
  if (ext.startsWith('./') || ext.startsWith('../') || ext === '.' || ext === '..') return toRelPath(joinRel(dir, withJson(ext)));
  if (ext.startsWith('/')) return undefined;
  const parts = ext.split('/');
  const n = ext.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, n).join('/');
  const sub = parts.slice(n).join('/');
  const inPackage = (pkgDir: string): string => (sub === '' ? joinRel(pkgDir, 'tsconfig.json') : joinRel(pkgDir, withJson(sub)));
  const workspace = await ctx.get(new JsWorkspaceKey(ws));
  const pkg = workspace.packages.find((p) => p.name === name);
  if (pkg !== undefined) return toRelPath(inPackage(pkg.dir));
  for (let d = dir; ; d = dirnameRel(d)) {
    const candidate = toRelPath(inPackage(joinRel(d, joinRel('node_modules', name))));
    if (candidate !== undefined && (await ctx.get(new FileTextKey(ws, candidate))) !== null) return candidate;
    if (d === '') return undefined;
  }
}

/** The tsconfig.json that governs a file: the nearest one in its directory or above, up to the build root; null when none. */
export async function nearestTsconfig(ctx: Pick<ComputeContext, 'get'>, ws: Workspace, dir: string): Promise<TsconfigResolution | null> {
  for (let d = dir; ; d = dirnameRel(d)) {
    if ((await ctx.get(new ListingKey(ws, d))).files.includes('tsconfig.json')) return ctx.get(new TsconfigKey(ws, joinRel(d, 'tsconfig.json')));
    if (d === '') return null;
  }
}

/** How far `references` are followed looking for a file's project. */
const MAX_REFERENCE_DEPTH = 4;

/**
 * The project a file belongs to, as an editor's TypeScript server finds it:
 * the nearest tsconfig.json when it includes the file, else the first
 * project its `references` lead to (breadth first) that does — a solution
 * tsconfig.json with `"files": []` and references to `tsconfig.app.json` and
 * `tsconfig.node.json` (Vite's and Nx's templates). None does: the nearest,
 * as before.
 */
export async function owningTsconfig(ctx: ComputeContext, ws: Workspace, file: string): Promise<TsconfigResolution | null> {
  const nearest = await nearestTsconfig(ctx, ws, dirnameRel(file));
  if (nearest === null || includes(nearest, file) || nearest.references.length === 0) return nearest;
  const seen = new Set([nearest.path]);
  let frontier = nearest.references;
  for (let depth = 0; depth < MAX_REFERENCE_DEPTH && frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const ref of frontier) {
      if (seen.has(ref)) continue;
      seen.add(ref);
      const ts = await ctx.get(new TsconfigKey(ws, ref));
      if (includes(ts, file)) return ts;
      next.push(...ts.references);
    }
    frontier = next;
  }
  return nearest;
}

const matchers = new Map<string, (path: string) => boolean>();
function matches(pattern: string, path: string): boolean {
  let m = matchers.get(pattern);
  if (m === undefined) {
    // A pattern without a wildcard in its last segment and without an extension names a directory (tsc's rule).
    const last = pattern.slice(pattern.lastIndexOf('/') + 1);
    const glob = pattern === '' ? '**/*' : !last.includes('*') && !last.includes('.') ? `${pattern}/**/*` : pattern;
    const compiled = picomatch(glob, { dot: false });
    if (matchers.size > 10_000) matchers.clear();
    matchers.set(pattern, (m = (p: string): boolean => compiled(p)));
  }
  return m(path);
}

/** Whether a project owns a file (its `files`, or its `include` minus `exclude`). */
export function includes(ts: TsconfigResolution, file: string): boolean {
  if (ts.files?.includes(file)) return true;
  const include = ts.include ?? (ts.files === null ? [dirnameRel(ts.path) === '' ? '**/*' : `${dirnameRel(ts.path)}/**/*`] : []);
  if (!include.some((p) => matches(p, file))) return false;
  const exclude = ts.exclude.length > 0 || ts.include !== null ? ts.exclude : [];
  return !exclude.some((p) => matches(p, file) || file.startsWith(`${p}/`));
}
