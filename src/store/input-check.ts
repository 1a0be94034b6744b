import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, type Stats } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { abortError, type Digest } from '../core/index.js';
import { noteDamage } from './damage.js';
import type { LinkedSource } from './local-store.js';
import { errnoCode, storeIoError } from './store-failures.js';

/** A file of a materialized tree that is a hard link to a store file. */
export interface LinkedInput {
  /** Its path in the tree. */
  readonly path: string;
  readonly digest: Digest;
  /** The store file, as it was when its content was verified. */
  readonly source: LinkedSource;
}

/** An input whose shared inode no longer holds its digest's content (or mode). */
export interface ModifiedInput {
  readonly path: string;
  readonly digest: Digest;
}

/**
 * After a process ran in `destDir` on hard-linked inputs: finds the inputs
 * whose inode was written to or chmod-ed, removes each such file from the
 * store (a quarantine: the store can never serve those bytes, and the next
 * run stores the blob again from its source), and returns them, so that the
 * caller fails the process and caches nothing.
 *
 * A hard link is another name for the store's own file, and file modes stop
 * neither root nor the owner (`chmod u+w`), so a process can write into the
 * store through its inputs; a process sharing the blob may read those bytes
 * meanwhile, which is why every process checks all of its linked inputs,
 * not only the one that wrote. The check is one lstat per input: a write
 * moves the inode's mtime (and usually its size), a chmod its mode; the
 * inode's ctime cannot be used, since every link and unlink of the shared
 * inode (other sandboxes being made and removed) moves it. Only an inode
 * whose size, mtime or mode moved is hashed again; it may have been an LRU
 * refresh by another trews process (see local-store.ts `#touch`), which
 * leaves the content as it was.
 *
 * The input is looked for in the sandbox and, if the process replaced or
 * removed it there, under its store name: an inode that neither names any
 * more cannot be served by the store, whatever was done to it.
 */
export async function checkLinkedInputs(
  store: { readonly dir: string },
  destDir: string,
  linked: readonly LinkedInput[],
  signal?: AbortSignal,
): Promise<ModifiedInput[]> {
  const suspects: Array<{ input: LinkedInput; file: string; st: Stats }> = [];
  for (const input of linked) {
    const src = input.source;
    // Synchronous on purpose: a local lstat takes microseconds, a thread-pool round trip ten times that.
    let file = join(destDir, input.path);
    let st = lstatInSandbox(file);
    if (st === undefined || !sameInode(st, src)) {
      file = src.path;
      st = lstatQuiet(file);
      if (st === undefined || !sameInode(st, src)) continue;
    }
    if (st.size === src.size && st.mtimeMs === src.mtimeMs && st.mode === src.mode) continue;
    suspects.push({ input, file, st });
  }
  const modified: ModifiedInput[] = [];
  for (const { input, file, st } of suspects) {
    if (signal?.aborted) throw abortError();
    if (st.mode === input.source.mode && st.size === input.digest.sizeBytes && (await hashFile(file, signal)) === input.digest.hash) continue;
    modified.push({ path: input.path, digest: input.digest });
    await quarantine(input.source);
    noteDamage(store.dir, input.digest, 'modified');
  }
  return modified;
}

/** The process owns its sandbox: whatever it did there (a directory made unreadable, a file where a directory was), look under the store name instead. */
function lstatInSandbox(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function lstatQuiet(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (e) {
    if (errnoCode(e) === 'ENOTDIR') return undefined; // a parent replaced by a file
    throw storeIoError(e, `checking ${path}`);
  }
}

function sameInode(st: Stats, src: LinkedSource): boolean {
  return st.ino === src.ino && st.dev === src.dev;
}

async function hashFile(path: string, signal?: AbortSignal): Promise<string | undefined> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { signal })) h.update(chunk as Buffer);
  } catch (e) {
    if (signal?.aborted) throw abortError();
    // Unreadable (chmod 0, removed meanwhile): not the content it should be.
    if (errnoCode(e) !== undefined) return undefined;
    throw e;
  }
  return h.digest('hex');
}

/** Removes the store's name for the modified inode, unless it already names another (a good copy stored meanwhile). */
async function quarantine(src: LinkedSource): Promise<void> {
  const now = lstatQuiet(src.path);
  if (now === undefined || !sameInode(now, src)) return;
  try {
    await rm(src.path, { force: true });
  } catch (e) {
    throw storeIoError(e, `removing the modified input ${src.path} from the store`);
  }
}
