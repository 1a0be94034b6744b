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

const compiled = new WeakMap<IgnoreRules, Array<{ base: string; ig: Ignore }>>();

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
 * Whether `path` (a file, or a directory when `isDir`) is ignored. The deepest
 * level that has an opinion wins, as in git; a directory ignored higher up is
 * never listed, so its contents never reach this question.
 */
export function isIgnored(rules: IgnoreRules, path: string, isDir: boolean): boolean {
  let levels = compiled.get(rules);
  if (!levels) {
    levels = rules.levels.map((l) => ({ base: l.base, ig: compiledPatterns(l.patterns) }));
    compiled.set(rules, levels);
  }
  for (let i = levels.length - 1; i >= 0; i--) {
    const { base, ig } = levels[i]!;
    const rel = base === '' ? path : path.slice(base.length + 1);
    const r = ig.test(isDir ? `${rel}/` : rel);
    if (r.ignored) return true;
    if (r.unignored) return false;
  }
  return false;
}
