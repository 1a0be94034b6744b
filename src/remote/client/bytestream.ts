import { create } from '@bufbuild/protobuf';
import { createHash, randomUUID } from 'node:crypto';
import { abortError, digestString, type Digest } from '../../core/index.js';
import { Code, QueryWriteStatusRequestSchema, ReadRequestSchema, WriteRequestSchema } from '../../reapi/index.js';
import type { CallOptions, RemoteEndpoint } from './channel.js';
import { METHODS } from './methods.js';
import { backoffDelayMs, isRetryable, sleep, type RetryPolicy } from './retry.js';
import { RpcError, isRpcError, retryDelayMs } from './rpc-error.js';
import { digestMismatch } from './blob-transfer.js';

/** `{instance}/blobs/{hash}/{size}`; with an empty instance name there is no leading slash. */
export function readResourceName(instanceName: string, d: Digest): string {
  return `${instanceName === '' ? '' : `${instanceName}/`}blobs/${digestString(d)}`;
}

/** `{instance}/uploads/{uuid}/blobs/{hash}/{size}`. */
export function writeResourceName(instanceName: string, uuid: string, d: Digest): string {
  return `${instanceName === '' ? '' : `${instanceName}/`}uploads/${uuid}/blobs/${digestString(d)}`;
}

/**
 * Deadline of one streaming call: the per-request timeout plus time for the
 * bytes at a pessimistic 1 MiB/s, so a 1 GiB blob is not cut off by a
 * timeout meant for small requests, and a stalled stream still ends.
 */
export function streamTimeoutMs(baseMs: number, bytes: number): number {
  return baseMs + Math.ceil(bytes / 1024);
}

export interface StreamOptions {
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly call?: CallOptions['call'];
}

/**
 * Reads a blob through ByteStream, chunk by chunk as the server sends them
 * (nothing is held whole). A stream that breaks with a retryable status is
 * resumed at the offset reached, with backoff. NOT_FOUND is thrown as an
 * RpcError for the caller to turn into "absent". The caller verifies content.
 */
export async function* byteStreamRead(endpoint: RemoteEndpoint, d: Digest, o: StreamOptions): AsyncGenerator<Buffer, void, undefined> {
  const resourceName = readResourceName(endpoint.instanceName, d);
  let received = 0;
  for (let attempt = 0; ; attempt++) {
    const before = received;
    try {
      const stream = endpoint.serverStream(METHODS.read, create(ReadRequestSchema, { resourceName, readOffset: BigInt(received) }), {
        timeoutMs: streamTimeoutMs(o.timeoutMs, d.sizeBytes - received),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.call ? { call: o.call } : {}),
      });
      for await (const r of stream) {
        if (r.data.byteLength === 0) continue;
        received += r.data.byteLength;
        if (received > d.sizeBytes) throw new RpcError(Code.DATA_LOSS, endpoint.description, METHODS.read.name, `the server sent more than the blob's ${d.sizeBytes} bytes`);
        yield Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      }
      if (received !== d.sizeBytes) {
        throw new RpcError(Code.DATA_LOSS, endpoint.description, METHODS.read.name, `the stream ended after ${received} of ${d.sizeBytes} bytes`);
      }
      return;
    } catch (e) {
      if (o.signal?.aborted) throw abortError();
      // Progress resets the budget: a long download over a flaky link may
      // need more retries in all than one request is allowed.
      if (received > before) attempt = 0;
      if (!isRetryable(e) || attempt >= o.retry.maxRetries) throw e;
      await sleep(backoffDelayMs(o.retry, attempt + 1, isRpcError(e) ? retryDelayMs(e.details) : undefined), o.signal);
    }
  }
}

/** Where upload bytes come from. `open(offset)` yields the blob from `offset`; a one-shot source cannot reopen. */
export interface UploadSource {
  open(offset: number): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  /** False for a stream handed to us once: then a broken upload cannot resume and is not retried. */
  readonly reopenable: boolean;
  /** Hash what is read and refuse to finish the upload when it does not match the digest (for data we did not produce). */
  readonly verify: boolean;
}

/** Re-cuts a byte stream into pieces of exactly `size` (the last may be shorter). */
async function* rechunk(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, size: number): AsyncGenerator<Buffer, void, undefined> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const c of source) {
    let b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    while (b.byteLength > 0) {
      const take = Math.min(size - have, b.byteLength);
      parts.push(b.subarray(0, take));
      have += take;
      b = b.subarray(take);
      if (have === size) {
        yield parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, have);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts, have);
}


/**
 * Uploads a blob through ByteStream Write in chunks of `chunkBytes`. A
 * broken upload is resumed: QueryWriteStatus says how much the server
 * committed and the source is reopened there (or from 0 under a new
 * upload id when the server cannot say). When the server answers before we
 * finish (someone else uploaded the same blob) we stop sending: that is
 * success. A content mismatch is refused before `finish_write`, so the
 * server never commits it; the server checks too (INVALID_ARGUMENT).
 */
export async function byteStreamWrite(endpoint: RemoteEndpoint, d: Digest, source: UploadSource, chunkBytes: number, o: StreamOptions): Promise<void> {
  let uuid = randomUUID();
  let offset = 0;
  for (let attempt = 0; ; attempt++) {
    const before = offset;
    try {
      if (attempt > 0) {
        const status = await queryWriteStatus(endpoint, writeResourceName(endpoint.instanceName, uuid, d), o);
        if (status === 'complete') return;
        if (status === undefined) {
          // The server cannot tell how far we got: start afresh under a new id.
          uuid = randomUUID();
          offset = 0;
        } else offset = status;
      }
      const done = await writeOnce(endpoint, d, source, chunkBytes, uuid, offset, o, (committed) => {
        offset = committed;
      });
      if (done) return;
    } catch (e) {
      if (o.signal?.aborted) throw abortError();
      if (offset > before) attempt = 0;
      if (!source.reopenable || !isRetryable(e) || attempt >= o.retry.maxRetries) throw e;
      await sleep(backoffDelayMs(o.retry, attempt + 1, isRpcError(e) ? retryDelayMs(e.details) : undefined), o.signal);
    }
  }
}

/** committed size, `complete`, or undefined when the server does not know the upload (or the method). */
async function queryWriteStatus(endpoint: RemoteEndpoint, resourceName: string, o: StreamOptions): Promise<number | 'complete' | undefined> {
  try {
    const r = await endpoint.unary(METHODS.queryWriteStatus, create(QueryWriteStatusRequestSchema, { resourceName }), {
      timeoutMs: o.timeoutMs,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.call ? { call: o.call } : {}),
    });
    if (r.complete) return 'complete';
    return Number(r.committedSize);
  } catch (e) {
    if (isRpcError(e) && (e.code === Code.NOT_FOUND || e.code === Code.UNIMPLEMENTED)) return undefined;
    throw e;
  }
}

async function writeOnce(
  endpoint: RemoteEndpoint,
  d: Digest,
  source: UploadSource,
  chunkBytes: number,
  uuid: string,
  offset: number,
  o: StreamOptions,
  onProgress: (committed: number) => void,
): Promise<boolean> {
  const resourceName = writeResourceName(endpoint.instanceName, uuid, d);
  const call = endpoint.clientStream(METHODS.write, {
    timeoutMs: streamTimeoutMs(o.timeoutMs, d.sizeBytes - offset),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.call ? { call: o.call } : {}),
  });
  const hash = source.verify && offset === 0 ? createHash('sha256') : undefined;
  let sent = offset;
  let first = true;
  // One chunk is held back so the last one can carry finish_write, after the
  // content has been checked.
  let pending: Buffer | undefined;
  const send = async (data: Buffer, finish: boolean): Promise<void> => {
    await call.write(create(WriteRequestSchema, { resourceName: first ? resourceName : '', writeOffset: BigInt(sent), finishWrite: finish, data }));
    first = false;
    sent += data.byteLength;
  };
  try {
    for await (const chunk of rechunk(source.open(offset), chunkBytes)) {
      if (call.settled) break; // early completion (or an error): stop reading
      hash?.update(chunk);
      if (sent + (pending?.byteLength ?? 0) + chunk.byteLength > d.sizeBytes) {
        throw digestMismatch(d, `is longer than ${d.sizeBytes} bytes`);
      }
      if (pending !== undefined) {
        await send(pending, false);
        onProgress(sent);
      }
      pending = chunk;
    }
    if (!call.settled) {
      const total = sent + (pending?.byteLength ?? 0);
      if (total !== d.sizeBytes) throw digestMismatch(d, `has ${total} bytes, not ${d.sizeBytes}`);
      if (hash !== undefined) {
        const got = hash.digest('hex');
        if (got !== d.hash) throw digestMismatch(d, `hashes to ${got}`);
      }
      // A zero-length final write is how an empty remainder is finished.
      await send(pending ?? Buffer.alloc(0), true);
      call.end();
    }
  } catch (e) {
    call.cancel();
    // The server's own error explains more than our cancellation does.
    if (call.settled) await call.response.catch((re: unknown) => Promise.reject(isRpcError(re) && re.code !== Code.CANCELLED ? re : e));
    throw e;
  }
  const r = await call.response;
  const committed = Number(r.committedSize);
  // A full size, or -1 (as for compressed uploads), means the blob is there.
  if (committed === d.sizeBytes || committed === -1) return true;
  onProgress(committed);
  throw new RpcError(Code.DATA_LOSS, endpoint.description, METHODS.write.name, `the server committed ${committed} of ${d.sizeBytes} bytes`);
}
