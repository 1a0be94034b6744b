import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, statSync, type BigIntStats } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, symlink, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import picomatch from 'picomatch';
import { failure, FailureError, isAbortError, isFailureError, type Digest, type Sha256Hex } from '../../core/index.js';
import { RACY_MARGIN_MS, workDirOf, type FileDigestIndex } from '../../fs/index.js';
import { flushTree, listTree, TreeListingKey, type LocalStore, type TreeEntry } from '../../store/index.js';
import type { RuleContext } from './rule-context.js';

/** What writing outputs into the workspace did. */
export interface WrittenOutputs {
  /** Files (and symlinks) written because they were absent or differed, root-relative. */
  readonly written: readonly string[];
  readonly unchanged: number;
  /** Stale files removed from the declared outputs. */
  readonly removed: readonly string[];
  /** Files whose bytes were read to compare them; the other unchanged ones were known by their stat. */
  readonly hashed: number;
}

export interface WriteOutputsOptions {
  /** The clock of the racy-clean rule (tests move it forward to make files old). */
  readonly now?: () => number;
  /**
   * The build root's persisted file digest index (fs/file-digest-index.ts),
   * when `root` is the build root: a process without a daemon then knows
   * unchanged outputs by their stat, as the last process left them.
   */
  readonly index?: FileDigestIndex;
  /** The tree's files (default: read from the store, listTree). */
  readonly listing?: (tree: Digest) => Promise<readonly TreeEntry[]>;
  /**
   * A directory on the root's file system that no watcher watches (the build
   * root's `.trews.d/tmp`): a declared output directory absent from the
   * workspace is made there whole and renamed into place (see writeOutputs).
   */
  readonly stagingDir?: string;
  /**
   * Told each root-relative path whose state the call's answer rests on: the
   * outputs it compared, the directories it checked on the way and those it
   * listed for stale files. A run that wrote nothing can then be proven a
   * no-op again by their stamps (cli/replay-record.ts).
   */
  readonly observed?: (path: string) => void;
  /**
   * Told, after a call that left the outputs as the tree has them and
   * removed nothing, what they are when a replay could write them back
   * itself: every declared output is a whole directory (`<dir>/**`, none
   * excluded, none inside another), so the tree's entries are all there is
   * under those directories (cli/replay-record.ts, src/native-client/replay.c).
   */
  readonly restorable?: (plan: RestorePlan) => void;
}

/** A build's outputs as a replay may restore them: the declared directories and everything the tree holds under them. */
export interface RestorePlan {
  /** Root-relative, none inside another. */
  readonly bases: readonly string[];
  /** Root-relative paths, each under one of `bases`. */
  readonly entries: readonly TreeEntry[];
}

/**
 * writeOutputs as a rule or a goal calls it: the tree's listing is a
 * memoized key (store/tree-listing.ts: a fully cached run reads no Directory
 * from the store), and into the build root the file digest index is used.
 */
export function outputsOptions(rc: RuleContext, root: string): WriteOutputsOptions {
  const inBuildRoot = root === rc.root;
  const index = inBuildRoot ? rc.project.ws.digestIndex : undefined;
  return {
    ...(index !== undefined ? { index } : {}),
    ...(inBuildRoot ? { stagingDir: join(workDirOf(root), STAGING_DIR) } : {}),
    listing: (tree) => rc.reader.get(new TreeListingKey(rc.store, tree)),
  };
}

/**
 * Writes a build's outputs into the workspace, as `trews build` does:
 * `tree` holds them at their build-root paths, `globs` are the declared
 * outputs from the build root (`packages/lib/dist/**`, `!…` narrows).
 *
 * Only what changed is touched, so editors, watchers and the daemon see no
 * churn: a file whose content (SHA-256) and mode already match is left
 * alone; others are written to a temporary name beside them and renamed
 * into place, so a reader never sees half a file. Files the declared
 * outputs match that the tree no longer has are removed. Nothing outside
 * the declared outputs is touched, and nothing is written through a
 * symlink that leads out of the build root.
 *
 * A declared output directory (`packages/lib/dist/**`) that is absent —
 * the restore after `rm -rf dist` — is made whole in `stagingDir` and
 * renamed into place: one event for a watcher instead of a few per file (a
 * daemon's watcher took a restore of 1,200 files for a burst that may have
 * overflowed the kernel's queue), and a reader sees all of it or none.
 */
export async function writeOutputs(store: LocalStore, root: string, tree: Digest, globs: readonly string[], signal?: AbortSignal, options: WriteOutputsOptions = {}): Promise<WrittenOutputs> {
  const includes = globs.filter((g) => !g.startsWith('!'));
  const excludes = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  const isExcluded = excludes.length === 0 ? () => false : matcher(excludes);
  const isOutput = includes.length === 0 ? () => false : matcher(includes);
  let realRootMemo: string | undefined;
  const realRoot = (): string => (realRootMemo ??= realpathSync.native(root));
  let entries: readonly TreeEntry[];
  if (options.listing !== undefined) {
    entries = await options.listing(tree);
    // The files are read from the store below: what the run only staged must be there.
    await flushTree(store, tree, signal);
  } else {
    entries = await listTree(store, tree, signal);
  }
  entries = entries.filter((e) => isOutput(e.path) && !isExcluded(e.path));
  const inTree = new Set(entries.map((e) => e.path));
  const seen = seenFor(store);
  const check: SameCheck = { seen, now: options.now ?? Date.now, hashed: 0, index: options.index };
  /** Directories made and found inside the root by this call: once each, not once per file. */
  const dirsChecked = new Set<string>();
  /**
   * Whether `dir` is inside the real root because every step down to it from
   * the root is a directory and not a link: one lstat per directory where a
   * realpath costs one per component (a fully cached `build` of 200 packages
   * spent 14 ms of its run on them).
   */
  const knownInside = (dir: string): boolean => {
    if (dir === root || dirsChecked.has(dir)) return true;
    if (!dir.startsWith(root + sep) || !knownInside(dirname(dir))) return false;
    if (lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) return false;
    dirsChecked.add(dir);
    options.observed?.(relative(root, dir));
    return true;
  };
  const ensureDir = (dir: string, path: string): void => {
    if (knownInside(dir)) return;
    if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) {
      // Checked before anything is made: `mkdir -p` through a link out of the
      // root would make its directories outside before the check below.
      let existing = dirname(dir);
      while (existing !== dirname(existing) && statSync(existing, { throwIfNoEntry: false }) === undefined) existing = dirname(existing);
      checkInside(realRoot(), existing, path);
      mkdirSync(dir, { recursive: true });
    }
    checkInside(realRoot(), dir, path);
    dirsChecked.add(dir);
  };
  const written: string[] = [];
  /** Output directories made whole and renamed into place: nothing in them to compare or remove. */
  const staged =
    options.stagingDir === undefined ? [] : await stageAbsentDirs(store, root, includes, entries, options.stagingDir, ensureDir, signal, options.now ?? Date.now);
  const inStaged = (path: string): boolean => staged.some((d) => path.startsWith(`${d}/`));
  let unchanged = 0;
  for (const e of entries) {
    if (signal?.aborted) throw abortedError();
    if (staged.length > 0 && inStaged(e.path)) {
      written.push(e.path);
      continue;
    }
    const dest = join(root, e.path);
    options.observed?.(e.path);
    try {
      ensureDir(dirname(dest), e.path);
      const st = lstatSync(dest, { bigint: true, throwIfNoEntry: false });
      if (await isSame(dest, st, e, check)) {
        unchanged++;
        continue;
      }
      const tmp = tempName(dirname(dest));
      try {
        await writeEntry(store, e, tmp, signal);
        if (st?.isDirectory() === true) await rm(dest, { recursive: true, force: true });
        await rename(tmp, dest);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
      written.push(e.path);
    } catch (err) {
      throw writeError(err, e.path);
    }
  }
  const removed: string[] = [];
  for (const base of new Set(includes.map((g) => picomatch.scan(g).base))) {
    if (staged.includes(base)) continue;
    for (const path of await filesUnder(root, base, options.observed)) {
      if (inTree.has(path) || !isOutput(path) || isExcluded(path)) continue;
      try {
        await unlink(join(root, path));
      } catch (err) {
        throw writeError(err, path);
      }
      removed.push(path);
    }
  }
  if (options.restorable !== undefined && removed.length === 0) {
    const bases = restorableBases(includes, excludes);
    if (bases !== undefined) options.restorable({ bases, entries });
  }
  return { written, unchanged, removed: removed.sort(), hashed: check.hashed };
}

/** The declared directories when every output glob is a whole one (`<dir>/**`), none excluded, none inside another; else undefined. */
function restorableBases(includes: readonly string[], excludes: readonly string[]): string[] | undefined {
  return excludes.length > 0 ? undefined : wholeDirBases(includes);
}

/** The directories of `includes` when each is a whole one (`<dir>/**`) and none is inside another; else undefined. */
function wholeDirBases(includes: readonly string[]): string[] | undefined {
  const bases = includes.map(everythingUnder);
  if (bases.length === 0 || !bases.every((b): b is string => b !== undefined)) return undefined;
  const unique = [...new Set(bases)];
  return unique.some((a) => unique.some((b) => a !== b && b.startsWith(`${a}/`))) ? undefined : unique;
}

/** Where a build root's writeOutputs stages whole output directories (under `.trews.d`, which no watcher sees). */
export const STAGING_DIR = 'tmp/outputs';

/**
 * Temporary names beside outputs and in the staging directory: a random
 * prefix per process and a counter (randomBytes per file cost a restore of
 * 1,200 files ~25 ms). Created exclusively, so a clash fails, never clobbers.
 */
const TEMP_PREFIX = `.trews-${randomBytes(6).toString('hex')}-`;
let tempSeq = 0;

function tempName(dir: string): string {
  return join(dir, `${TEMP_PREFIX}${(tempSeq++).toString(36)}.tmp`);
}

async function writeEntry(store: LocalStore, e: TreeEntry, path: string, signal: AbortSignal | undefined): Promise<void> {
  if (e.kind === 'symlink') await symlink(e.target, path);
  else if ((await store.materializeFile(e.digest, path, { executable: e.isExecutable, mode: 'copy' }, signal)) === undefined) {
    throw new Error('its content is no longer in the local store; run the build again');
  }
}

/**
 * Makes each declared output directory that is absent from the workspace
 * (`dist` of a `dist/**` glob; every include must be such a glob, none
 * inside another) whole in `stagingDir` and renames it into place. Returns
 * the root-relative directories so written. A directory that appeared
 * meanwhile, or a staging directory on another file system, leaves its
 * files to the caller's file-by-file path.
 */
async function stageAbsentDirs(
  store: LocalStore,
  root: string,
  includes: readonly string[],
  entries: readonly TreeEntry[],
  stagingDir: string,
  ensureDir: (dir: string, path: string) => void,
  signal: AbortSignal | undefined,
  now: () => number,
): Promise<string[]> {
  const unique = wholeDirBases(includes);
  if (unique === undefined) return [];
  await sweepAbandoned(stagingDir, now());
  const done: string[] = [];
  for (const base of unique) {
    const under = entries.filter((e) => e.path.startsWith(`${base}/`));
    if (under.length === 0) continue;
    const dest = join(root, base);
    if (lstatSync(dest, { throwIfNoEntry: false }) !== undefined) continue;
    ensureDir(dirname(dest), base);
    const stage = tempName(stagingDir);
    // Through the thread pool, as the copies: two hundred builds write at once, and
    // synchronous calls here held up the others' work (measured slower at 1,200 files).
    await mkdir(stage, { recursive: true });
    try {
      const made = new Set<string>([stage]);
      for (const e of under) {
        if (signal?.aborted) throw abortedError();
        const path = join(stage, e.path.slice(base.length + 1));
        const dir = dirname(path);
        if (!made.has(dir)) {
          await mkdir(dir, { recursive: true });
          made.add(dir);
        }
        try {
          await writeEntry(store, e, path, signal);
        } catch (err) {
          throw writeError(err, e.path);
        }
      }
      try {
        await rename(stage, dest);
      } catch {
        // Made meanwhile (EEXIST, ENOTEMPTY), or another file system (EXDEV): file by file, then.
        await rm(stage, { recursive: true, force: true });
        continue;
      }
    } catch (err) {
      await rm(stage, { recursive: true, force: true });
      throw err;
    }
    done.push(base);
  }
  return done;
}

/** Staging directories this process has swept already: once each is enough. */
const swept = new Set<string>();
/** A staged directory older than this belongs to no live write: staging one takes seconds. */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

/**
 * Removes what a killed process left in a staging directory (a write that
 * never reached its rename), once per process and directory. Only entries
 * untouched for an hour: another process may be staging beside this one.
 */
async function sweepAbandoned(stagingDir: string, now: number): Promise<void> {
  if (swept.has(stagingDir)) return;
  swept.add(stagingDir);
  let names: string[];
  try {
    names = await readdir(stagingDir);
  } catch {
    return; // not made yet: nothing was left
  }
  for (const name of names) {
    const path = join(stagingDir, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st !== undefined && now - st.mtimeMs > ABANDONED_AFTER_MS) await rm(path, { recursive: true, force: true });
  }
}

function abortedError(): Error {
  const e = new Error('aborted');
  e.name = 'AbortError';
  return e;
}

function writeError(err: unknown, path: string): unknown {
  if (isAbortError(err) || isFailureError(err)) return err;
  return new FailureError(
    failure('environment', 'output-write-failed', `cannot write the output \`${path}\` into the workspace: ${(err as Error).message}`, {
      hints: ['check the permissions of the directory, and that no directory of the path is a file'],
    }),
  );
}

function checkInside(realRoot: string, dir: string, path: string): void {
  const real = realpathSync.native(dir);
  if (real === realRoot || real.startsWith(realRoot + sep)) return;
  throw new FailureError(
    failure('input', 'output-outside-root', `the output \`${path}\` would be written through a symlink that leads out of the build root (to ${real})`, {
      hints: ['replace the symlink with a directory: trews writes outputs only inside the build root'],
    }),
  );
}

/**
 * What this process last found at each output path it hashed: the file's
 * stat then and the digest of its bytes, so a fully cached run (every file
 * of every dist/ already right) checks each by one lstat instead of reading
 * and hashing it, as git's index does. Kept per local store, i.e. per App:
 * a daemon's runs share it; a run without one starts empty.
 *
 * An entry is trusted only while the file's (size, mtime ns, ctime ns,
 * inode, device, mode) are exactly the ones recorded: an edit by hand
 * moves ctime (nobody can set it back), a replaced file has another inode.
 * Racy-clean, as fs/file-digest-index.ts: a file whose mtime or ctime is
 * not RACY_MARGIN_MS older than the moment it was hashed is not recorded,
 * since a later write in the same timestamp tick could leave its stat as
 * it is; so a file written by a run is hashed once more by a run a few
 * seconds later, and trusted by its stat from then on.
 */
interface SeenFile {
  readonly stat: string;
  readonly hash: string;
}

const MAX_SEEN = 250_000;
const seenByStore = new WeakMap<LocalStore, Map<string, SeenFile>>();

function seenFor(store: LocalStore): Map<string, SeenFile> {
  let seen = seenByStore.get(store);
  if (seen === undefined) seenByStore.set(store, (seen = new Map()));
  // Paths of outputs no build declares any more stay until the bound; then all are hashed once again.
  if (seen.size > MAX_SEEN) seen.clear();
  return seen;
}

function statKey(st: BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}:${st.mode}`;
}

const SMALL_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Whether the file at `dest` already holds `entry` (content and executable
 * bit), as writeOutputs decides it: by the digest `index` knows for its stat
 * when `relPath` (root-relative) has one there, else by reading it. For a
 * writer that replaces files outside declared outputs (`package`'s dist/),
 * so that an unchanged file is left alone.
 */
export async function alreadyHolds(store: LocalStore, dest: string, relPath: string | undefined, entry: TreeEntry, index: FileDigestIndex | undefined): Promise<boolean> {
  const st = lstatSync(dest, { bigint: true, throwIfNoEntry: false });
  const check: SameCheck = { seen: seenFor(store), now: Date.now, hashed: 0, index: relPath === undefined ? undefined : index };
  return isSame(dest, st, relPath === undefined ? entry : { ...entry, path: relPath }, check);
}

interface SameCheck {
  readonly seen: Map<string, SeenFile>;
  readonly now: () => number;
  hashed: number;
  readonly index: FileDigestIndex | undefined;
}

async function isSame(dest: string, st: BigIntStats | undefined, e: TreeEntry, check: SameCheck): Promise<boolean> {
  const { seen } = check;
  if (st === undefined) return false;
  if (e.kind === 'symlink') return st.isSymbolicLink() && readlinkSync(dest) === e.target;
  if (!st.isFile() || st.size !== BigInt(e.digest.sizeBytes) || ((st.mode & 0o100n) !== 0n) !== e.isExecutable) return false;
  const stat = statKey(st);
  const known = seen.get(dest);
  if (known !== undefined && known.stat === stat) return known.hash === e.digest.hash;
  // The index applies its own racy-clean rule to what it records (the same margin).
  const indexed = check.index?.lookup(e.path, st);
  if (indexed !== undefined) {
    seen.set(dest, { stat, hash: indexed });
    return indexed === e.digest.hash;
  }
  check.hashed++;
  const h = createHash('sha256');
  if (st.size <= SMALL_FILE_BYTES) h.update(await readFile(dest));
  else for await (const chunk of createReadStream(dest)) h.update(chunk as Buffer);
  const hash = h.digest('hex') as Sha256Hex;
  check.index?.record(e.path, st, hash);
  const changedAtNs = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
  if (changedAtNs < BigInt(Math.floor(check.now() - RACY_MARGIN_MS)) * 1_000_000n) seen.set(dest, { stat, hash });
  else seen.delete(dest);
  return hash === e.digest.hash;
}

/** Compiled glob lists, by the list: every run of every build asks again for the same few. */
const matchers = new Map<string, (path: string) => boolean>();

/** A directory named by plain characters only: no glob syntax, no escape, no `.`/`..` or hidden segment. */
const PLAIN_DIR = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;

/**
 * The directory of a glob that is `<plain dir>/**` (everything under it, as
 * `packages/lib/dist/**`), else undefined. Such a glob (with `dot`) matches
 * the directory itself and every path under it, which a prefix test says
 * without compiling it: a process without a daemon compiled one per build
 * per run, and tested it against every file of the build's tree.
 */
function everythingUnder(glob: string): string | undefined {
  if (!glob.endsWith('/**')) return undefined;
  const dir = glob.slice(0, -3);
  return PLAIN_DIR.test(dir) ? dir : undefined;
}

function matcher(globs: readonly string[]): (path: string) => boolean {
  const id = JSON.stringify(globs);
  let m = matchers.get(id);
  if (m === undefined) {
    if (matchers.size >= 1000) matchers.clear();
    const dirs = globs.map(everythingUnder);
    if (dirs.every((d): d is string => d !== undefined)) {
      const prefixes = dirs.map((d) => `${d}/`);
      m = (path) => {
        for (let i = 0; i < dirs.length; i++) if (path === dirs[i] || path.startsWith(prefixes[i]!)) return true;
        return false;
      };
    } else {
      m = picomatch([...globs], { dot: true });
    }
    matchers.set(id, m);
  }
  return m;
}

/** For the tests: the matcher writeOutputs uses for a list of globs. */
export const outputMatcherForTests = matcher;

/** Files and symlinks under `base` (root-relative), not following symlinks; none when it is absent. */
async function filesUnder(root: string, base: string, observed?: (path: string) => void): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    observed?.(rel);
    let names;
    try {
      // Synchronous: a listing per output directory per build, every run.
      names = readdirSync(join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const n of names) {
      const p = rel === '' ? n.name : `${rel}/${n.name}`;
      // Installed packages are never outputs, whatever a glob says.
      if (n.isDirectory()) {
        if (n.name !== 'node_modules') await walk(p);
      }
      else out.push(p);
    }
  };
  await walk(base);
  return out;
}
