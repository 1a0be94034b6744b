import { chmod, lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
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

export async function createSandboxDir(sandboxRoot: string): Promise<SandboxDir> {
  let dir: string;
  try {
    dir = await mkdtemp(join(sandboxRoot, SANDBOX_PREFIX));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // First use, or the root was cleaned away meanwhile: one mkdir on the rare path, not per process.
    await mkdir(sandboxRoot, { recursive: true });
    dir = await mkdtemp(join(sandboxRoot, SANDBOX_PREFIX));
  }
  // From here until it is removed or kept, an early exit removes it, and a daemon's successor if it is killed.
  trackSandbox(dir);
  const root = join(dir, 'root');
  await mkdir(root);
  return {
    dir,
    root,
    stdoutPath: join(dir, 'stdout'),
    stderrPath: join(dir, 'stderr'),
    runScriptPath: join(dir, '__run.sh'),
  };
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
