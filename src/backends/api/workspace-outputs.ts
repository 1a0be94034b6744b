import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, realpath, rename, rm, symlink, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import picomatch from 'picomatch';
import { failure, FailureError, isAbortError, isFailureError, type Digest } from '../../core/index.js';
import { listTree, type LocalStore, type TreeEntry } from '../../store/index.js';

/** What writing outputs into the workspace did. */
export interface WrittenOutputs {
  /** Files (and symlinks) written because they were absent or differed, root-relative. */
  readonly written: readonly string[];
  readonly unchanged: number;
  /** Stale files removed from the declared outputs. */
  readonly removed: readonly string[];
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
export async function writeOutputs(store: LocalStore, root: string, tree: Digest, globs: readonly string[], signal?: AbortSignal): Promise<WrittenOutputs> {
  const includes = globs.filter((g) => !g.startsWith('!'));
  const excludes = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  const isExcluded = excludes.length === 0 ? () => false : picomatch(excludes, { dot: true });
  const isOutput = includes.length === 0 ? () => false : picomatch(includes, { dot: true });
  const realRoot = await realpath(root);
  const entries = (await listTree(store, tree, signal)).filter((e) => isOutput(e.path) && !isExcluded(e.path));
  const inTree = new Set(entries.map((e) => e.path));
  const written: string[] = [];
  let unchanged = 0;
  for (const e of entries) {
    if (signal?.aborted) throw abortedError();
    const dest = join(root, e.path);
    try {
      await mkdir(dirname(dest), { recursive: true });
      await checkInside(realRoot, dirname(dest), e.path);
      if (await isSame(dest, e)) {
        unchanged++;
        continue;
      }
      const tmp = join(dirname(dest), `.trews-${randomBytes(6).toString('hex')}.tmp`);
      try {
        if (e.kind === 'symlink') await symlink(e.target, tmp);
        else if ((await store.materializeFile(e.digest, tmp, { executable: e.isExecutable, mode: 'copy' }, signal)) === undefined) {
          throw new Error('its content is no longer in the local store; run the build again');
        }
        const st = await lstat(dest).catch(() => undefined);
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
  return { written, unchanged, removed: removed.sort() };
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

async function checkInside(realRoot: string, dir: string, path: string): Promise<void> {
  const real = await realpath(dir);
  if (real === realRoot || real.startsWith(realRoot + sep)) return;
  throw new FailureError(
    failure('input', 'output-outside-root', `the output \`${path}\` would be written through a symlink that leads out of the build root (to ${real})`, {
      hints: ['replace the symlink with a directory: trews writes outputs only inside the build root'],
    }),
  );
}

async function isSame(dest: string, e: TreeEntry): Promise<boolean> {
  const st = await lstat(dest).catch(() => undefined);
  if (st === undefined) return false;
  if (e.kind === 'symlink') return st.isSymbolicLink() && (await readlink(dest)) === e.target;
  if (!st.isFile() || st.size !== e.digest.sizeBytes || ((st.mode & 0o100) !== 0) !== e.isExecutable) return false;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(dest)) h.update(chunk as Buffer);
  return h.digest('hex') === e.digest.hash;
}

/** Files and symlinks under `base` (root-relative), not following symlinks; none when it is absent. */
async function filesUnder(root: string, base: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names;
    try {
      names = await readdir(join(root, rel), { withFileTypes: true });
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
