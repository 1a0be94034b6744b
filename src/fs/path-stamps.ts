import { lstatSync, statSync, type BigIntStats } from 'node:fs';
import { dirnameRel } from '../core/index.js';
import { RACY_MARGIN_MS } from './file-digest-index.js';

/**
 * Stat stamps of the paths a kept graph's file-system nodes read, so that a
 * process without a daemon re-reads only the paths that changed since the
 * graph was kept, as git's index spares re-reading unchanged files. A stamp
 * is what `lstat` says of a path: its kind, size, mtime and ctime to the
 * nanosecond, inode, device and mode, or that nothing is there.
 *
 * A stamp is taken after the run that read the path, and recorded only when
 * it proves the path did not change since that run started:
 * - ctime moves on every write, chmod, rename and `utimes` and nobody can set
 *   it back, so a path whose mtime and ctime are older than the run's start
 *   (less RACY_MARGIN_MS, for coarse timestamps and a kernel clock lagging
 *   Date.now()) was not touched while the run read it;
 * - its directory must be as old: creating, removing or renaming an entry
 *   moves the directory's mtime, so an entry that came and went during the run
 *   (read while there, absent at the stamp) is caught by its directory.
 * Any other path is left without a stamp and is read again by the next run,
 * which stamps it once it is old enough. For a directory the stamp covers its
 * listing (names and kinds), which is all a listing node reads.
 */
export type PathStamps = ReadonlyMap<string, string>;

/** A stamp, and when its path (or the directory holding it) last changed. */
interface Observed {
  readonly stamp: string;
  readonly changedAtNs: bigint;
}

const ABSENT: Observed = { stamp: 'absent', changedAtNs: 0n };

function observe(root: string, path: string): Observed {
  // The paths are the graph's, root-relative and normalized: no join (and its normalize) needed.
  return observeAt(path === '' ? root : `${root}/${path}`, lstatSync);
}

function observeAt(abs: string, statFn: typeof lstatSync): Observed {
  let st: BigIntStats | undefined;
  try {
    st = statFn(abs, { bigint: true, throwIfNoEntry: false });
  } catch (e) {
    // ENOTDIR (a file where a directory was), EACCES…: what a read would have met too.
    return { stamp: `error:${(e as NodeJS.ErrnoException).code ?? 'unknown'}`, changedAtNs: 0n };
  }
  if (st === undefined) return ABSENT;
  const kind = st.isFile() ? 'f' : st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'o';
  const changedAtNs = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
  return { stamp: `${kind}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}:${st.mode}`, changedAtNs };
}

/**
 * Stamps for `paths` (relative to `root`) that prove them unchanged since
 * `startedAtMs`: a path changed later, or in a directory changed later, gets none.
 *
 * `observedAtLoad` holds what the loading run saw of the paths it read again
 * (changedPaths' `observed`), before it read them. A path that exists, is
 * older than the cut-off itself and has that very stamp still was the same
 * inode with the same times through every read of the run, so it is stamped
 * even when its directory changed meanwhile: the directory's rule is for an
 * entry that came and went during the run, which shows in neither of two
 * equal stamps of an existing path (a replacement has another inode, a write
 * another ctime). Without it, a directory written into by every run (a
 * package whose dist/ each restore makes anew) kept its subdirectories
 * unstamped for good, and every run read them again. An absent path still
 * needs its directory's proof.
 */
export function stampPaths(root: string, paths: Iterable<string>, startedAtMs: number, observedAtLoad?: ReadonlyMap<string, string>): Map<string, string> {
  const cutoffNs = racyCutoffNs(startedAtMs);
  const seen = new Map<string, Observed>();
  const at = (path: string): Observed => {
    let o = seen.get(path);
    if (o === undefined) seen.set(path, (o = observe(root, path)));
    return o;
  };
  const out = new Map<string, string>();
  for (const path of paths) {
    if (out.has(path)) continue;
    const own = at(path);
    if (own.changedAtNs >= cutoffNs) continue;
    const dirChanged = path !== '' && at(dirnameRel(path)).changedAtNs >= cutoffNs;
    const sameSinceLoad = own !== ABSENT && !own.stamp.startsWith('error:') && observedAtLoad?.get(path) === own.stamp;
    if (dirChanged && !sameSinceLoad) continue;
    out.set(path, own.stamp);
  }
  return out;
}

/**
 * Stamps of `paths` as they are now, at `atMs`, for a caller that learns of
 * every change made before that moment by other means (the daemon's watcher,
 * synced right after): unlike stampPaths, no directory need be old, only the
 * path itself. `racy` names the paths changed within RACY_MARGIN_MS of `atMs`,
 * whose next change could fall in the same timestamp tick and leave the
 * stamp equal: a stamp equal later proves nothing for them.
 */
export function stampPathsNow(root: string, paths: Iterable<string>, atMs: number): { stamps: Map<string, string>; racy: Set<string> } {
  return stampsNow(paths, atMs, (path) => observe(root, path));
}

/**
 * The stamps of absolute paths as `stat` sees them through their links (a
 * program on the machine: the file it runs is what counts), taken as
 * stampPathsNow takes them; with `racy` the paths changed within
 * RACY_MARGIN_MS of `atMs`.
 */
export function stampFollowingNow(paths: Iterable<string>, atMs: number): { stamps: Map<string, string>; racy: Set<string> } {
  return stampsNow(paths, atMs, (path) => observeAt(path, statSync));
}

function stampsNow(paths: Iterable<string>, atMs: number, at: (path: string) => Observed): { stamps: Map<string, string>; racy: Set<string> } {
  const cutoffNs = racyCutoffNs(atMs);
  const stamps = new Map<string, string>();
  const racy = new Set<string>();
  for (const path of paths) {
    if (stamps.has(path)) continue;
    const o = at(path);
    stamps.set(path, o.stamp);
    if (o.changedAtNs >= cutoffNs) racy.add(path);
  }
  return { stamps, racy };
}

/** The stamp of a root-relative path now (lstat), as stampPaths records it. */
export function stampOf(root: string, path: string): string {
  return observe(root, path).stamp;
}

/** The stamp of an absolute path now, through its links, as stampFollowingNow records it. */
export function stampFollowing(abs: string): string {
  return observeAt(abs, statSync).stamp;
}

/** A change at or after this (ns since the epoch) is racy as of `ms`: a later write may leave its stamp equal. */
function racyCutoffNs(ms: number): bigint {
  return BigInt(Math.floor(ms - RACY_MARGIN_MS)) * 1_000_000n;
}

/**
 * Which of `paths` have no stamp in `stamps` or a different one now: what a
 * loaded graph must read again. `observed`, when given, receives the stamp
 * each of those has now (for stampPaths' `observedAtLoad`).
 */
export function changedPaths(root: string, stamps: PathStamps, paths: Iterable<string>, observed?: Map<string, string>): Set<string> {
  const changed = new Set<string>();
  const checked = new Set<string>();
  for (const path of paths) {
    if (checked.has(path)) continue;
    checked.add(path);
    const recorded = stamps.get(path);
    const now = observe(root, path).stamp;
    if (recorded === undefined || now !== recorded) {
      changed.add(path);
      observed?.set(path, now);
    }
  }
  return changed;
}
