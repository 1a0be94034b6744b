import { FailureError, digestString, failure, isAbortError, isFailureError, isSha256Hex, type Digest } from '../core/index.js';

export function digestMismatch(expected: Digest, actual: { hash: string; sizeBytes: number } | { sizeAtLeast: number }, what: string): FailureError {
  const got = 'hash' in actual ? `${actual.hash}/${actual.sizeBytes}` : `more than ${expected.sizeBytes} bytes (at least ${actual.sizeAtLeast})`;
  return new FailureError(
    failure('environment', 'digest-mismatch', `${what}: expected ${digestString(expected)}, got ${got}`),
  );
}

/** Digests reach the store from peers too; a malformed one is a bug upstream of it, not a miss. */
export function checkDigest(d: Digest): void {
  if (!isSha256Hex(d.hash) || !Number.isSafeInteger(d.sizeBytes) || d.sizeBytes < 0) {
    throw new FailureError(
      failure('internal', 'invalid-digest', `invalid digest ${JSON.stringify(d.hash)}/${String(d.sizeBytes)} given to the store`),
    );
  }
}

export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * File-system errors in the store are the machine's problem (full disk,
 * permissions, a deleted cache dir), not bugs: they become environment
 * failures that name the store and what it was doing. Failures and aborts
 * pass through untouched; anything else is a bug and is rethrown as is.
 */
export function storeIoError(e: unknown, what: string): unknown {
  if (isFailureError(e) || isAbortError(e)) return e;
  const code = errnoCode(e);
  if (code === undefined) return e;
  const hints: string[] = [];
  if (code === 'ENOSPC') hints.push('free some disk space, or lower the local store size so that garbage collection keeps it smaller');
  if (code === 'EACCES' || code === 'EPERM') hints.push('check the permissions of the local store directory (option `local_store_dir`)');
  const message = e instanceof Error ? e.message : String(e);
  return new FailureError(failure('environment', 'store-io-error', `local store: ${what}: ${message}`, { hints }));
}
