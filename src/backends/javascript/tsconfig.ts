import { parse, type ParseError } from 'jsonc-parser';
import { dirnameRel, joinRel, toRelPath } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { FileTextKey, ListingKey, type Workspace } from '../../fs/index.js';

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
}

interface RawCompilerOptions {
  paths?: unknown;
  baseUrl?: unknown;
  outDir?: unknown;
  rootDir?: unknown;
  customConditions?: unknown;
}

/** At most this many files in one `extends` chain: a loop is cut there rather than followed. */
const MAX_EXTENDS = 16;

/**
 * One tsconfig.json as resolution reads it (TypeScript's own reading:
 * comments and trailing commas allowed, relative `extends` followed, a
 * later file's option replacing an earlier one). An unreadable or invalid
 * file counts as one with no options: `trews check` reports it, where tsc
 * does.
 */
export class TsconfigKey implements Key<TsconfigResolution> {
  readonly id: string;
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
    };
    // The chain, base first, so each file's options override what it extends.
    const chain: { path: string; options: RawCompilerOptions }[] = [];
    const seen = new Set<string>();
    let next: string | undefined = this.#path;
    while (next !== undefined && !seen.has(next) && chain.length < MAX_EXTENDS) {
      seen.add(next);
      const text = await ctx.get(new FileTextKey(this.#ws, next));
      if (text === null) break;
      const errors: ParseError[] = [];
      const json = parse(text, errors, { allowTrailingComma: true }) as { compilerOptions?: RawCompilerOptions; extends?: unknown } | undefined;
      if (json === undefined || typeof json !== 'object' || json === null) break;
      chain.unshift({ path: next, options: typeof json.compilerOptions === 'object' && json.compilerOptions !== null ? json.compilerOptions : {} });
      // Only relative `extends` is followed: a package's (`@tsconfig/node20`) lives in node_modules, which holds no paths of this workspace.
      const ext = Array.isArray(json.extends) ? json.extends[0] : json.extends;
      next = typeof ext === 'string' && ext.startsWith('.') ? toRelPath(joinRel(dirnameRel(next), ext.endsWith('.json') ? ext : `${ext}.json`)) : undefined;
    }
    for (const { path, options } of chain) {
      const dir = dirnameRel(path);
      const rel = (v: unknown): string | null => (typeof v === 'string' ? (toRelPath(joinRel(dir, v)) ?? null) : null);
      if (typeof options.baseUrl === 'string') out.baseUrl = rel(options.baseUrl);
      if (typeof options.outDir === 'string') out.outDir = rel(options.outDir);
      if (typeof options.rootDir === 'string') out.rootDir = rel(options.rootDir);
      if (Array.isArray(options.customConditions)) out.customConditions = options.customConditions.filter((c): c is string => typeof c === 'string');
      if (typeof options.paths === 'object' && options.paths !== null) {
        const paths: Record<string, string[]> = {};
        for (const [k, v] of Object.entries(options.paths)) if (Array.isArray(v)) paths[k] = v.filter((s): s is string => typeof s === 'string');
        out.paths = paths;
        out.pathsBase = dir;
      }
    }
    // Paths are relative to baseUrl when there is one (TypeScript's rule), else to the file that wrote them.
    if (out.baseUrl !== null) out.pathsBase = out.baseUrl;
    return out;
  }
}

/** The tsconfig.json that governs a file: the nearest one in its directory or above, up to the build root; null when none. */
export async function nearestTsconfig(ctx: ComputeContext, ws: Workspace, dir: string): Promise<TsconfigResolution | null> {
  for (let d = dir; ; d = dirnameRel(d)) {
    if ((await ctx.get(new ListingKey(ws, d))).files.includes('tsconfig.json')) return ctx.get(new TsconfigKey(ws, joinRel(d, 'tsconfig.json')));
    if (d === '') return null;
  }
}
