import { create } from '@bufbuild/protobuf';
import { Readable } from 'node:stream';
import { FailureError, abortError, digestOf, digestString, failure, type Digest } from '../../core/index.js';
import type { BlobStore } from '../../store/index.js';
import {
  BatchReadBlobsRequestSchema,
  BatchUpdateBlobsRequest_RequestSchema,
  BatchUpdateBlobsRequestSchema,
  Code,
  DigestFunction_Value,
  FindMissingBlobsRequestSchema,
  GetTreeRequestSchema,
  fromProtoDigest,
  toProtoDigest,
  type Directory,
} from '../../reapi/index.js';
import { MAX_DIGESTS_PER_FIND_MISSING, chunks, effectiveBatchLimit, fitsInBatch, planBatches } from './batching.js';
import { checkDigest, corruptBlob, digestMismatch, forEachLimit, isEmptyBlob as isEmpty, localMissing, readUpTo, remoteMissing, verifying } from './blob-transfer.js';
import { byteStreamRead, byteStreamWrite, type StreamOptions, type UploadSource } from './bytestream.js';
import type { RemoteEndpoint } from './channel.js';
import type { ByteStoreProvider, TransferStats } from './provider.js';
import type { RemoteCapabilities } from './capabilities.js';
import { METHODS, type Method } from './methods.js';
import { abortable, destroyOnAbort } from './signals.js';
import type { CallContext } from './request-metadata.js';
import { isRetryableCode, withRetries, type RetryPolicy } from './retry.js';
import { RpcError, isRpcError } from './rpc-error.js';

export interface RemoteBlobStoreOptions {
  readonly endpoint: RemoteEndpoint;
  /** The server's checked capabilities (asked once, lazily). */
  readonly capabilities: () => Promise<RemoteCapabilities>;
  /** `remote_store_chunk_bytes`. */
  readonly chunkBytes: number;
  /** `remote_store_batch_api_size_limit`. */
  readonly batchApiSizeLimit: number;
  /** `remote_store_rpc_retries`, with jittered exponential backoff. */
  readonly retry: RetryPolicy;
  /** `remote_store_rpc_timeout_millis`, per request (streams get more, by size). */
  readonly timeoutMs: number;
  /** getBytes refuses larger blobs (default 64 MiB, as the local store). */
  readonly getBytesLimit?: number;
  /** Requests in flight per bulk transfer (default 8). */
  readonly concurrency?: number;
}

/**
 * A REAPI CAS as a ByteStoreProvider (and so a BlobStore: it passes
 * blobStoreContract). Every upload asks FindMissingBlobs first and sends
 * only what is missing: small blobs in BatchUpdateBlobs messages kept under
 * the batch limit, large ones through ByteStream Write. Downloads use
 * BatchReadBlobs and ByteStream Read, streaming: a blob is never held whole
 * unless it is small enough for a batch.
 */
export interface RemoteBlobStore extends ByteStoreProvider {
  readonly endpoint: RemoteEndpoint;
  /** Every Directory below (and including) `root`, by GetTree; undefined when the root is absent. */
  getTree(root: Digest, signal?: AbortSignal, call?: CallContext): Promise<Directory[] | undefined>;
  /** The batch message limit in effect (after capabilities). */
  batchLimit(signal?: AbortSignal): Promise<number>;
}

export function createRemoteBlobStore(options: RemoteBlobStoreOptions): RemoteBlobStore {
  return new GrpcBlobStore(options);
}

const DEFAULT_GET_BYTES_LIMIT = 64 * 1024 * 1024;
const DEFAULT_CONCURRENCY = 8;

class GrpcBlobStore implements RemoteBlobStore {
  readonly endpoint: RemoteEndpoint;
  readonly description: string;
  readonly #o: RemoteBlobStoreOptions;
  readonly #getBytesLimit: number;
  readonly #concurrency: number;
  #limit: Promise<number> | undefined;

  constructor(o: RemoteBlobStoreOptions) {
    this.endpoint = o.endpoint;
    this.description = o.endpoint.description;
    this.#o = o;
    this.#getBytesLimit = o.getBytesLimit ?? DEFAULT_GET_BYTES_LIMIT;
    this.#concurrency = o.concurrency ?? DEFAULT_CONCURRENCY;
  }

  batchLimit(signal?: AbortSignal): Promise<number> {
    if (this.#limit === undefined) {
      const p = this.#o.capabilities().then((c) => effectiveBatchLimit(c.maxBatchTotalSizeBytes, this.#o.batchApiSizeLimit));
      this.#limit = p;
      p.catch(() => {
        if (this.#limit === p) this.#limit = undefined;
      });
    }
    return abortable(this.#limit, signal);
  }

  #streamOptions(signal?: AbortSignal, call?: CallContext): StreamOptions {
    return { retry: this.#o.retry, timeoutMs: this.#o.timeoutMs, ...(signal ? { signal } : {}), ...(call ? { call } : {}) };
  }

  #unary<I, O>(m: Method<I, O>, request: I, signal?: AbortSignal, call?: CallContext): Promise<O> {
    return withRetries(this.#o.retry, () => this.endpoint.unary(m, request, { timeoutMs: this.#o.timeoutMs, ...(signal ? { signal } : {}), ...(call ? { call } : {}) }), signal ? { signal } : {});
  }

  // ---- BlobStore ----------------------------------------------------------

  async findMissing(digests: readonly Digest[], signal?: AbortSignal, call?: CallContext): Promise<Digest[]> {
    if (signal?.aborted) throw abortError();
    // The empty blob is asked about like any other: servers such as
    // BuildGrid do not treat it as implicitly present, and refuse messages
    // that reference it (an empty stdout, an empty input file) until it is
    // uploaded. One FindMissingBlobs answer tells which kind this is.
    const unique = new Map<string, Digest>();
    for (const d of digests) {
      checkDigest(d);
      unique.set(digestString(d), d);
    }
    if (unique.size === 0) return [];
    const missing: Digest[] = [];
    await forEachLimit(
      chunks([...unique.values()], MAX_DIGESTS_PER_FIND_MISSING),
      4,
      async (part) => {
        const r = await this.#unary(
          METHODS.findMissingBlobs,
          create(FindMissingBlobsRequestSchema, { instanceName: this.endpoint.instanceName, blobDigests: part.map(toProtoDigest), digestFunction: DigestFunction_Value.SHA256 }),
          signal,
          call,
        );
        for (const p of r.missingBlobDigests) {
          // Map back to the digests we asked about: a server's answer names nothing else.
          const ours = unique.get(`${p.hash}/${p.sizeBytes}`);
          if (ours !== undefined) missing.push(ours);
        }
      },
      signal,
    );
    return missing;
  }

  async get(digest: Digest, signal?: AbortSignal): Promise<Readable | undefined> {
    checkDigest(digest);
    if (signal?.aborted) throw abortError();
    const guard = (r: Readable): Readable => (signal ? destroyOnAbort(signal, r) : r);
    // Its content is known: reading it never needs the server, whether or not it has it.
    if (isEmpty(digest)) return guard(Readable.from([]));
    if (fitsInBatch(digest.sizeBytes, await this.batchLimit(signal))) {
      const bytes = await this.#batchReadOne(digest, signal);
      return bytes === undefined ? undefined : guard(Readable.from([Buffer.from(bytes)]));
    }
    const it = byteStreamRead(this.endpoint, digest, this.#streamOptions(signal));
    let first: IteratorResult<Buffer, void>;
    try {
      // The first chunk (or NOT_FOUND) arrives before we answer: absence is undefined, not a failing stream.
      first = await it.next();
    } catch (e) {
      if (isRpcError(e) && e.code === Code.NOT_FOUND) return undefined;
      throw e;
    }
    async function* all(): AsyncGenerator<Buffer, void, undefined> {
      if (!first.done) yield first.value;
      yield* it;
    }
    const source = Readable.from(all(), { objectMode: false });
    const out = source.pipe(verifying(digest, this.endpoint.description));
    source.on('error', (e) => out.destroy(e));
    return guard(out);
  }

  async getBytes(digest: Digest, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    checkDigest(digest);
    if (signal?.aborted) throw abortError();
    if (isEmpty(digest)) return new Uint8Array(0);
    if (fitsInBatch(digest.sizeBytes, await this.batchLimit(signal))) return this.#batchReadOne(digest, signal);
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
    if (signal?.aborted) {
      if (data instanceof Readable) data.destroy();
      throw abortError();
    }
    let bytes: Uint8Array | undefined = data instanceof Readable ? undefined : data;
    if (data instanceof Readable && (isEmpty(digest) || fitsInBatch(digest.sizeBytes, await this.batchLimit(signal)))) {
      const r = await readUpTo(data, digest.sizeBytes, signal);
      if (r.overflow) throw digestMismatch(digest, `is longer than ${digest.sizeBytes} bytes`);
      bytes = r.data;
    }
    if (bytes !== undefined) {
      // Our own check first: a server that does not verify must never be sent a lie.
      const actual = digestOf(bytes);
      if (actual.hash !== digest.hash || actual.sizeBytes !== digest.sizeBytes) throw digestMismatch(digest, `is ${actual.sizeBytes} bytes hashing to ${actual.hash}`);
      if ((await this.findMissing([digest], signal)).length === 0) return;
      if (fitsInBatch(digest.sizeBytes, await this.batchLimit(signal))) {
        await this.#batchUpdate([{ digest, data: bytes }], signal);
        return;
      }
      const b = bytes;
      await this.#write(digest, { reopenable: true, verify: false, open: (off) => [b.subarray(off)] }, signal);
      return;
    }
    const stream = data as Readable;
    if ((await this.findMissing([digest], signal)).length === 0) {
      stream.destroy();
      return;
    }
    let opened = false;
    await this.#write(
      digest,
      {
        reopenable: false,
        verify: true,
        open: () => {
          if (opened) throw new Error('bug: a one-shot upload source was reopened');
          opened = true;
          return signal ? destroyOnAbort(signal, stream) : stream;
        },
      },
      signal,
    ).finally(() => stream.destroy());
  }

  // ---- bulk transfers -----------------------------------------------------

  async uploadFrom(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext): Promise<TransferStats> {
    const missing = await this.findMissing(digests, signal, call);
    if (missing.length === 0) return { blobs: 0, bytes: 0 };
    const limit = await this.batchLimit(signal);
    const plan = planBatches(
      missing.map((digest) => ({ digest })),
      limit,
    );
    const read = async (d: Digest): Promise<Uint8Array> => {
      const b = await local.getBytes(d, signal);
      if (b === undefined) throw localMissing(d, this.endpoint.description);
      return b;
    };
    await Promise.all([
      forEachLimit(
        plan.batches,
        this.#concurrency,
        async (batch) => {
          const blobs = await Promise.all(batch.map(async ({ digest }) => ({ digest, data: await read(digest) })));
          await this.#batchUpdate(blobs, signal, call);
        },
        signal,
      ),
      forEachLimit(
        plan.streamed,
        Math.max(1, Math.floor(this.#concurrency / 2)),
        async ({ digest }) => {
          await this.#write(digest, localSource(local, digest, signal, this.endpoint.description), signal, call);
        },
        signal,
      ),
    ]);
    return { blobs: missing.length, bytes: missing.reduce((n, d) => n + d.sizeBytes, 0) };
  }

  async downloadTo(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext): Promise<TransferStats> {
    const wanted = await local.findMissing(digests, signal);
    if (wanted.length === 0) return { blobs: 0, bytes: 0 };
    const limit = await this.batchLimit(signal);
    const plan = planBatches(
      wanted.map((digest) => ({ digest })),
      limit,
    );
    await Promise.all([
      forEachLimit(
        plan.batches,
        this.#concurrency,
        async (batch) => {
          const got = await this.#batchRead(
            batch.map((b) => b.digest),
            signal,
            call,
          );
          for (const { digest } of batch) {
            const data = got.get(digestString(digest));
            if (data === undefined) throw remoteMissing(digest, this.endpoint.description);
            await local.put(digest, data, signal);
          }
        },
        signal,
      ),
      forEachLimit(
        plan.streamed,
        Math.max(1, Math.floor(this.#concurrency / 2)),
        async ({ digest }) => {
          const s = await this.get(digest, signal);
          if (s === undefined) throw remoteMissing(digest, this.endpoint.description);
          // The local store hashes while writing to a temp file: the blob streams to disk, never whole in memory.
          await local.put(digest, s, signal);
        },
        signal,
      ),
    ]);
    return { blobs: wanted.length, bytes: wanted.reduce((n, d) => n + d.sizeBytes, 0) };
  }

  async getTree(root: Digest, signal?: AbortSignal, call?: CallContext): Promise<Directory[] | undefined> {
    const dirs: Directory[] = [];
    let pageToken = '';
    // Pages are resumable by token, so a broken stream continues where it stopped.
    for (;;) {
      let next: string | undefined;
      try {
        await withRetries(
          this.#o.retry,
          async () => {
            const stream = this.endpoint.serverStream(
              METHODS.getTree,
              create(GetTreeRequestSchema, { instanceName: this.endpoint.instanceName, rootDigest: toProtoDigest(root), pageToken, digestFunction: DigestFunction_Value.SHA256 }),
              { timeoutMs: this.#o.timeoutMs * 4, ...(signal ? { signal } : {}), ...(call ? { call } : {}) },
            );
            next = undefined;
            for await (const page of stream) {
              dirs.push(...page.directories);
              pageToken = page.nextPageToken;
              if (page.nextPageToken !== '') next = page.nextPageToken;
            }
          },
          signal ? { signal } : {},
        );
      } catch (e) {
        if (isRpcError(e) && e.code === Code.NOT_FOUND) return undefined;
        throw e;
      }
      // A server streams every page in one call; `next` is only left when it stopped early.
      if (next === undefined) return dirs;
    }
  }

  // ---- internals ----------------------------------------------------------

  #write(digest: Digest, source: UploadSource, signal?: AbortSignal, call?: CallContext): Promise<void> {
    return byteStreamWrite(this.endpoint, digest, source, this.#o.chunkBytes, this.#streamOptions(signal, call)).catch((e: unknown) => {
      throw this.#uploadError(e, digest);
    });
  }

  #uploadError(e: unknown, digest: Digest): unknown {
    if (isRpcError(e) && e.code === Code.INVALID_ARGUMENT) {
      return new FailureError(failure('input', 'digest-mismatch', `${this.endpoint.description} refused blob ${digestString(digest)}: ${e.serverMessage || 'its content does not match its digest'}`));
    }
    return e;
  }

  async #batchReadOne(digest: Digest, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    return (await this.#batchRead([digest], signal)).get(digestString(digest));
  }

  /** The blobs the server has, verified; absent ones are left out. */
  async #batchRead(digests: readonly Digest[], signal?: AbortSignal, call?: CallContext): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    let todo = [...digests];
    for (let attempt = 0; todo.length > 0; attempt++) {
      const r = await this.#unary(
        METHODS.batchReadBlobs,
        create(BatchReadBlobsRequestSchema, { instanceName: this.endpoint.instanceName, digests: todo.map(toProtoDigest), digestFunction: DigestFunction_Value.SHA256 }),
        signal,
        call,
      );
      const retry: Digest[] = [];
      for (const resp of r.responses) {
        const d = fromProtoDigest(resp.digest);
        if (!d.ok) continue;
        const key = digestString(d.value);
        const code = resp.status?.code ?? Code.OK;
        if (code === Code.OK) {
          const got = digestOf(resp.data);
          if (got.hash !== d.value.hash || got.sizeBytes !== d.value.sizeBytes) throw corruptBlob(d.value, this.endpoint.description, `${got.sizeBytes} bytes hashing to ${got.hash}`);
          out.set(key, resp.data);
        } else if (code === Code.NOT_FOUND) {
          // absent
        } else if (isRetryableCode(code) && attempt < this.#o.retry.maxRetries) {
          retry.push(d.value);
        } else {
          throw new RpcError(code, this.endpoint.description, METHODS.batchReadBlobs.name, `blob ${key}: ${resp.status?.message ?? ''}`);
        }
      }
      todo = retry;
    }
    return out;
  }

  async #batchUpdate(blobs: readonly { digest: Digest; data: Uint8Array }[], signal?: AbortSignal, call?: CallContext): Promise<void> {
    let todo = [...blobs];
    for (let attempt = 0; todo.length > 0; attempt++) {
      const r = await this.#unary(
        METHODS.batchUpdateBlobs,
        create(BatchUpdateBlobsRequestSchema, {
          instanceName: this.endpoint.instanceName,
          requests: todo.map((b) => create(BatchUpdateBlobsRequest_RequestSchema, { digest: toProtoDigest(b.digest), data: b.data })),
          digestFunction: DigestFunction_Value.SHA256,
        }),
        signal,
        call,
      );
      const byKey = new Map(todo.map((b) => [digestString(b.digest), b]));
      const retry: { digest: Digest; data: Uint8Array }[] = [];
      for (const resp of r.responses) {
        const d = fromProtoDigest(resp.digest);
        if (!d.ok) continue;
        const key = digestString(d.value);
        const blob = byKey.get(key);
        byKey.delete(key);
        const code = resp.status?.code ?? Code.OK;
        if (code === Code.OK || blob === undefined) continue;
        if (isRetryableCode(code) && attempt < this.#o.retry.maxRetries) retry.push(blob);
        else if (code === Code.INVALID_ARGUMENT) {
          throw new FailureError(failure('input', 'digest-mismatch', `${this.endpoint.description} refused blob ${key}: ${resp.status?.message || 'its content does not match its digest'}`));
        } else throw new RpcError(code, this.endpoint.description, METHODS.batchUpdateBlobs.name, `blob ${key}: ${resp.status?.message ?? ''}`);
      }
      // A response that leaves blobs out says nothing about them: send them again.
      if (byKey.size > 0 && attempt < this.#o.retry.maxRetries) retry.push(...byKey.values());
      else if (byKey.size > 0) {
        throw new RpcError(Code.INTERNAL, this.endpoint.description, METHODS.batchUpdateBlobs.name, `no status for ${byKey.size} blob(s) of the batch`);
      }
      todo = retry;
    }
  }
}

/** Reads a local blob from `offset` (skipping up to it: the local store streams from the start). */
function localSource(local: BlobStore, d: Digest, signal: AbortSignal | undefined, where: string): UploadSource {
  return {
    reopenable: true,
    verify: false, // the local store verifies what it serves
    open: (offset) =>
      (async function* () {
        const s = await local.get(d, signal);
        if (s === undefined) throw localMissing(d, where);
        let skip = offset;
        for await (const c of s) {
          let b = c as Buffer;
          if (skip > 0) {
            if (b.byteLength <= skip) {
              skip -= b.byteLength;
              continue;
            }
            b = b.subarray(skip);
            skip = 0;
          }
          yield b;
        }
      })(),
  };
}
