import { FailureError, digestString, failure, type Digest, type Failure } from '../core/index.js';

/**
 * A blob a tree refers to is not in the store: evicted by a GC, never
 * uploaded by a peer, or a digest from somewhere else. The machine's
 * problem, not the user's input.
 */
export function missingBlob(what: string, digest: Digest): FailureError {
  return new FailureError(
    failure('environment', 'missing-blob', `${what} (${digestString(digest)}) is not in the local store`, {
      hints: ['if a garbage collection ran meanwhile, run again; otherwise the blob was never stored (a bug or an incomplete remote result)'],
    }),
  );
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
