import { digestEquals, digestOf, isAbortError, type Digest } from '../core/index.js';
import type { BlobStore } from './blob-store.js';
import { copyStaged, flushTree, stagedFileChanged } from './flush-staged.js';
import { stagedDirectoryOf, stagedFileOf } from './tree-io.js';

/**
 * Staged files up to this size are read for an upload straight from the
 * workspace; a larger one is written into the store first and sent from
 * there (an upload streams it, never whole in memory).
 */
const STAGED_READ_MAX = 1024 * 1024;

/**
 * Whether this process can give `d`'s bytes without the store: a staged
 * Directory, or a staged file (tree-io.ts stageDirectory / stageFile).
 */
export function isStaged(store: BlobStore, d: Digest): boolean {
  return stagedDirectoryOf(store, d) !== undefined || stagedFileOf(store, d) !== undefined;
}

/**
 * A blob's bytes for an upload, as this process holds them: a staged
 * Directory's encoding from memory, a staged file read from the workspace
 * (checked against the digest its tree names, as a flush checks it), or
 * else the store's copy (undefined when the store has none). Remote
 * execution sends an input root this way: writing what is only staged into
 * the local store and reading it back cost each step of a chain ~15 ms on
 * the way to Execute. What is read here stays staged, and is written to the
 * store when a flush comes (a local sandbox, the graph's save, the
 * daemon's idle flush), since the graph names it.
 */
export async function readForUpload(store: BlobStore, d: Digest, signal?: AbortSignal): Promise<Uint8Array | undefined> {
  const dir = stagedDirectoryOf(store, d);
  if (dir !== undefined) return dir.bytes;
  const file = stagedFileOf(store, d);
  if (file !== undefined) {
    if (d.sizeBytes <= STAGED_READ_MAX) {
      let bytes: Uint8Array | undefined;
      try {
        bytes = await file.read(signal);
      } catch (e) {
        if (isAbortError(e)) throw e;
        // Gone or unreadable: the copy below reports it as a flush would.
      }
      if (bytes !== undefined) {
        const actual = digestOf(bytes);
        if (!digestEquals(actual, d)) throw stagedFileChanged(file, actual);
        return bytes;
      }
    }
    await copyStaged(store, file, signal);
  }
  return store.getBytes(d, signal);
}

/**
 * Writes `d` into the store if it is only staged, for a reader that needs
 * it there (an upload streamed from the store's file); a Directory with
 * what it names, as every flush writes one.
 */
export async function storeIfStaged(store: BlobStore, d: Digest, signal?: AbortSignal): Promise<void> {
  if (stagedDirectoryOf(store, d) !== undefined) return flushTree(store, d, signal);
  const file = stagedFileOf(store, d);
  if (file !== undefined) await copyStaged(store, file, signal);
}
