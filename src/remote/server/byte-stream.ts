import { create } from '@bufbuild/protobuf';
import type { ServerReadableStream, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { createReadStream } from 'node:fs';
import { digestString, isFailureError, type Logger } from '../../core/index.js';
import type { LocalStore } from '../../store/index.js';
import {
  Code,
  QueryWriteStatusResponseSchema,
  ReadResponseSchema,
  WriteResponseSchema,
  type QueryWriteStatusRequest,
  type QueryWriteStatusResponse,
  type ReadRequest,
  type ReadResponse,
  type WriteRequest,
  type WriteResponse,
} from '../../reapi/index.js';
import { parseReadResource, parseWriteResource } from './resource-name.js';
import { RpcError, invalidArgument, notFound, outOfRange } from './rpc-error.js';
import { clientStreaming, send, serverStreaming, unary, type CallContext, type RpcEnv } from './rpc.js';
import type { UploadSession, Uploads } from './uploads.js';
import { blobTooLarge, type ServerLimits } from './validate.js';

export interface ByteStreamOptions {
  readonly store: LocalStore;
  readonly limits: ServerLimits;
  readonly uploads: Uploads;
  readonly logger: Logger;
}

/** One Write stream: the upload it writes to, and how far it has got. */
interface WriteState {
  /** This stream, as the upload's owner: a newer Write of the same resource takes the upload over. */
  readonly me: symbol;
  session: UploadSession | undefined;
  name: string;
  /** The write_offset the next request must have. */
  expected: number;
}

/**
 * Bytes per ReadResponse. The disk delivers 64 KiB reads; gathering them
 * into larger messages cuts per-message overhead (framing, a callback per
 * write) while staying far below the 4 MiB message limit.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

export function byteStreamService(env: RpcEnv, o: ByteStreamOptions): UntypedServiceImplementation {
  const { store, limits, uploads } = o;

  const read = async (req: ReadRequest, call: ServerWritableStream<ReadRequest, ReadResponse>, ctx: CallContext): Promise<void> => {
    const { digest } = parseReadResource(req.resourceName, limits);
    if (req.readOffset < 0n) throw outOfRange(`read_offset ${req.readOffset} is negative`);
    if (req.readLimit < 0n) throw invalidArgument(`read_limit ${req.readLimit} is negative`);
    if (req.readOffset > BigInt(digest.sizeBytes)) {
      throw outOfRange(`read_offset ${req.readOffset} is past the end of blob ${digestString(digest)} (${digest.sizeBytes} bytes)`);
    }
    const offset = Number(req.readOffset);
    const available = digest.sizeBytes - offset;
    let remaining = req.readLimit === 0n ? available : Math.min(available, Number(req.readLimit));
    const stream = await store.get(digest, ctx.signal);
    if (stream === undefined) throw notFound(`blob ${digestString(digest)} is not in the CAS`);
    ctx.note(`${digestString(digest)} from ${offset}, ${remaining} bytes`);
    let skip = offset;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await send(call, create(ReadResponseSchema, { data }), ctx.signal);
    };
    try {
      // Streamed from disk in bounded chunks, with the client's pace as backpressure:
      // a blob of any size costs a few MiB of memory.
      for await (const raw of stream) {
        let chunk = raw as Buffer;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        if (chunk.length > remaining) chunk = chunk.subarray(0, remaining);
        remaining -= chunk.length;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= READ_CHUNK_BYTES) await flush();
        if (remaining === 0) break;
      }
      await flush();
    } catch (e) {
      if (isFailureError(e) && e.failure.reason === 'digest-mismatch') {
        throw new RpcError(Code.DATA_LOSS, `blob ${digestString(digest)} turned out corrupt in the server's store and was removed; upload it again`);
      }
      throw e;
    } finally {
      stream.destroy();
    }
  };

  const respond = (committed: number): WriteResponse => create(WriteResponseSchema, { committedSize: BigInt(committed) });

  /**
   * The first request names the resource and where this stream starts. A
   * blob the CAS already has ends the Write at once (the response is
   * returned); otherwise the upload is opened (or taken over) and the
   * offset checked against what it has committed.
   */
  const begin = async (w: WriteState, msg: WriteRequest, ctx: CallContext): Promise<WriteResponse | undefined> => {
    const resource = parseWriteResource(msg.resourceName, limits);
    w.name = resource.name;
    const { digest } = resource;
    const tooLarge = blobTooLarge(limits, digest);
    if (tooLarge) throw tooLarge;
    if ((await store.findMissing([digest], ctx.signal)).length === 0) {
      // REAPI: when the blob is already there, the Write ends at once,
      // successfully, with the full size, however much was sent.
      uploads.markFinished(w.name, digest.sizeBytes);
      ctx.note(`${digestString(digest)} already present`);
      return respond(digest.sizeBytes);
    }
    const s = await uploads.open(w.name, digest);
    w.session = s;
    const offset = msg.writeOffset;
    await uploads.exclusive(s, async () => {
      s.owner = w.me;
      if (offset === 0n && s.committed > 0) await uploads.restart(s);
      else if (offset !== BigInt(s.committed)) {
        throw invalidArgument(`write_offset ${offset} does not match the ${s.committed} bytes committed for ${w.name}; resume from QueryWriteStatus' committed_size or start again at 0`);
      }
    });
    w.expected = s.committed;
    ctx.note(`${digestString(digest)} from ${w.expected}`);
    return undefined;
  };

  /** Appends one request's data to the upload, if this stream still owns it and the data fits the declared size. */
  const append = async (w: WriteState, s: UploadSession, msg: WriteRequest): Promise<void> => {
    if (msg.writeOffset !== BigInt(w.expected)) {
      throw invalidArgument(`write_offset ${msg.writeOffset} is not contiguous with the data sent so far (expected ${w.expected})`);
    }
    await uploads.exclusive(s, async () => {
      if (s.owner !== w.me) throw new RpcError(Code.ABORTED, `a newer Write to ${w.name} took over this upload`);
      if (s.committed + msg.data.byteLength > s.digest.sizeBytes) {
        throw invalidArgument(`more data than the ${s.digest.sizeBytes} bytes the resource name declares (${s.committed + msg.data.byteLength} so far); nothing was stored`);
      }
      await uploads.append(s, msg.data);
    });
    w.expected += msg.data.byteLength;
  };

  const write = async (call: ServerReadableStream<WriteRequest, WriteResponse>, ctx: CallContext): Promise<WriteResponse> => {
    const w: WriteState = { me: Symbol('write'), session: undefined, name: '', expected: 0 };
    try {
      for await (const msg of call as AsyncIterable<WriteRequest>) {
        if (w.session === undefined) {
          const complete = await begin(w, msg, ctx);
          if (complete !== undefined) return complete;
        } else if (msg.resourceName !== '' && msg.resourceName !== w.name) {
          throw invalidArgument(`resource_name changed within one Write: ${JSON.stringify(msg.resourceName)} after ${JSON.stringify(w.name)}`);
        }
        const s = w.session;
        if (s === undefined) throw new Error('bug: a Write without an upload');
        await append(w, s, msg);
        if (msg.finishWrite) {
          await uploads.exclusive(s, () => commit(s));
          return respond(s.digest.sizeBytes);
        }
      }
      if (w.session === undefined) throw invalidArgument('the Write stream carried no request');
      // Closed without finish_write: the bytes stay for a resumed Write.
      return respond(w.session.committed);
    } catch (e) {
      // A malformed or corrupt upload is over; a broken connection is not.
      if (w.session !== undefined && e instanceof RpcError && e.code !== Code.ABORTED && e.code !== Code.CANCELLED) {
        await uploads.discard(w.session, false);
      }
      throw e;
    } finally {
      if (w.session !== undefined && w.session.owner === w.me) w.session.owner = undefined;
    }
  };

  /** Verifies a complete upload and moves it into the CAS; on a mismatch nothing is stored. */
  const commit = async (s: UploadSession): Promise<void> => {
    const { digest } = s;
    if (s.committed !== digest.sizeBytes) {
      throw invalidArgument(`finish_write after ${s.committed} bytes, but the resource name declares ${digest.sizeBytes}; nothing was stored`);
    }
    const hash = await uploads.seal(s);
    if (hash !== digest.hash) {
      throw invalidArgument(`the uploaded data does not match its digest ${digestString(digest)} (it has SHA-256 ${hash}); nothing was stored`);
    }
    await store.put(digest, createReadStream(s.path));
    await uploads.discard(s, true);
  };

  const queryWriteStatus = async (req: QueryWriteStatusRequest, ctx: CallContext): Promise<QueryWriteStatusResponse> => {
    const { name, digest } = parseWriteResource(req.resourceName, limits);
    const session = uploads.get(name);
    if (session !== undefined) {
      ctx.note(`${session.committed} committed`);
      return create(QueryWriteStatusResponseSchema, { committedSize: BigInt(session.committed), complete: false });
    }
    const finished = uploads.finishedSize(name);
    if (finished !== undefined || (await store.findMissing([digest], ctx.signal)).length === 0) {
      ctx.note('complete');
      return create(QueryWriteStatusResponseSchema, { committedSize: BigInt(digest.sizeBytes), complete: true });
    }
    throw notFound(`no upload of ${name} is in progress (it never started, failed, or was dropped after an hour idle); start it at write_offset 0`);
  };

  return {
    read: serverStreaming(env, 'Read', read),
    write: clientStreaming(env, 'Write', write),
    queryWriteStatus: unary(env, 'QueryWriteStatus', queryWriteStatus),
  };
}
