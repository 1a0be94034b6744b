import { lstatSync, mkdirSync, mkdtempSync, renameSync, type Stats } from 'node:fs';
import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { failure, FailureError } from '../core/index.js';
import { trackSandbox, untrackSandbox } from './process-group.js';

/**
 * One process's sandbox:
 *
 *   <sandboxRoot>/trews-sandbox-XXXXXX/
 *     root/      the input root, materialized; the process runs in root/<working directory>
 *     stdout     the process's stdout and stderr, outside the input tree so they can
 *     stderr     never collide with an input or be captured as an output
 *     __run.sh   written only when the sandbox is kept
 */
export interface SandboxDir {
  readonly dir: string;
  readonly root: string;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  readonly runScriptPath: string;
}

const SANDBOX_PREFIX = 'trews-sandbox-';

/**
 * The default sandbox root: `<tmpdir>/trews-<uid>/sandboxes`, one per user.
 * A shared, predictable name such as `/tmp/trews-sandboxes` can be made first
 * by another user, who could then swap a sandbox for a symlink and read or
 * write what our processes see. (`trews-<uid>` is also where the daemon puts
 * its socket when the work dir's path is too long; both want it private.)
 */
export function defaultSandboxRoot(tmp: string, uid: number | undefined): string {
  return join(tmp, uid === undefined ? 'trews' : `trews-${uid}`, 'sandboxes');
}

/**
 * `traversable`: the root may be 0711, so that a process run as another user
 * (`trews remote-server --run-as`) can reach its own sandbox inside it; it is
 * still ours and writable by no one else, so nobody can swap a sandbox.
 */
export async function createSandboxDir(sandboxRoot: string, opts: { readonly traversable?: boolean } = {}): Promise<SandboxDir> {
  // Checked for every sandbox, not once per process: a tmp reaper may remove
  // the root of an idle daemon, and someone else make it again. A few stat
  // calls are nothing next to starting a process — when they are made at
  // once: each through the thread pool was a round trip of two thread
  // wake-ups, milliseconds each on a loaded machine, six in a row.
  prepareSandboxRoot(sandboxRoot, opts.traversable === true);
  const dir = mkdtempSync(join(sandboxRoot, SANDBOX_PREFIX));
  // From here until it is removed or kept, an early exit removes it, and a daemon's successor if it is killed.
  trackSandbox(dir);
  const root = join(dir, 'root');
  mkdirSync(root);
  await Promise.resolve(); // callers keep an async contract
  return {
    dir,
    root,
    stdoutPath: join(dir, 'stdout'),
    stderrPath: join(dir, 'stderr'),
    runScriptPath: join(dir, '__run.sh'),
  };
}

/**
 * Makes the sandbox root and checks it, and the directory holding it, before
 * anything is put there. The root must be a real directory (not a symlink),
 * ours, and private (mode 700: sandboxes hold the inputs and outputs of our
 * processes). Its parent must be a real directory owned by us (or root) that
 * no one else can write to, unless it is sticky like /tmp: whoever can
 * rename entries in it could swap the root for something of theirs after the
 * check. With both true no other user can change anything below.
 */
function prepareSandboxRoot(sandboxRoot: string, traversable: boolean): void {
  const uid = process.getuid?.();
  const parent = dirname(sandboxRoot);
  // The usual case, both there: two lstat calls. Otherwise they are made (missing
  // ancestors private too; existing ones are left as they are) and looked at again.
  let parentSt = lstatOrMissing(parent);
  let rootSt = parentSt === undefined ? undefined : lstatOrMissing(sandboxRoot);
  if (parentSt === undefined || rootSt === undefined) {
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(sandboxRoot, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    parentSt = lstatSync(parent);
    rootSt = lstatSync(sandboxRoot);
  }
  if (uid === undefined) return; // no owners to compare (Windows)
  const problem = unsafeParent(parent, parentSt, uid) ?? unsafeRoot(sandboxRoot, rootSt, uid, traversable);
  if (problem !== undefined) {
    throw new FailureError(
      failure('environment', 'sandbox-root-unsafe', `refusing to make sandboxes in ${sandboxRoot}: ${problem.what}`, { hints: [problem.hint] }),
    );
  }
}

interface Problem {
  readonly what: string;
  readonly hint: string;
}

const NOT_OURS = 'another user may have made it to see or change what our processes read and write; remove it (ask an administrator if it is not yours), or point TMPDIR at a directory of your own';

function lstatOrMissing(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function unsafeRoot(dir: string, st: Stats, uid: number, traversable: boolean): Problem | undefined {
  if (st.isSymbolicLink()) return { what: 'it is a symlink, not a directory', hint: NOT_OURS };
  if (!st.isDirectory()) return { what: 'it is not a directory', hint: `remove ${dir}` };
  if (st.uid !== uid) return { what: `it belongs to user ${st.uid}, not to this user (${uid})`, hint: NOT_OURS };
  if ((st.mode & (traversable ? 0o066 : 0o077)) !== 0) {
    return { what: `it has mode ${octal(st.mode)}; it must be private to this user (mode 700)`, hint: `make it private (\`chmod 700 ${dir}\`), or remove it` };
  }
  return undefined;
}

function unsafeParent(dir: string, st: Stats, uid: number): Problem | undefined {
  if (st.isSymbolicLink()) return { what: `the directory holding it, ${dir}, is a symlink`, hint: NOT_OURS };
  if (!st.isDirectory()) return { what: `${dir} is not a directory`, hint: `remove ${dir}` };
  if (st.uid !== uid && st.uid !== 0) return { what: `the directory holding it, ${dir}, belongs to user ${st.uid}, not to this user (${uid})`, hint: NOT_OURS };
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !sticky) {
    return {
      what: `the directory holding it, ${dir}, has mode ${octal(st.mode)}: other users could swap the sandboxes for something of theirs`,
      hint: `make it private (\`chmod 700 ${dir}\`), or remove it`,
    };
  }
  return undefined;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, '0');
}

/**
 * Removes a sandbox whatever the process did to it. Inputs are read-only
 * hard links (harmless: unlinking needs only a writable directory), but a
 * process may have made directories read-only; those are made writable and
 * the removal retried.
 */
export async function removeSandboxDir(dir: string): Promise<void> {
  try {
    try {
      await rm(dir, { recursive: true, force: true, maxRetries: 2 });
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOTEMPTY') throw e;
    }
    await makeWritable(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 2 });
  } finally {
    untrackSandbox(dir);
  }
}

/**
 * Takes a finished sandbox out of the way at once and removes it in the
 * background: the process's result need not wait for ~50 unlink and rmdir
 * calls (an rmdir on this VM's ext4 can take 2 ms). The sandbox is renamed
 * (one call, same file system) into `<sandbox root>/../sandbox-trash/`,
 * which must be a private directory of ours like the sandbox root (made so
 * when missing); it stays tracked under its new path (same name) until
 * removed, so an exit removes it and a daemon's successor too. When the
 * trash cannot be used, the sandbox is removed in place, awaited.
 * `onError` hears of a background removal that failed.
 */
export async function discardSandboxDir(dir: string, sandboxRoot: string, onError: (e: unknown) => void): Promise<void> {
  const to = join(dirname(sandboxRoot), TRASH_DIR, basename(dir));
  try {
    privateTrash(dirname(to));
    renameSync(dir, to);
  } catch {
    await removeSandboxDir(dir);
    return;
  }
  untrackSandbox(dir);
  trackSandbox(to);
  removeSandboxDir(to).catch(onError);
}

const TRASH_DIR = 'sandbox-trash';

/** The trash, made if missing; throws unless it is a real directory of ours, private. */
function privateTrash(trash: string): void {
  let st = lstatOrMissing(trash);
  if (st === undefined) {
    try {
      mkdirSync(trash, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    st = lstatSync(trash);
  }
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && (st.uid !== uid || (st.mode & 0o077) !== 0))) throw new Error(`${trash} is not a private directory of ours`);
}

/** The sandbox is the user's now (`keep_sandboxes`): nothing removes it on exit or after a crash. */
export function keepSandboxDir(dir: string): void {
  untrackSandbox(dir);
}

/**
 * Removes a sandbox that a trews process now dead left behind (recorded in its
 * journal). A path that is not a sandbox's is refused: the record is a file
 * anyone of this user could have edited.
 */
export async function removeLeftSandboxDir(dir: string): Promise<boolean> {
  if (!isAbsolute(dir) || !basename(dir).startsWith(SANDBOX_PREFIX)) return false;
  await removeSandboxDir(dir);
  return true;
}

async function makeWritable(dir: string): Promise<void> {
  try {
    const st = await lstat(dir);
    if (!st.isDirectory()) return;
    await chmod(dir, 0o700);
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await makeWritable(join(dir, e.name));
    }
  } catch {
    // Best effort: rm reports what still cannot be removed.
  }
}
