import { FailureError, digestString, failure, type Digest, type Failure } from '../core/index.js';
import { damageOf, noteDamage } from './damage.js';

/**
 * A blob a tree refers to is not in the store: evicted by a GC, deleted
 * because it was found damaged or modified by a process, never uploaded by a
 * peer, or a digest from somewhere else. The machine's problem, not the
 * user's input, and not memoized (see engine/README.md "Errors"). When
 * `store` is a local store, the loss is recorded (damage.ts: a daemon then
 * starts its next run from a fresh graph) and the message says why the blob
 * is gone when this process knows.
 */
export function missingBlob(what: string, digest: Digest, store?: object): FailureError {
  const dir = storeDirOf(store);
  const earlier = dir === undefined ? undefined : damageOf(dir, digest);
  if (dir !== undefined) noteDamage(dir, digest, 'missing');
  const again = 'run again: the next run re-reads the workspace and re-runs what produced it, storing it again';
  if (earlier === 'corrupt') {
    return new FailureError(
      failure('environment', 'missing-blob', `${what} (${digestString(digest)}) was found damaged in the local store and deleted`, {
        hints: [again, 'if blobs keep getting damaged, check the disk and file system holding the local store'],
      }),
    );
  }
  if (earlier === 'modified') {
    return new FailureError(
      failure('environment', 'missing-blob', `${what} (${digestString(digest)}) was modified by a process that had it as an input, and was deleted from the local store`, {
        hints: [again, 'the process that wrote to its input fails with `input-modified`'],
      }),
    );
  }
  return new FailureError(
    failure('environment', 'missing-blob', `${what} (${digestString(digest)}) is not in the local store`, {
      hints: [
        `it was removed meanwhile (by \`trews gc\`, the local_store_max_size bound or another tool); ${again}`,
        'if it keeps happening, it was never stored: a bug, or an incomplete remote result',
      ],
    }),
  );
}

function storeDirOf(store: object | undefined): string | undefined {
  const dir = (store as { dir?: unknown } | undefined)?.dir;
  return typeof dir === 'string' ? dir : undefined;
}

/** Bytes stored under a Directory or Tree digest that are not one. */
export function malformedTree(what: string, digest: Digest, why: string | Failure): FailureError {
  const detail = typeof why === 'string' ? why : why.message;
  return new FailureError(failure('environment', 'malformed-tree', `${what} (${digestString(digest)}) is not a valid REAPI message: ${detail}`));
}

/** Two trees (or two entries of one) put different things at one path. */
export function treeConflict(path: string, a: string, b: string): FailureError {
  return new FailureError(
    failure('input', 'snapshot-conflict', `conflicting contents at \`${path}\`: ${a} vs ${b}`, {
      hints: ['two inputs (or outputs) provide this path with different contents; make them agree or place them under different paths'],
    }),
  );
}

export function invalidTreePath(path: string, why: string, what = 'path'): FailureError {
  return new FailureError(failure('input', 'invalid-path', `${what} ${JSON.stringify(path)} ${why}`));
}
