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

  const write = async (call: ServerReadableStream<WriteRequest, WriteResponse>, ctx: CallContext): Promise<WriteResponse> => {
    const me = Symbol('write');
    let session: UploadSession | undefined;
    let name = '';
    let finished = false;
    let expected = 0;
    const respond = (committed: number): WriteResponse => create(WriteResponseSchema, { committedSize: BigInt(committed) });
    try {
      for await (const msg of call as AsyncIterable<WriteRequest>) {
        if (finished) throw invalidArgument('a WriteRequest was sent after the one with finish_write set');
        if (session === undefined) {
          // The first request names the resource and where this stream starts.
          const resource = parseWriteResource(msg.resourceName, limits);
          name = resource.name;
          const { digest } = resource;
          const tooLarge = blobTooLarge(limits, digest);
          if (tooLarge) throw tooLarge;
          if ((await store.findMissing([digest], ctx.signal)).length === 0) {
            // REAPI: when the blob is already there, the Write ends at once,
            // successfully, with the full size, however much was sent.
            uploads.markFinished(name, digest.sizeBytes);
            ctx.note(`${digestString(digest)} already present`);
            return respond(digest.sizeBytes);
          }
          const s = await uploads.open(name, digest);
          session = s;
          const offset = msg.writeOffset;
          await uploads.exclusive(s, async () => {
            s.owner = me;
            if (offset === 0n && s.committed > 0) await uploads.restart(s);
            else if (offset !== BigInt(s.committed)) {
              throw invalidArgument(
                `write_offset ${offset} does not match the ${s.committed} bytes committed for ${name}; resume from QueryWriteStatus' committed_size or start again at 0`,
              );
            }
          });
          expected = s.committed;
          ctx.note(`${digestString(digest)} from ${expected}`);
        } else if (msg.resourceName !== '' && msg.resourceName !== name) {
          throw invalidArgument(`resource_name changed within one Write: ${JSON.stringify(msg.resourceName)} after ${JSON.stringify(name)}`);
        }
        const s = session;
        if (msg.writeOffset !== BigInt(expected)) {
          throw invalidArgument(`write_offset ${msg.writeOffset} is not contiguous with the data sent so far (expected ${expected})`);
        }
        await uploads.exclusive(s, async () => {
          if (s.owner !== me) throw new RpcError(Code.ABORTED, `a newer Write to ${name} took over this upload`);
          if (s.committed + msg.data.byteLength > s.digest.sizeBytes) {
            throw invalidArgument(
              `more data than the ${s.digest.sizeBytes} bytes the resource name declares (${s.committed + msg.data.byteLength} so far); nothing was stored`,
            );
          }
          await uploads.append(s, msg.data);
        });
        expected += msg.data.byteLength;
        if (msg.finishWrite) {
          finished = true;
          await uploads.exclusive(s, () => commit(s));
          return respond(s.digest.sizeBytes);
        }
      }
      if (session === undefined) throw invalidArgument('the Write stream carried no request');
      // Closed without finish_write: the bytes stay for a resumed Write.
      return respond(session.committed);
    } catch (e) {
      // A malformed or corrupt upload is over; a broken connection is not.
      if (session !== undefined && e instanceof RpcError && e.code !== Code.ABORTED && e.code !== Code.CANCELLED) {
        await uploads.discard(session, false);
      }
      throw e;
    } finally {
      if (session !== undefined && session.owner === me) session.owner = undefined;
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
