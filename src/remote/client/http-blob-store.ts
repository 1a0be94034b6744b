import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { FailureError, abortError, digestOf, digestString, failure, type Digest } from '../../core/index.js';
import type { BlobStore } from '../../store/index.js';
import { checkDigest, corruptBlob, digestMismatch, forEachLimit, isEmptyBlob, localMissing, readUpTo, remoteMissing, verifiedStream } from './blob-transfer.js';
import type { HttpCacheClient } from './http-client.js';
import type { ByteStoreProvider, TransferStats } from './provider.js';
import { destroyOnAbort } from './signals.js';

export interface HttpBlobStoreOptions {
  readonly client: HttpCacheClient;
  /** `remote_store_rpc_timeout_millis`: inactivity timeout of each request. */
  readonly timeoutMs: number;
  /** Requests in flight per bulk call (default 16): the protocol has no batches, so existence checks and transfers go one blob per request. */
  readonly concurrency?: number;
  /** getBytes refuses larger blobs (default 64 MiB, as the local store). */
  readonly getBytesLimit?: number;
}

const DEFAULT_CONCURRENCY = 16;
const DEFAULT_GET_BYTES_LIMIT = 64 * 1024 * 1024;

/**
 * The CAS of an HTTP cache (`/cas/<sha256>`, as bazel-remote and Bazel's
 * HTTP cache client use it) as a ByteStoreProvider:
 *
 * - existence is a HEAD per blob (there is no FindMissingBlobs), bounded in
 *   concurrency; a 200 whose Content-Length differs from the digest's size
 *   counts as missing;
 * - uploads are a PUT per missing blob, streamed from the local store, with
 *   the last chunk held back until the bytes are known to match their
 *   digest, so a server that does not verify is never sent a whole lie;
 * - downloads are a GET per blob, streamed into the local store and hashed
 *   on the way: bytes that do not match are a `remote-corrupt-blob`
 *   failure and never reach the store.
 *
 * The empty blob is always present: it is never asked about, uploaded or
 * downloaded (bazel-remote treats it so, and its content is known).
 */
export function createHttpBlobStore(o: HttpBlobStoreOptions): ByteStoreProvider {
  return new HttpBlobStore(o);
}

class HttpBlobStore implements ByteStoreProvider {
  readonly description: string;
  readonly #client: HttpCacheClient;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  readonly #getBytesLimit: number;

  constructor(o: HttpBlobStoreOptions) {
    this.#client = o.client;
    this.description = o.client.description;
    this.#timeoutMs = o.timeoutMs;
    this.#concurrency = o.concurrency ?? DEFAULT_CONCURRENCY;
    this.#getBytesLimit = o.getBytesLimit ?? DEFAULT_GET_BYTES_LIMIT;
  }

  async findMissing(digests: readonly Digest[], signal?: AbortSignal): Promise<Digest[]> {
    if (signal?.aborted) throw abortError();
    const unique = new Map<string, Digest>();
    for (const d of digests) {
      checkDigest(d);
      if (!isEmptyBlob(d)) unique.set(digestString(d), d);
    }
    const missing: Digest[] = [];
    await forEachLimit(
      [...unique.values()],
      this.#concurrency,
      async (d) => {
        if (!(await this.#has(d, signal))) missing.push(d);
      },
      signal,
    );
    return missing;
  }

  async #has(d: Digest, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#client.send({ method: 'HEAD', kind: 'cas', hash: d.hash, timeoutMs: this.#timeoutMs, ...(signal ? { signal } : {}) }, [200, 404]);
    res.discard();
    if (res.status === 404) return false;
    // A blob of another size under this hash is not the one asked about (or a truncated one).
    const length = res.headers['content-length'];
    return length === undefined || Number(length) === d.sizeBytes;
  }

  async get(digest: Digest, signal?: AbortSignal): Promise<Readable | undefined> {
    checkDigest(digest);
    if (signal?.aborted) throw abortError();
    const guard = (r: Readable): Readable => (signal ? destroyOnAbort(signal, r) : r);
    if (isEmptyBlob(digest)) return guard(Readable.from([]));
    const res = await this.#client.send({ method: 'GET', kind: 'cas', hash: digest.hash, timeoutMs: this.#timeoutMs, ...(signal ? { signal } : {}) }, [200, 404]);
    if (res.status === 404) {
      res.discard();
      return undefined;
    }
    const length = res.headers['content-length'];
    if (length !== undefined && Number(length) !== digest.sizeBytes) {
      res.body.destroy();
      throw corruptBlob(digest, this.description, `the server announced ${length} bytes`);
    }
    const out = verifiedStream(res.body, digest, this.description);
    // A reader that stops early must not leave the answer (and its connection) open.
    out.once('close', () => res.body.destroy());
    return guard(out);
  }

  async getBytes(digest: Digest, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    if (digest.sizeBytes > this.#getBytesLimit) {
      throw new FailureError(failure('internal', 'blob-too-large', `blob ${digestString(digest)} is larger than getBytes allows (${this.#getBytesLimit} bytes); stream it with get()`));
    }
    const s = await this.get(digest, signal);
    if (s === undefined) return undefined;
    const { data } = await readUpTo(s, digest.sizeBytes, signal);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  async put(digest: Digest, data: Readable | Uint8Array, signal?: AbortSignal): Promise<void> {
    checkDigest(digest);
    const stream = data instanceof Readable ? data : undefined;
    try {
      if (signal?.aborted) throw abortError();
      if (stream === undefined || isEmptyBlob(digest)) {
        let bytes = data as Uint8Array;
        if (stream !== undefined) {
          const r = await readUpTo(stream, digest.sizeBytes, signal);
          if (r.overflow) throw digestMismatch(digest, `is longer than ${digest.sizeBytes} bytes`);
          bytes = r.data;
        }
        // Our own check first: a server that does not verify must never be sent a lie.
        const actual = digestOf(bytes);
        if (actual.hash !== digest.hash || actual.sizeBytes !== digest.sizeBytes) throw digestMismatch(digest, `is ${actual.sizeBytes} bytes hashing to ${actual.hash}`);
        if ((await this.findMissing([digest], signal)).length === 0) return;
        await this.#upload(digest, () => bytes, true, signal);
        return;
      }
      if ((await this.findMissing([digest], signal)).length === 0) return;
      let opened = false;
      await this.#upload(
        digest,
        () => {
          if (opened) throw new Error('bug: a one-shot upload source was reopened');
          opened = true;
          const checked = heldBackUntilVerified(digest);
          stream.on('error', (e) => checked.destroy(e));
          return stream.pipe(checked);
        },
        false,
        signal,
      );
    } finally {
      stream?.destroy();
    }
  }

  async uploadFrom(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal): Promise<TransferStats> {
    const missing = await this.findMissing(digests, signal);
    await forEachLimit(
      missing,
      this.#concurrency,
      (d) =>
        this.#upload(d, () => Readable.from(localBlob(local, d, signal, this.description)), true, signal),
      signal,
    );
    return { blobs: missing.length, bytes: missing.reduce((n, d) => n + d.sizeBytes, 0) };
  }

  async downloadTo(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal): Promise<TransferStats> {
    const wanted = await local.findMissing(digests, signal);
    await forEachLimit(
      wanted,
      this.#concurrency,
      async (d) => {
        const s = await this.get(d, signal);
        if (s === undefined) throw remoteMissing(d, this.description);
        // Streamed: the local store writes a temp file while we hash, and
        // a corrupt download errors the stream before it is renamed in.
        await local.put(d, s, signal);
      },
      signal,
    );
    return { blobs: wanted.length, bytes: wanted.reduce((n, d) => n + d.sizeBytes, 0) };
  }

  async #upload(digest: Digest, body: () => Readable | Uint8Array, reopenable: boolean, signal?: AbortSignal): Promise<void> {
    const res = await this.#client.send(
      { method: 'PUT', kind: 'cas', hash: digest.hash, body, length: digest.sizeBytes, timeoutMs: this.#timeoutMs, retry: reopenable, ...(signal ? { signal } : {}) },
      [200, 201, 202, 204],
    );
    res.discard();
  }
}

/**
 * Passes an upload through, holding its last chunk back until the whole
 * has hashed to `d`; otherwise it fails (`digest-mismatch`) before the last
 * byte is sent, so the server sees an incomplete body and stores nothing.
 */
function heldBackUntilVerified(d: Digest): Transform {
  const h = createHash('sha256');
  let size = 0;
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.byteLength;
      if (size > d.sizeBytes) {
        cb(digestMismatch(d, `is longer than ${d.sizeBytes} bytes`));
        return;
      }
      h.update(chunk);
      const previous = held;
      held = chunk;
      cb(null, previous);
    },
    flush(cb) {
      const got = h.digest('hex');
      if (size !== d.sizeBytes) cb(digestMismatch(d, `has ${size} bytes, not ${d.sizeBytes}`));
      else if (got !== d.hash) cb(digestMismatch(d, `hashes to ${got}`));
      else cb(null, held);
    },
  });
}

/** A local blob as an upload body; the local store verifies what it serves. */
async function* localBlob(local: BlobStore, d: Digest, signal: AbortSignal | undefined, where: string): AsyncGenerator<Buffer> {
  const s = await local.get(d, signal);
  if (s === undefined) throw localMissing(d, where);
  for await (const c of s) yield c as Buffer;
}
