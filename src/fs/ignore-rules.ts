import ignore, { type Ignore } from 'ignore';
import { dirnameRel, joinRel } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { DirEntriesKey } from './dir-entries.js';
import { FileTextKey } from './file-content.js';
import type { Workspace } from './workspace.js';

/** One level of gitignore rules: patterns relative to `base`. */
export interface IgnoreLevel {
  readonly base: string;
  readonly patterns: readonly string[];
}

/**
 * The ignore rules in force inside a directory, outermost first: the `ignore`
 * option, then every `.gitignore` from the root down. Plain data, so a changed
 * `.gitignore` whose rules are the same cuts off early.
 */
export interface IgnoreRules {
  readonly levels: readonly IgnoreLevel[];
}

export class IgnoreRulesKey implements Key<IgnoreRules> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #dir: string;
  constructor(ws: Workspace, dir: string) {
    this.#ws = ws;
    this.#dir = dir;
    this.id = `ignore-rules:${dir}`;
  }
  describe(): string {
    return `ignore rules of ${this.#dir || '.'}`;
  }
  async compute(ctx: ComputeContext): Promise<IgnoreRules> {
    const levels: IgnoreLevel[] =
      this.#dir === ''
        ? [{ base: '', patterns: [...this.#ws.rules.ignorePatterns] }]
        : [...(await ctx.get(new IgnoreRulesKey(this.#ws, dirnameRel(this.#dir)))).levels];
    if (this.#ws.rules.useGitignore) {
      const entries = await ctx.get(new DirEntriesKey(this.#ws, this.#dir));
      if (entries.entries.some((e) => e.name === '.gitignore' && e.kind === 'file')) {
        const text = await ctx.get(new FileTextKey(this.#ws, joinRel(this.#dir, '.gitignore')));
        if (text !== null) {
          const patterns = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
          if (patterns.length > 0) levels.push({ base: this.#dir, patterns });
        }
      }
    }
    return { levels };
  }
}

const compiled = new WeakMap<IgnoreRules, Array<{ base: string; patterns: readonly string[]; ig: Ignore }>>();

/**
 * One compiled matcher per pattern list: every directory's rules repeat the
 * levels above it (the `ignore` option, the root .gitignore), and compiling
 * them again per directory was ~20 ms of a cold run of 200 packages. A pure
 * memo (an Ignore answers by pattern and path alone), bounded.
 */
const byPatterns = new Map<string, Ignore>();
const BY_PATTERNS_MAX = 10_000;

function compiledPatterns(patterns: readonly string[]): Ignore {
  const key = patterns.join('\0');
  let ig = byPatterns.get(key);
  if (ig === undefined) {
    if (byPatterns.size >= BY_PATTERNS_MAX) byPatterns.clear();
    ig = ignore({ allowRelativePaths: true }).add(patterns as string[]);
    byPatterns.set(key, ig);
  }
  return ig;
}

/**
 * Whether `path` (a file, or a directory when `isDir`) is ignored, as git
 * decides: a directory above it that is excluded excludes it; otherwise the
 * deepest level that has an opinion on it wins. `rules` are those of the
 * directory holding `path`.
 */
export function isIgnored(rules: IgnoreRules, path: string, isDir: boolean): boolean {
  let levels = compiled.get(rules);
  if (!levels) {
    levels = rules.levels.map((l) => ({ base: l.base, patterns: l.patterns, ig: compiledPatterns(l.patterns) }));
    compiled.set(rules, levels);
  }
  for (let i = levels.length - 1; i >= 0; i--) {
    const level = levels[i]!;
    const rel = level.base === '' ? path : path.slice(level.base.length + 1);
    const r = level.ig.test(isDir ? `${rel}/` : rel);
    if (r.unignored) return false;
    if (!r.ignored) continue;
    // The matcher also counts a directory above `path` that this level excludes. Git does
    // too, unless a deeper .gitignore brought that directory back (`!out/` under a root
    // `out/`): then only this level's rules on `path` itself count.
    const slash = rel.lastIndexOf('/');
    if (i === levels.length - 1 || slash < 0 || !level.ig.test(rel.slice(0, slash + 1)).ignored) return true;
    const dir = dirnameRel(path);
    if (isIgnored(rulesAbove(rules, dir), dir, true)) return true;
    const own = ownMatch(level.patterns, rel.slice(0, slash), isDir ? `${rel}/` : rel);
    if (own === undefined || own.ignored) return true;
    if (own.unignored) return false;
  }
  return false;
}

/** The rules that decide about `dir` itself: those of the directory holding it (a `.gitignore` in `dir` is about what is under it). */
function rulesAbove(rules: IgnoreRules, dir: string): IgnoreRules {
  const last = rules.levels.at(-1);
  if (last === undefined || last.base !== dir || dir === '') return rules;
  let above = parentRules.get(rules);
  if (above === undefined) parentRules.set(rules, (above = { levels: rules.levels.slice(0, -1) }));
  return above;
}

const parentRules = new WeakMap<IgnoreRules, IgnoreRules>();

/** Directory names written into a pattern below as they are: nothing a gitignore pattern would read as syntax. */
const PLAIN_SEGMENT = /^[A-Za-z0-9._@+~-]+$/;

/**
 * What one level's patterns say about `rel` itself, with the directories
 * above it (`dirRel`, relative to the level) taken as not excluded: the
 * patterns plus a negation of each of those directories, which only they
 * match. Undefined when a directory name has characters a pattern would read
 * as syntax (then the caller keeps the matcher's answer, which hides).
 */
function ownMatch(patterns: readonly string[], dirRel: string, rel: string): { ignored: boolean; unignored: boolean } | undefined {
  const segments = dirRel.split('/');
  if (!segments.every((s) => PLAIN_SEGMENT.test(s))) return undefined;
  const negations = segments.map((_, i) => `!/${segments.slice(0, i + 1).join('/')}/`);
  return compiledPatterns([...patterns, ...negations]).test(rel);
}
