import picomatch from 'picomatch';
import { dirnameRel, basenameRel, joinRel } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { FilesUnderKey, ListingKey } from './listing.js';
import { realPathOf, type LinkProblem } from './real-path.js';
import type { Workspace } from './workspace.js';

export interface GlobResult {
  /** Matching files, root-relative, sorted. */
  readonly files: readonly string[];
  /** Include patterns without wildcards that named a file which does not exist. */
  readonly missingLiterals: readonly string[];
  /**
   * Matches that go through a symlink leading out of the build root (or round
   * in a loop), with the pattern that matched: the caller reports them where
   * the pattern was written. Nothing behind them is read.
   */
  readonly escapes: readonly GlobEscape[];
}

export interface GlobEscape {
  readonly pattern: string;
  /** The matched path, root-relative. */
  readonly path: string;
  readonly problem: LinkProblem;
}

type Expanded = { readonly files: readonly string[]; readonly escapes: readonly { path: string; problem: LinkProblem }[] };

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
    const prefix = this.#dir === '' ? 0 : this.#dir.length + 1;
    const excluded = (path: string): boolean => excludes.some((x) => x(path.slice(prefix)));
    const found = new Set<string>();
    const missingLiterals: string[] = [];
    const escapes: GlobEscape[] = [];
    for (const pattern of includes) {
      const matched = await this.#expand(ctx, pattern);
      if (matched === undefined) {
        missingLiterals.push(pattern);
        continue;
      }
      for (const f of matched.files) if (!excluded(f)) found.add(f);
      for (const e of matched.escapes) if (!excluded(e.path)) escapes.push({ pattern, ...e });
    }
    return { files: [...found].sort(), missingLiterals, escapes };
  }

  /** Files matching one include pattern; undefined for a literal that names nothing. */
  async #expand(ctx: ComputeContext, pattern: string): Promise<Expanded | undefined> {
    const scan = picomatch.scan(pattern);
    if (!scan.isGlob) {
      const full = joinRel(this.#dir, pattern);
      const real = await realPathOf(ctx, this.#ws, full);
      if (real.type === 'outside' || real.type === 'loop') return { files: [], escapes: [{ path: full, problem: real }] };
      const listing = await ctx.get(new ListingKey(this.#ws, dirnameRel(full)));
      return listing.files.includes(basenameRel(full)) ? { files: [full], escapes: [] } : undefined;
    }
    const base = scan.base === '' ? this.#dir : joinRel(this.#dir, scan.base);
    const baseReal = await realPathOf(ctx, this.#ws, base);
    if (baseReal.type === 'outside' || baseReal.type === 'loop') return { files: [], escapes: [{ path: base, problem: baseReal }] };
    const m = matcher(pattern);
    const prefix = this.#dir === '' ? 0 : this.#dir.length + 1;
    const matches = (path: string): boolean => m(path.slice(prefix));
    const segments = scan.glob.split('/');
    if (segments.includes('**') || segments.some((s) => s.includes('**'))) {
      const all = await ctx.get(new FilesUnderKey(this.#ws, base));
      return { files: all.files.filter(matches), escapes: all.escapes.filter((e) => matches(e.path)) };
    }
    // Without `**` the depth is fixed: walk exactly that many levels (through real directories only, as `**` does).
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
    const files: string[] = [];
    const escapes: { path: string; problem: LinkProblem }[] = [];
    const listings = await ctx.getAll(dirs.map((d) => new ListingKey(this.#ws, d)));
    listings.forEach((l, j) => {
      for (const f of l.files) {
        const full = joinRel(dirs[j]!, f);
        if (matches(full)) files.push(full);
      }
      for (const e of l.escapes) {
        const full = joinRel(dirs[j]!, e.name);
        if (matches(full)) escapes.push({ path: full, problem: e.problem });
      }
    });
    return { files, escapes };
  }
}
