import { create } from '@bufbuild/protobuf';
import { Readable } from 'node:stream';
import { FailureError, abortError, digestOf, digestString, failure, type Digest } from '../../core/index.js';
import { isStaged, readForUpload, storeIfStaged, type BlobStore } from '../../store/index.js';
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
import { MAX_DIGESTS_PER_FIND_MISSING, PER_BLOB_OVERHEAD_BYTES, effectiveBatchLimit, fitsInBatch, planBatches } from './batching.js';
import { checkDigest, corruptBlob, digestMismatch, forEachLimit, isEmptyBlob as isEmpty, localMissing, readUpTo, remoteMissing, verifying } from './blob-transfer.js';
import { byteStreamRead, byteStreamWrite, type StreamOptions, type UploadSource } from './bytestream.js';
import type { RemoteEndpoint } from './channel.js';
import type { ByteStoreProvider, TransferStats } from './provider.js';
import type { RemoteCapabilities } from './capabilities.js';
import { METHODS, type Method } from './methods.js';
import { abortable, destroyOnAbort } from './signals.js';
import { Coalescer } from './coalescer.js';
import { PresenceMemo } from './presence-memo.js';
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
  /** How long a FindMissingBlobs, BatchUpdateBlobs or BatchReadBlobs request waits for others to join it (default COALESCE_WINDOW_MS). */
  readonly coalesceWindowMs?: number;
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
  /** As ByteStoreProvider's, with `held` as in uploadForExecution. */
  uploadFrom(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext, held?: HeldBlobs): Promise<TransferStats>;
  /**
   * Makes the server hold `digests` for an action about to be Executed:
   * blobs the presence memo knows are skipped without asking; when what is
   * left is small (BLIND_UPLOAD_MAX_BYTES, all batchable), it is sent in a
   * BatchUpdateBlobs without FindMissingBlobs first, which saves a round
   * trip for a few bytes; otherwise as `uploadFrom`. Execute's MISSING
   * answer is what catches a memo the server has made wrong. `held`: blobs
   * the caller gives from memory rather than from `local` (an action's
   * Action and Command, which are never written there).
   */
  uploadForExecution(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext, held?: HeldBlobs): Promise<TransferStats>;
  /** What this client believes the server holds, for this run (presence-memo.ts). */
  readonly presence: PresenceMemo;
  /**
   * An action says it will upload (`upload`) or download (`read`) soon, so
   * that requests waiting for others to join them stop waiting once every
   * such action has sent its own. Call the result when done.
   */
  expect(kind: 'upload' | 'read'): () => void;
}

/** Blobs an uploader gives from memory, keyed by `digestString`; each is checked against its digest before it is sent. */
export type HeldBlobs = ReadonlyMap<string, Uint8Array>;

/** A FindMissingBlobs, BatchUpdateBlobs or BatchReadBlobs request waits this long for other actions' to join it. */
export const COALESCE_WINDOW_MS = 5;
/**
 * Unknown blobs of an action totalling at most this are uploaded without
 * asking FindMissingBlobs first: sending 64 KiB that the server may already
 * have costs less than a round trip on any network remote execution is
 * worth using on, and most of an action's new blobs (its Action, Command,
 * Directories, changed sources) are new anyway.
 */
export const BLIND_UPLOAD_MAX_BYTES = 64 * 1024;
/** Blobs per BatchUpdateBlobs / BatchReadBlobs request at most (besides the byte limit). */
const MAX_BLOBS_PER_BATCH = 10_000;

interface Upload {
  readonly digest: Digest;
  readonly data: Uint8Array;
}
interface Wanted {
  readonly digest: Digest;
}
/** A blob's fate in a batch: stored or read (`ok`), or why not. */
type BlobOutcome<T> = { readonly ok: T } | { readonly error: unknown };

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
  readonly presence = new PresenceMemo();
  readonly #finds: Coalescer<Wanted, true>;
  readonly #updates: Coalescer<Upload, BlobOutcome<true>>;
  readonly #reads: Coalescer<Wanted, BlobOutcome<Uint8Array>>;
  #limit: Promise<number> | undefined;
  readonly #expecting = { upload: 0, read: 0 };

  constructor(o: RemoteBlobStoreOptions) {
    this.endpoint = o.endpoint;
    this.description = o.endpoint.description;
    this.#o = o;
    this.#getBytesLimit = o.getBytesLimit ?? DEFAULT_GET_BYTES_LIMIT;
    this.#concurrency = o.concurrency ?? DEFAULT_CONCURRENCY;
    const windowMs = o.coalesceWindowMs ?? COALESCE_WINDOW_MS;
    const cost = (i: Wanted): number => i.digest.sizeBytes + PER_BLOB_OVERHEAD_BYTES;
    const maxCost = (): Promise<number> => this.batchLimit();
    // Uploads: the actions that a finished one released start together but
    // reach their uploads a few ms apart; a lone one waits the window out
    // (another may be on its way), a group stops waiting once all are in.
    const uploaders = { count: () => this.#expecting.upload, min: 2 };
    // Downloads follow each action's own Execute: rarely together, so no
    // waiting unless another action is fetching too.
    const readers = { count: () => this.#expecting.read, min: 0 };
    this.#finds = new Coalescer({ windowMs, maxItems: MAX_DIGESTS_PER_FIND_MISSING, concurrency: 4, expected: uploaders, send: (items, signal, call) => this.#findMissingCall(items, signal, call) });
    this.#updates = new Coalescer<Upload, BlobOutcome<true>>({ windowMs, maxItems: MAX_BLOBS_PER_BATCH, cost, maxCost, concurrency: this.#concurrency, expected: uploaders, send: (items, signal, call) => this.#batchUpdate(items, signal, call) });
    this.#reads = new Coalescer({ windowMs, maxItems: MAX_BLOBS_PER_BATCH, cost, maxCost, concurrency: this.#concurrency, expected: readers, send: (items, signal, call) => this.#batchRead(items, signal, call) });
  }

  expect(kind: 'upload' | 'read'): () => void {
    this.#expecting[kind]++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#expecting[kind]--;
      if (kind === 'read') this.#reads.reconsider();
      else {
        this.#finds.reconsider();
        this.#updates.reconsider();
      }
    };
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
    const generation = this.presence.generation;
    // Asked together with other actions' questions of the same moment.
    const answer = await this.#finds.submit(
      [...unique.values()].map((digest) => ({ digest })),
      signal,
      call,
    );
    const missing: Digest[] = [];
    const present: Digest[] = [];
    for (const [k, d] of unique) (answer.has(k) ? missing : present).push(d);
    this.presence.add(present, generation);
    return missing;
  }

  /** One FindMissingBlobs call: the keys of the missing ones. */
  async #findMissingCall(items: readonly Wanted[], signal: AbortSignal, call: CallContext | undefined): Promise<Map<string, true>> {
    const asked = new Set(items.map((i) => digestString(i.digest)));
    const r = await this.#unary(
      METHODS.findMissingBlobs,
      create(FindMissingBlobsRequestSchema, { instanceName: this.endpoint.instanceName, blobDigests: items.map((i) => toProtoDigest(i.digest)), digestFunction: DigestFunction_Value.SHA256 }),
      signal,
      call,
    );
    const missing = new Map<string, true>();
    for (const p of r.missingBlobDigests) {
      // Only the digests we asked about: a server's answer names nothing else.
      const k = `${p.hash}/${p.sizeBytes}`;
      if (asked.has(k)) missing.set(k, true);
    }
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
        await this.#batchUpload([{ digest, data: bytes }], signal);
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

  async uploadFrom(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext, held?: HeldBlobs): Promise<TransferStats> {
    const missing = await this.findMissing(digests, signal, call);
    return this.#upload(local, missing, signal, call, held);
  }

  async uploadForExecution(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext, held?: HeldBlobs): Promise<TransferStats> {
    const unknown = new Map<string, Digest>();
    for (const d of digests) {
      checkDigest(d);
      if (!this.presence.has(d)) unknown.set(digestString(d), d);
    }
    if (unknown.size === 0) return { blobs: 0, bytes: 0 };
    const limit = await this.batchLimit(signal);
    const blobs = [...unknown.values()];
    const bytes = blobs.reduce((n, d) => n + d.sizeBytes, 0);
    // Only what this process holds (staged, or in the local store): a blob it lacks (an output left
    // on the server by `defer`) is the server's to vouch for, not ours to fetch and send back.
    const blind =
      bytes <= BLIND_UPLOAD_MAX_BYTES &&
      blobs.every((d) => fitsInBatch(d.sizeBytes, limit)) &&
      (await local.findMissing(
        blobs.filter((d) => !isStaged(local, d) && held?.has(digestString(d)) !== true),
        signal,
      )).length === 0;
    return this.#upload(local, blind ? blobs : await this.findMissing(blobs, signal, call), signal, call, held);
  }

  /** Sends `blobs` from the local store: batched (with other actions' blobs of the moment) or streamed. */
  async #upload(local: BlobStore, blobs: readonly Digest[], signal?: AbortSignal, call?: CallContext, held?: HeldBlobs): Promise<TransferStats> {
    if (blobs.length === 0) return { blobs: 0, bytes: 0 };
    const generation = this.presence.generation;
    const limit = await this.batchLimit(signal);
    const plan = planBatches(
      blobs.map((digest) => ({ digest })),
      limit,
    );
    // What is only staged (an input root's new Directories and files) goes from memory and the workspace.
    const read = async (d: Digest): Promise<Uint8Array> => {
      const given = fromHeld(held, d);
      if (given !== undefined) return given;
      const b = await readForUpload(local, d, signal);
      if (b === undefined) throw localMissing(d, this.endpoint.description);
      return b;
    };
    await Promise.all([
      // A batch's worth read at a time, so a large upload is never whole in memory.
      forEachLimit(
        plan.batches,
        this.#concurrency,
        async (batch) => {
          const items = await Promise.all(batch.map(async ({ digest }) => ({ digest, data: await read(digest) })));
          await this.#batchUpload(items, signal, call);
        },
        signal,
      ),
      forEachLimit(
        plan.streamed,
        Math.max(1, Math.floor(this.#concurrency / 2)),
        async ({ digest }) => {
          const given = fromHeld(held, digest);
          if (given !== undefined) {
            await this.#write(digest, { reopenable: true, verify: false, open: (offset) => [given.subarray(offset)] }, signal, call);
            return;
          }
          await storeIfStaged(local, digest, signal);
          await this.#write(digest, localSource(local, digest, signal, this.endpoint.description), signal, call);
        },
        signal,
      ),
    ]);
    this.presence.add(blobs, generation);
    return { blobs: blobs.length, bytes: blobs.reduce((n, d) => n + d.sizeBytes, 0) };
  }

  async downloadTo(local: BlobStore, digests: readonly Digest[], signal?: AbortSignal, call?: CallContext): Promise<TransferStats> {
    const wanted = await local.findMissing(digests, signal);
    if (wanted.length === 0) return { blobs: 0, bytes: 0 };
    const generation = this.presence.generation;
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
          const got = await this.#batchReadSome(batch, signal, call);
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
    this.presence.add(wanted, generation);
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
    return (await this.#batchReadSome([{ digest }], signal)).get(digestString(digest));
  }

  /** The blobs the server has, verified, read with other callers' of the moment; absent ones are left out. */
  async #batchReadSome(items: readonly Wanted[], signal?: AbortSignal, call?: CallContext): Promise<Map<string, Uint8Array>> {
    const got = await this.#reads.submit(items, signal, call);
    const out = new Map<string, Uint8Array>();
    for (const [k, o] of got) {
      if ('error' in o) throw o.error;
      out.set(k, o.ok);
    }
    return out;
  }

  /** Stores blobs in batches shared with other callers of the moment; throws the first blob's failure. */
  async #batchUpload(items: readonly Upload[], signal?: AbortSignal, call?: CallContext): Promise<void> {
    const got = await this.#updates.submit(items, signal, call);
    for (const { digest } of items) {
      const o = got.get(digestString(digest));
      if (o === undefined) throw new RpcError(Code.INTERNAL, this.endpoint.description, METHODS.batchUpdateBlobs.name, `no status for blob ${digestString(digest)}`);
      if ('error' in o) throw o.error;
    }
  }

  /** One BatchReadBlobs (and its retries of transient statuses): what the server has, verified; absent ones are left out. */
  async #batchRead(items: readonly Wanted[], signal: AbortSignal, call: CallContext | undefined): Promise<Map<string, BlobOutcome<Uint8Array>>> {
    const out = new Map<string, BlobOutcome<Uint8Array>>();
    let todo = items.map((i) => i.digest);
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
          if (got.hash !== d.value.hash || got.sizeBytes !== d.value.sizeBytes) out.set(key, { error: corruptBlob(d.value, this.endpoint.description, `${got.sizeBytes} bytes hashing to ${got.hash}`) });
          else out.set(key, { ok: resp.data });
        } else if (code === Code.NOT_FOUND) {
          // absent
        } else if (isRetryableCode(code) && attempt < this.#o.retry.maxRetries) {
          retry.push(d.value);
        } else {
          out.set(key, { error: new RpcError(code, this.endpoint.description, METHODS.batchReadBlobs.name, `blob ${key}: ${resp.status?.message ?? ''}`) });
        }
      }
      todo = retry;
    }
    return out;
  }

  /** One BatchUpdateBlobs (and its retries of transient statuses and of blobs left out): each blob's fate. */
  async #batchUpdate(blobs: readonly Upload[], signal: AbortSignal, call: CallContext | undefined): Promise<Map<string, BlobOutcome<true>>> {
    const out = new Map<string, BlobOutcome<true>>();
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
      const retry: Upload[] = [];
      for (const resp of r.responses) {
        const d = fromProtoDigest(resp.digest);
        if (!d.ok) continue;
        const key = digestString(d.value);
        const blob = byKey.get(key);
        byKey.delete(key);
        if (blob === undefined) continue;
        const code = resp.status?.code ?? Code.OK;
        if (code === Code.OK) out.set(key, { ok: true });
        else if (isRetryableCode(code) && attempt < this.#o.retry.maxRetries) retry.push(blob);
        else if (code === Code.INVALID_ARGUMENT) {
          out.set(key, { error: new FailureError(failure('input', 'digest-mismatch', `${this.endpoint.description} refused blob ${key}: ${resp.status?.message || 'its content does not match its digest'}`)) });
        } else out.set(key, { error: new RpcError(code, this.endpoint.description, METHODS.batchUpdateBlobs.name, `blob ${key}: ${resp.status?.message ?? ''}`) });
      }
      // A response that leaves blobs out says nothing about them: send them again.
      if (byKey.size > 0 && attempt < this.#o.retry.maxRetries) retry.push(...byKey.values());
      else {
        for (const k of byKey.keys()) out.set(k, { error: new RpcError(Code.INTERNAL, this.endpoint.description, METHODS.batchUpdateBlobs.name, `no status for ${byKey.size} blob(s) of the batch`) });
      }
      todo = retry;
    }
    return out;
  }
}

/** `d`'s bytes if the caller gave them from memory, checked against the digest: what is sent under a digest must be its content, wherever it came from. */
function fromHeld(held: HeldBlobs | undefined, d: Digest): Uint8Array | undefined {
  const bytes = held?.get(digestString(d));
  if (bytes === undefined) return undefined;
  const actual = digestOf(bytes);
  if (actual.hash !== d.hash || actual.sizeBytes !== d.sizeBytes) throw digestMismatch(d, `is ${actual.sizeBytes} bytes hashing to ${actual.hash}`);
  return bytes;
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
