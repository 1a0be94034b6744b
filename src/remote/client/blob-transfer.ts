import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { EMPTY_DIGEST, FailureError, abortError, digestString, failure, isSha256Hex, type Digest } from '../../core/index.js';
import { destroyOnAbort } from './signals.js';

// What every ByteStoreProvider needs around moving blobs, whatever the
// protocol: digest checks, bounded concurrency, verification, and the
// failures callers tell apart by reason.

export function isEmptyBlob(d: Digest): boolean {
  return d.sizeBytes === 0 && d.hash === EMPTY_DIGEST.hash;
}

export function checkDigest(d: Digest): void {
  if (!isSha256Hex(d.hash) || !Number.isSafeInteger(d.sizeBytes) || d.sizeBytes < 0) {
    throw new FailureError(failure('internal', 'invalid-digest', `not a SHA-256 digest: ${JSON.stringify(d)}`));
  }
}

/** Runs `fn` over items with at most `limit` in flight; the first failure rejects (the rest are left to finish). */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (signal?.aborted) throw abortError();
      await fn(items[next++] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Reads a stream whole, refusing more than `max` bytes (then it returns what it read plus one byte's worth of evidence). */
export async function readUpTo(stream: Readable, max: number, signal?: AbortSignal): Promise<{ data: Buffer; overflow: boolean }> {
  const s = signal ? destroyOnAbort(signal, stream) : stream;
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of s) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      size += b.byteLength;
      if (size > max) {
        s.destroy();
        return { data: Buffer.concat(parts), overflow: true };
      }
      parts.push(b);
    }
  } catch (e) {
    if (signal?.aborted) throw abortError();
    throw e;
  }
  return { data: Buffer.concat(parts, size), overflow: false };
}

/**
 * Passes a download through and errors (`remote-corrupt-blob`) when it
 * does not hash to `d`: at once when it runs past the size, else at its
 * end, so a consumer that writes to a temp file never commits bad bytes.
 */
export function verifying(d: Digest, where: string): Transform {
  const h = createHash('sha256');
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.byteLength;
      if (size > d.sizeBytes) {
        cb(corruptBlob(d, where, `more than ${d.sizeBytes} bytes`));
        return;
      }
      h.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const got = h.digest('hex');
      if (size !== d.sizeBytes || got !== d.hash) cb(corruptBlob(d, where, `${size} bytes hashing to ${got}`));
      else cb();
    },
  });
}

/**
 * A download as a stream that checks it is `d`, pulled by its reader: a
 * mismatch (`remote-corrupt-blob`) surfaces to whoever reads, when they
 * read, rather than as an 'error' nobody listens to yet (a small body can
 * arrive whole before the reader attaches).
 */
export function verifiedStream(source: AsyncIterable<Buffer>, d: Digest, where: string): Readable {
  return Readable.from(
    (async function* () {
      const h = createHash('sha256');
      let size = 0;
      for await (const chunk of source) {
        size += chunk.byteLength;
        if (size > d.sizeBytes) throw corruptBlob(d, where, `more than ${d.sizeBytes} bytes`);
        h.update(chunk);
        // Everything but the end of a blob is passed on at once; the end
        // waits for the verdict, so no reader commits bytes before it.
        if (size < d.sizeBytes) yield chunk;
        else {
          const got = h.digest('hex');
          if (got !== d.hash) throw corruptBlob(d, where, `${size} bytes hashing to ${got}`);
          yield chunk;
          return;
        }
      }
      throw corruptBlob(d, where, `${size} bytes, the answer ended early`);
    })(),
    { objectMode: false },
  );
}

export function corruptBlob(d: Digest, where: string, got: string): FailureError {
  return new FailureError(
    failure('environment', 'remote-corrupt-blob', `${where} sent corrupt data for blob ${digestString(d)}: ${got}`, {
      hints: ['the remote store may be damaged; report it to its operators'],
    }),
  );
}

/** Data put under a digest it does not have: refused before (or instead of) reaching the server. */
export function digestMismatch(d: Digest, got: string): FailureError {
  return new FailureError(failure('input', 'digest-mismatch', `the data put under ${digestString(d)} ${got}`));
}

export function localMissing(d: Digest, where: string): FailureError {
  return new FailureError(
    failure('internal', 'missing-blob', `cannot upload blob ${digestString(d)} to ${where}: it is not in the local store`, {
      hints: ['the local store may have been garbage-collected while the run used it; run again'],
    }),
  );
}

export function remoteMissing(d: Digest, where: string): FailureError {
  return new FailureError(
    failure('environment', 'remote-missing-blob', `${where} does not have blob ${digestString(d)}`, {
      hints: ['the remote store may have evicted it; run again (with cache_content_behavior=fetch if this repeats)'],
    }),
  );
}
