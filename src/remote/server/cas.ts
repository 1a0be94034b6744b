import type { RecentBlobs } from './recent-blobs.js';
import { create, toBinary } from '@bufbuild/protobuf';
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { digestString, isFailureError, type Digest, type Logger, mapLimit } from '../../core/index.js';
import type { LocalStore } from '../../store/index.js';
import {
  BatchReadBlobsResponse_ResponseSchema,
  BatchReadBlobsResponseSchema,
  BatchUpdateBlobsResponse_ResponseSchema,
  BatchUpdateBlobsResponseSchema,
  Code,
  Compressor_Value,
  DirectorySchema,
  FindMissingBlobsResponseSchema,
  GetTreeResponseSchema,
  type BatchReadBlobsRequest,
  type BatchReadBlobsResponse,
  type BatchUpdateBlobsRequest,
  type BatchUpdateBlobsResponse,
  type Directory,
  type FindMissingBlobsRequest,
  type FindMissingBlobsResponse,
  type GetTreeRequest,
  type GetTreeResponse,
  type ProtoDigest,
} from '../../reapi/index.js';
import { RpcError, invalidArgument, isRpcError, notFound, okStatus, statusOf } from './rpc-error.js';
import { send, serverStreaming, toRpcError, unary, type CallContext, type RpcEnv } from './rpc.js';
import { readDirectoryBlob, walkTree } from './tree-walk.js';
import { blobTooLarge, checkDigestFunction, checkInstance, requireDigest, type ServerLimits } from './validate.js';

export interface CasOptions {
  readonly store: LocalStore;
  readonly limits: ServerLimits;
  readonly logger: Logger;
  /** Where BatchUpdateBlobs leaves the small blobs it stored, for the Execute that follows (recent-blobs.ts). */
  readonly recent?: RecentBlobs;
}

/** Blobs stored or read at once within one batch call. */
const BATCH_CONCURRENCY = 16;
/**
 * What a BatchReadBlobs response may hold in all: clients keep gRPC's default
 * 4 MiB receive limit. The requested sizes are bounded by
 * MAX_BATCH_TOTAL_BYTES; this catches the per-blob overhead of very many tiny
 * blobs, whose excess gets RESOURCE_EXHAUSTED statuses instead of a response
 * the client would fail to receive.
 */
const MAX_READ_RESPONSE_BYTES = 4 * 1024 * 1024 - 16 * 1024;
/** GetTree: directories per response when the client gives no page_size, and the most we send in one. */
const DEFAULT_TREE_PAGE = 1000;
const MAX_TREE_PAGE = 10_000;
/** GetTree: encoded bytes per response, under the clients' 4 MiB receive limit. */
const MAX_TREE_PAGE_BYTES = 2 * 1024 * 1024;

export function casService(env: RpcEnv, o: CasOptions): UntypedServiceImplementation {
  const { store, limits } = o;

  const findMissingBlobs = async (req: FindMissingBlobsRequest, ctx: CallContext): Promise<FindMissingBlobsResponse> => {
    checkInstance(limits, req.instanceName);
    checkDigestFunction(req.digestFunction);
    const digests = req.blobDigests.map((p, i) => requireDigest(p, `blob_digests[${i}]`));
    const missing = await store.findMissing(digests, ctx.signal);
    ctx.note(`${digests.length} asked, ${missing.length} missing`);
    return create(FindMissingBlobsResponseSchema, {
      missingBlobDigests: missing.map((d) => ({ hash: d.hash, sizeBytes: BigInt(d.sizeBytes) })),
    });
  };

  const batchUpdateBlobs = async (req: BatchUpdateBlobsRequest, ctx: CallContext): Promise<BatchUpdateBlobsResponse> => {
    checkInstance(limits, req.instanceName);
    checkDigestFunction(req.digestFunction);
    const total = req.requests.reduce((n, r) => n + r.data.byteLength, 0);
    if (total > limits.maxBatchTotalBytes) {
      throw invalidArgument(
        `BatchUpdateBlobs carries ${total} bytes of blobs, more than this server's max_batch_total_size_bytes (${limits.maxBatchTotalBytes}); split the batch or upload large blobs with ByteStream.Write`,
      );
    }
    let stored = 0;
    const responses = await mapLimit(req.requests, BATCH_CONCURRENCY, async (r, i) => {
      const status = await (async () => {
        try {
          if (r.compressor !== Compressor_Value.IDENTITY) {
            throw invalidArgument(`requests[${i}]: compressor ${Compressor_Value[r.compressor] ?? r.compressor} is not supported (this server accepts only uncompressed data)`);
          }
          const d = requireDigest(r.digest, `requests[${i}].digest`);
          const tooLarge = blobTooLarge(limits, d);
          if (tooLarge) throw tooLarge;
          const actual = createHash('sha256').update(r.data).digest('hex');
          if (actual !== d.hash || r.data.byteLength !== d.sizeBytes) {
            throw invalidArgument(
              `requests[${i}]: the data does not match its digest ${digestString(d)} (it has SHA-256 ${actual} and ${r.data.byteLength} bytes); nothing was stored`,
            );
          }
          await store.put(d, r.data, ctx.signal);
          o.recent?.remember(d, r.data);
          stored++;
          return okStatus();
        } catch (e) {
          if (!isRpcError(e) && !isFailureError(e)) throw e;
          return statusOf(toRpcError(e, ctx));
        }
      })();
      return create(BatchUpdateBlobsResponse_ResponseSchema, { digest: r.digest, status });
    });
    ctx.note(`${req.requests.length} blobs, ${total} bytes, ${stored} stored`);
    return create(BatchUpdateBlobsResponseSchema, { responses });
  };

  const batchReadBlobs = async (req: BatchReadBlobsRequest, ctx: CallContext): Promise<BatchReadBlobsResponse> => {
    checkInstance(limits, req.instanceName);
    checkDigestFunction(req.digestFunction);
    const digests = req.digests.map((p, i) => requireDigest(p, `digests[${i}]`));
    const total = digests.reduce((n, d) => n + d.sizeBytes, 0);
    if (total > limits.maxBatchTotalBytes) {
      throw invalidArgument(
        `BatchReadBlobs asks for ${total} bytes of blobs, more than this server's max_batch_total_size_bytes (${limits.maxBatchTotalBytes}); split the batch or read large blobs with ByteStream.Read`,
      );
    }
    // Reserve each blob's share of the response before reading it, in request order.
    let budget = MAX_READ_RESPONSE_BYTES - 64;
    const fits = digests.map((d, i) => {
      const cost = d.sizeBytes + (req.digests[i]!.hash.length + 48);
      budget -= cost;
      return budget >= 0;
    });
    let found = 0;
    const responses = await mapLimit(digests, BATCH_CONCURRENCY, async (d, i) => {
      const digest = req.digests[i] as ProtoDigest;
      if (!fits[i]) {
        const e = new RpcError(Code.RESOURCE_EXHAUSTED, `blob ${digestString(d)} does not fit in this response (4 MiB message limit); request it in a smaller batch`);
        return create(BatchReadBlobsResponse_ResponseSchema, { digest, status: statusOf(e) });
      }
      const data = await store.getBytes(d, ctx.signal);
      if (data === undefined) {
        return create(BatchReadBlobsResponse_ResponseSchema, { digest, status: statusOf(notFound(`blob ${digestString(d)} is not in the CAS`)) });
      }
      found++;
      return create(BatchReadBlobsResponse_ResponseSchema, { digest, data, compressor: Compressor_Value.IDENTITY, status: okStatus() });
    });
    ctx.note(`${digests.length} asked, ${found} found`);
    return create(BatchReadBlobsResponseSchema, { responses });
  };

  const getTree = async (req: GetTreeRequest, call: ServerWritableStream<GetTreeRequest, GetTreeResponse>, ctx: CallContext): Promise<void> => {
    checkInstance(limits, req.instanceName);
    checkDigestFunction(req.digestFunction);
    const root = requireDigest(req.rootDigest, 'root_digest');
    if (req.pageSize < 0) throw invalidArgument(`page_size ${req.pageSize} is negative`);
    const pageSize = Math.min(req.pageSize === 0 ? DEFAULT_TREE_PAGE : req.pageSize, MAX_TREE_PAGE);
    const start = req.pageToken === '' ? 0 : parsePageToken(req.pageToken, root);
    const rootDir = await readDirectoryBlob(store, root);
    if (!rootDir.ok) {
      if (rootDir.missing) throw notFound(`tree root ${digestString(root)} is not in the CAS`);
      throw invalidArgument(`root_digest ${digestString(root)} is not a Directory message: ${rootDir.why}`);
    }
    let skipped = 0;
    const walk = walkTree(store, root, rootDir.directory, (what) => {
      skipped++;
      o.logger.debug(`GetTree ${digestString(root)}: omitted ${what}`);
    });
    let index = 0;
    let page: Directory[] = [];
    let pageBytes = 0;
    let sent = 0;
    // A page is sent once the next directory is known to exist (or not), so
    // that only the last page has an empty next_page_token.
    for await (const { directory } of walk) {
      if (ctx.signal.aborted) return;
      if (index++ < start) continue;
      const size = toBinary(DirectorySchema, directory).byteLength + 8;
      if (page.length > 0 && (page.length >= pageSize || pageBytes + size > MAX_TREE_PAGE_BYTES)) {
        sent += page.length;
        await send(call, create(GetTreeResponseSchema, { directories: page, nextPageToken: pageToken(root, start + sent) }), ctx.signal);
        page = [];
        pageBytes = 0;
      }
      page.push(directory);
      pageBytes += size;
    }
    if (start > 0 && index < start) throw invalidArgument(`page_token points past the end of tree ${digestString(root)}`);
    sent += page.length;
    await send(call, create(GetTreeResponseSchema, { directories: page, nextPageToken: '' }), ctx.signal);
    ctx.note(`${sent} directories from ${start}${skipped > 0 ? `, ${skipped} absent or invalid omitted` : ''}`);
  };

  return {
    findMissingBlobs: unary(env, 'FindMissingBlobs', findMissingBlobs),
    batchUpdateBlobs: unary(env, 'BatchUpdateBlobs', batchUpdateBlobs),
    batchReadBlobs: unary(env, 'BatchReadBlobs', batchReadBlobs),
    getTree: serverStreaming(env, 'GetTree', getTree),
  };
}

/**
 * A GetTree page token: the position of the next directory in the tree's
 * deterministic walk, bound to the root it belongs to. Opaque to clients
 * (base64url), stateless for us: any later call can resume from it.
 */
function pageToken(root: Digest, offset: number): string {
  return Buffer.from(`v1:${digestString(root)}:${offset}`, 'utf8').toString('base64url');
}

function parsePageToken(token: string, root: Digest): number {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const m = /^v1:([0-9a-f]{64}\/\d+):(\d+)$/.exec(text);
  if (m === null) throw invalidArgument(`page_token ${JSON.stringify(token.slice(0, 80))} was not issued by this server`);
  if (m[1] !== digestString(root)) throw invalidArgument(`page_token belongs to another tree than root_digest ${digestString(root)}`);
  return Number(m[2]);
}
