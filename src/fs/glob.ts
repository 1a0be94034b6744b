import picomatch from 'picomatch';
import { dirnameRel, basenameRel, joinRel } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { FilesUnderKey, ListingKey } from './listing.js';
import type { Workspace } from './workspace.js';

export interface GlobResult {
  /** Matching files, root-relative, sorted. */
  readonly files: readonly string[];
  /** Include patterns without wildcards that named a file which does not exist. */
  readonly missingLiterals: readonly string[];
}

const matchers = new Map<string, (p: string) => boolean>();

function matcher(pattern: string): (p: string) => boolean {
  let m = matchers.get(pattern);
  if (!m) {
    m = picomatch(pattern, { dot: false });
    matchers.set(pattern, m);
  }
  return m;
}

/** True when `pattern` has glob syntax (as opposed to naming one file). */
export function isGlobPattern(pattern: string): boolean {
  return picomatch.scan(pattern).isGlob;
}

/**
 * Expands globs relative to `dir` (`*.txt`, `sub/**\/*.ts`, `!excluded.txt`), the
 * way `sources` fields do. Reads the tree only through listing keys, so a new file
 * re-expands exactly the globs that could match it.
 */
export class GlobKey implements Key<GlobResult> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  readonly #patterns: readonly string[];
  constructor(ws: Workspace, dir: string, patterns: readonly string[]) {
    this.#ws = ws;
    this.#dir = dir;
    this.#patterns = patterns;
    this.id = `glob:${dir}:${JSON.stringify(patterns)}`;
  }
  describe(): string {
    return `glob ${JSON.stringify(this.#patterns)} in ${this.#dir || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<GlobResult> {
    const includes = this.#patterns.filter((p) => !p.startsWith('!'));
    const excludes = this.#patterns.filter((p) => p.startsWith('!')).map((p) => matcher(p.slice(1)));
    const found = new Set<string>();
    const missingLiterals: string[] = [];
    const prefix = this.#dir === '' ? 0 : this.#dir.length + 1;
    for (const pattern of includes) {
      const matched = await this.#expand(ctx, pattern);
      if (matched === undefined) {
        missingLiterals.push(pattern);
        continue;
      }
      for (const f of matched) {
        const rel = f.slice(prefix);
        if (!excludes.some((x) => x(rel))) found.add(f);
      }
    }
    return { files: [...found].sort(), missingLiterals };
  }

  /** Files matching one include pattern; undefined for a literal that names nothing. */
  async #expand(ctx: ComputeContext, pattern: string): Promise<readonly string[] | undefined> {
    const scan = picomatch.scan(pattern);
    if (!scan.isGlob) {
      const full = joinRel(this.#dir, pattern);
      const listing = await ctx.get(new ListingKey(this.#ws, dirnameRel(full)));
      return listing.files.includes(basenameRel(full)) ? [full] : undefined;
    }
    const base = scan.base === '' ? this.#dir : joinRel(this.#dir, scan.base);
    const m = matcher(pattern);
    const prefix = this.#dir === '' ? 0 : this.#dir.length + 1;
    const segments = scan.glob.split('/');
    if (segments.includes('**') || segments.some((s) => s.includes('**'))) {
      const all = await ctx.get(new FilesUnderKey(this.#ws, base));
      return all.filter((f) => m(f.slice(prefix)));
    }
    // Without `**` the depth is fixed: walk exactly that many levels.
    let dirs = [base];
    for (let i = 0; i < segments.length - 1; i++) {
      const seg = matcher(segments[i]!);
      const next: string[] = [];
      const listings = await ctx.getAll(dirs.map((d) => new ListingKey(this.#ws, d)));
      listings.forEach((l, j) => {
        for (const sub of l.dirs) if (seg(sub)) next.push(joinRel(dirs[j]!, sub));
      });
      dirs = next;
    }
    const out: string[] = [];
    const listings = await ctx.getAll(dirs.map((d) => new ListingKey(this.#ws, d)));
    listings.forEach((l, j) => {
      for (const f of l.files) {
        const full = joinRel(dirs[j]!, f);
        if (m(full.slice(prefix))) out.push(full);
      }
    });
    return out;
  }
}
