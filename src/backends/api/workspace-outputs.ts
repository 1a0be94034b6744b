import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, type BigIntStats } from 'node:fs';
import { readFile, rename, rm, symlink, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import picomatch from 'picomatch';
import { failure, FailureError, isAbortError, isFailureError, type Digest, type Sha256Hex } from '../../core/index.js';
import { RACY_MARGIN_MS, type FileDigestIndex } from '../../fs/index.js';
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
}

/**
 * writeOutputs as a rule or a goal calls it: the tree's listing is a
 * memoized key (store/tree-listing.ts: a fully cached run reads no Directory
 * from the store), and into the build root the file digest index is used.
 */
export function outputsOptions(rc: RuleContext, root: string): WriteOutputsOptions {
  const index = root === rc.root ? rc.project.ws.digestIndex : undefined;
  return {
    ...(index !== undefined ? { index } : {}),
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
 */
export async function writeOutputs(store: LocalStore, root: string, tree: Digest, globs: readonly string[], signal?: AbortSignal, options: WriteOutputsOptions = {}): Promise<WrittenOutputs> {
  const includes = globs.filter((g) => !g.startsWith('!'));
  const excludes = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  const isExcluded = excludes.length === 0 ? () => false : matcher(excludes);
  const isOutput = includes.length === 0 ? () => false : matcher(includes);
  const realRoot = realpathSync.native(root);
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
   * The directories this call created (mkdir said so): nothing was in them, so
   * their files need no look at what is there, and no stale file can be. A
   * restore (every dist/ deleted) writes into such directories only.
   */
  const created = new Set<string>();
  const written: string[] = [];
  let unchanged = 0;
  for (const e of entries) {
    if (signal?.aborted) throw abortedError();
    const dest = join(root, e.path);
    try {
      const dir = dirname(dest);
      if (!dirsChecked.has(dir)) {
        // Synchronous: through the thread pool, a fully cached build of 200 packages
        // suspended every build's check here at once, and its GC grew by a third.
        const first = mkdirSync(dir, { recursive: true });
        checkInside(realRoot, dir, e.path);
        dirsChecked.add(dir);
        // `first` is the outermost directory made; it and those under it down to `dir` are new.
        for (let d = dir; first !== undefined; d = dirname(d)) {
          created.add(d);
          if (d === first || dirname(d) === d) break;
        }
      }
      if (!created.has(dir) && (await isSame(dest, e, check))) {
        unchanged++;
        continue;
      }
      const tmp = join(dirname(dest), tmpName());
      try {
        if (e.kind === 'symlink') await symlink(e.target, tmp);
        else if ((await store.materializeFile(e.digest, tmp, { executable: e.isExecutable, mode: 'copy' }, signal)) === undefined) {
          throw new Error('its content is no longer in the local store; run the build again');
        }
        const st = lstatSync(dest, { throwIfNoEntry: false });
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
    // Made by this call: all it holds was written just now, from the tree.
    if (created.has(join(root, base))) continue;
    for (const path of await filesUnder(root, base)) {
      if (inTree.has(path) || !isOutput(path) || isExcluded(path)) continue;
      try {
        await unlink(join(root, path));
      } catch (err) {
        throw writeError(err, path);
      }
      removed.push(path);
    }
  }
  return { written, unchanged, removed: removed.sort(), hashed: check.hashed };
}

/**
 * A name for a file being written beside its destination: a random prefix per
 * process and a counter, unique among processes and calls as six random
 * bytes per file were, without asking the system for them per file (a
 * restore writes a thousand files or more, and that showed in its profile).
 */
let tmpPrefix: string | undefined;
let tmpCount = 0;
function tmpName(): string {
  tmpPrefix ??= randomBytes(6).toString('hex');
  return `.trews-${tmpPrefix}-${(tmpCount++).toString(36)}.tmp`;
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

interface SameCheck {
  readonly seen: Map<string, SeenFile>;
  readonly now: () => number;
  hashed: number;
  readonly index: FileDigestIndex | undefined;
}

async function isSame(dest: string, e: TreeEntry, check: SameCheck): Promise<boolean> {
  const { seen } = check;
  const st = lstatSync(dest, { bigint: true, throwIfNoEntry: false });
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
async function filesUnder(root: string, base: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
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
