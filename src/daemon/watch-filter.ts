import { ALWAYS_IGNORED_DIRS, isIgnored, type IgnoreRules } from '../fs/index.js';
import { COOKIES_REL } from './layout.js';

/**
 * The build-root-relative posix path of a watcher event (`''` for the root
 * itself), or undefined for a path outside the root.
 */
export function relativeEventPath(root: string, abs: string, sep = '/'): string | undefined {
  const base = root.endsWith(sep) ? root.slice(0, -1) : root;
  if (abs === base) return '';
  if (!abs.startsWith(base + sep)) return undefined;
  const rel = abs.slice(base.length + 1);
  return sep === '/' ? rel : rel.split(sep).join('/');
}

export type EventClass =
  /** A sync cookie the daemon wrote (its file name). */
  | { readonly kind: 'cookie'; readonly name: string }
  /** Inside `.git` or `.trews.d`: never a file trews reads. */
  | { readonly kind: 'internal' }
  /** Hidden by the ignore rules: trews cannot see it, so no key depends on it. */
  | { readonly kind: 'ignored' }
  | { readonly kind: 'visible' };

export type PathKind = 'file' | 'dir' | 'missing';

/**
 * Sorts watcher events into what the engine must hear about and what it need
 * not. An event for a path trews cannot see is dropped here because `--loop`
 * would otherwise re-run whenever a build writes into an ignored `dist/`; the
 * engine itself would have cut off early anyway.
 *
 * It uses the rules of the build root (the `ignore` option and the root
 * `.gitignore`), those of every nested `.gitignore` found when the watch
 * started (a nested `!dist/` brings back what the root's `dist/` hides, for
 * the engine and so here), and the ignored directories found then. A
 * `.gitignore` added later sets the watch up again (watcher.ts).
 */
export class WatchFilter {
  readonly #rules: IgnoreRules;
  readonly #ignoredDirs: ReadonlySet<string>;
  readonly #kindOf: (rel: string) => PathKind;
  readonly #nested: ReadonlyMap<string, IgnoreRules>;

  /**
   * @param kindOf what is at a path now; asked only for a path that a
   *   directory-only pattern (`dist/`) would hide, where a file of that name
   *   must still be seen.
   * @param nested the rules of each directory with a `.gitignore` of its own
   *   (IgnoredDirs.nested): a path is judged by those of its deepest such
   *   ancestor, as the engine judges it.
   */
  constructor(rules: IgnoreRules, ignoredDirs: Iterable<string>, kindOf: (rel: string) => PathKind, nested: ReadonlyMap<string, IgnoreRules> = new Map()) {
    this.#rules = rules;
    this.#ignoredDirs = new Set(ignoredDirs);
    this.#kindOf = kindOf;
    this.#nested = nested;
  }

  /** The rules below `dir`: its own when it has a `.gitignore`, else `above` (those of its parent). */
  #below(dir: string, above: IgnoreRules): IgnoreRules {
    return this.#nested.size === 0 ? above : (this.#nested.get(dir) ?? above);
  }

  classify(rel: string): EventClass {
    if (rel.startsWith(`${COOKIES_REL}/`)) {
      const name = rel.slice(COOKIES_REL.length + 1);
      return name.includes('/') ? { kind: 'internal' } : { kind: 'cookie', name };
    }
    if (rel === '') return { kind: 'visible' };
    const parts = rel.split('/');
    const last = parts.length - 1;
    // Directories named .git or .trews.d are invisible at any depth (a `.git` *file*, as in a worktree, is not).
    for (let i = 0; i < last; i++) if (ALWAYS_IGNORED_DIRS.has(parts[i]!)) return { kind: 'internal' };
    if (ALWAYS_IGNORED_DIRS.has(parts[last]!) && this.#kindOf(rel) !== 'file') return { kind: 'internal' };
    let dir = '';
    let rules = this.#below('', this.#rules);
    for (let i = 0; i < last; i++) {
      dir = i === 0 ? parts[0]! : `${dir}/${parts[i]!}`;
      if (this.#ignoredDirs.has(dir) || isIgnored(rules, dir, true)) return { kind: 'ignored' };
      rules = this.#below(dir, rules);
    }
    if (this.#ignoredDirs.has(rel) || isIgnored(rules, rel, false)) return { kind: 'ignored' };
    // A gone path cannot be asked; passing its event on is the safe side.
    if (isIgnored(rules, rel, true) && this.#kindOf(rel) === 'dir') return { kind: 'ignored' };
    return { kind: 'visible' };
  }

  /**
   * The outermost directory that hides `rel` (`rel` itself when it is an
   * ignored directory), by the same rules as `classify`; undefined when none
   * does. Not for `.git`, `.trews.d` or cookies, which the watch leaves out by pattern.
   */
  hidingDir(rel: string): string | undefined {
    return this.#hidingDir(rel, true);
  }

  /**
   * The outermost directory that would hide `rel` if `rel` were a directory,
   * whatever is there now (nothing, after an `rm -rf dist`): a directory-only
   * pattern (`dist/`) counts. Undefined when none would.
   */
  hidingDirIfDir(rel: string): string | undefined {
    return this.#hidingDir(rel, false);
  }

  #hidingDir(rel: string, askKind: boolean): string | undefined {
    const parts = rel.split('/');
    let dir = '';
    let rules = this.#below('', this.#rules);
    for (let i = 0; i < parts.length - 1; i++) {
      dir = i === 0 ? parts[0]! : `${dir}/${parts[i]!}`;
      if (this.#ignoredDirs.has(dir) || isIgnored(rules, dir, true)) return dir;
      rules = this.#below(dir, rules);
    }
    if (rel === '') return undefined;
    if (this.#ignoredDirs.has(rel) || (isIgnored(rules, rel, true) && (!askKind || this.#kindOf(rel) === 'dir'))) return rel;
    return undefined;
  }
}
