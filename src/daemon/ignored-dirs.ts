import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ALWAYS_IGNORED_DIRS, isIgnored, type FsRules, type IgnoreLevel, type IgnoreRules } from '../fs/index.js';

/** More ignored directories than this are not worth listing to the native watcher one by one. */
const MAX_IGNORED_DIRS = 5000;
/** Directories listed at once while crawling. */
const CONCURRENCY = 16;

export interface IgnoredDirs {
  /** The rules in force at the build root: the `ignore` option, then the root `.gitignore`. */
  readonly rootRules: IgnoreRules;
  /**
   * Build-root-relative directories the rules hide, outermost only (nothing
   * under one of them is listed), shallowest first. `.git` and `.trews.d` are
   * not among them: the watcher leaves those out by pattern, at any depth.
   */
  readonly dirs: readonly string[];
  /** More were found than are listed; the rest are filtered event by event. */
  readonly truncated: boolean;
  /**
   * The rules in force in each directory that has a `.gitignore` of its own
   * (the levels above it plus its file): what decides about a path below it,
   * where a nested `!dist/` can bring back what the root's rules hide.
   */
  readonly nested: ReadonlyMap<string, IgnoreRules>;
}

/**
 * Walks the build root as the engine's listings would, applying the `ignore`
 * option and every `.gitignore` (when `ignore_use_gitignore`), to find the
 * directories trews never looks into. The native watcher is told to skip them,
 * which keeps `node_modules` and the like from costing an inotify watch per
 * directory. The walk mirrors IgnoreRulesKey: one level per `.gitignore`, the
 * deepest level with an opinion wins. Symbolic links are not followed (the
 * native watcher does not follow them either).
 */
export async function findIgnoredDirs(root: string, rules: FsRules): Promise<IgnoredDirs> {
  const rootLevels = await withGitignore(root, '', [{ base: '', patterns: [...rules.ignorePatterns] }], rules.useGitignore);
  const found: string[] = [];
  const nested = new Map<string, IgnoreRules>();
  // Each entry carries the levels of its parent; its own .gitignore is added once it is listed.
  let queue: { dir: string; levels: IgnoreLevel[] }[] = [{ dir: '', levels: rootLevels }];
  while (queue.length > 0) {
    const next: typeof queue = [];
    for (let i = 0; i < queue.length; i += CONCURRENCY) {
      await Promise.all(
        queue.slice(i, i + CONCURRENCY).map(async ({ dir, levels }) => {
          let entries;
          try {
            entries = await readdir(join(root, dir), { withFileTypes: true });
          } catch {
            return; // gone or unreadable: nothing to hide, the watcher will say what happens to it
          }
          const own = dir !== '' && rules.useGitignore && entries.some((e) => e.name === '.gitignore' && e.isFile());
          const here: IgnoreRules = { levels: own ? await withGitignore(root, dir, levels, true) : levels };
          if (here.levels !== levels) nested.set(dir, here);
          for (const e of entries) {
            if (!e.isDirectory() || ALWAYS_IGNORED_DIRS.has(e.name)) continue;
            const rel = dir === '' ? e.name : `${dir}/${e.name}`;
            if (isIgnored(here, rel, true)) {
              found.push(rel);
              continue;
            }
            next.push({ dir: rel, levels: here.levels as IgnoreLevel[] });
          }
        }),
      );
    }
    queue = next;
  }
  found.sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
  return {
    rootRules: { levels: rootLevels },
    dirs: found.slice(0, MAX_IGNORED_DIRS),
    truncated: found.length > MAX_IGNORED_DIRS,
    nested,
  };
}

/** `levels` plus the `.gitignore` of `dir`, if it has rules. */
async function withGitignore(root: string, dir: string, levels: IgnoreLevel[], useGitignore: boolean): Promise<IgnoreLevel[]> {
  if (!useGitignore) return levels;
  let text: string;
  try {
    // A symlinked .gitignore is not honoured, by git or by IgnoreRulesKey.
    if (!(await lstat(join(root, dir, '.gitignore'))).isFile()) return levels;
    text = await readFile(join(root, dir, '.gitignore'), 'utf8');
  } catch {
    return levels;
  }
  // The same reading as IgnoreRulesKey's, so both agree on what is hidden.
  const patterns = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  return patterns.length > 0 ? [...levels, { base: dir, patterns }] : levels;
}

function depth(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}
