// `trews remote-server` as any REAPI client sees it: Capabilities, CAS,
// ByteStream and ActionCache over real gRPC against a real server process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { EMPTY_DIGEST, digestString, type Digest } from '../src/core/index.js';
import {
  ActionCacheService,
  ActionResultSchema,
  ByteStreamService,
  CapabilitiesService,
  Compressor_Value,
  ContentAddressableStorageService,
  DigestFunction_Value,
  RequestMetadataSchema,
  SymlinkAbsolutePathStrategy_Value,
  TreeSchema,
  type ActionResult,
  type BatchReadBlobsResponse,
  type BatchUpdateBlobsResponse,
  type FindMissingBlobsResponse,
  type GetTreeResponse,
  type QueryWriteStatusResponse,
  type ReadResponse,
  type ServerCapabilities,
  type WriteResponse,
} from '../src/reapi/index.js';
import {
  blob,
  buildTree,
  clientStream,
  connect,
  encode,
  eventually,
  pd,
  rejectsWith,
  runServerCli,
  serverStream,
  startServer,
  unary,
  upload,
  type RpcClient,
  type ServerProcess,
} from './helpers/remote-server.js';

const MiB = 1024 * 1024;
const INSTANCE = 'main';

function casFile(storeDir: string, d: Digest): string {
  return join(storeDir, 'cas', d.hash.slice(0, 2), d.hash);
}

function writeRequests(name: string, data: Buffer, opts: { chunk?: number; offset?: number; finish?: boolean } = {}) {
  const chunk = opts.chunk ?? 64 * 1024;
  const start = opts.offset ?? 0;
  const out: Array<{ resourceName: string; writeOffset: bigint; finishWrite: boolean; data: Uint8Array }> = [];
  for (let off = start; off < data.length || out.length === 0; off += chunk) {
    const end = Math.min(off + chunk, data.length);
    out.push({ resourceName: out.length === 0 ? name : '', writeOffset: BigInt(off), finishWrite: false, data: data.subarray(off, end) });
    if (end >= data.length) break;
  }
  if (opts.finish !== false) out[out.length - 1]!.finishWrite = true;
  return out;
}

describe('trews remote-server: CAS, ByteStream, ActionCache, Capabilities', () => {
  let server: ServerProcess;
  let cas: RpcClient;
  let bs: RpcClient;
  let ac: RpcClient;
  let caps: RpcClient;

  before(async () => {
    server = await startServer(['--instance-name', INSTANCE, '--workers', '2', '--max-blob-size', '100M', '--log-level', 'debug']);
    cas = connect(ContentAddressableStorageService, server.address);
    bs = connect(ByteStreamService, server.address);
    ac = connect(ActionCacheService, server.address);
    caps = connect(CapabilitiesService, server.address);
  });

  after(async () => {
    for (const c of [cas, bs, ac, caps]) c.close();
    assert.equal(await server.stop(), 0, 'SIGTERM stops the server with exit code 0');
  });

  it('announces SHA-256, the batch limit, exec, AC updates, no absolute symlinks, identity only, API 2.0–2.3', async () => {
    const c = await unary<ServerCapabilities>(caps, 'getCapabilities', { instanceName: INSTANCE });
    assert.deepEqual(c.cacheCapabilities?.digestFunctions, [DigestFunction_Value.SHA256]);
    assert.equal(c.cacheCapabilities?.maxBatchTotalSizeBytes, BigInt(4 * MiB - 512 * 1024));
    assert.equal(c.cacheCapabilities?.actionCacheUpdateCapabilities?.updateEnabled, true);
    assert.equal(c.cacheCapabilities?.symlinkAbsolutePathStrategy, SymlinkAbsolutePathStrategy_Value.DISALLOWED);
    assert.deepEqual(c.cacheCapabilities?.supportedCompressors, []);
    assert.equal(c.executionCapabilities?.execEnabled, true);
    assert.equal(c.executionCapabilities?.digestFunction, DigestFunction_Value.SHA256);
    assert.deepEqual(c.executionCapabilities?.digestFunctions, [DigestFunction_Value.SHA256]);
    assert.deepEqual([c.lowApiVersion?.major, c.lowApiVersion?.minor], [2, 0]);
    assert.deepEqual([c.highApiVersion?.major, c.highApiVersion?.minor], [2, 3]);
    await rejectsWith(unary(caps, 'getCapabilities', { instanceName: 'other' }), grpc.status.NOT_FOUND, /unknown instance name "other": this server serves only "main"/);
  });

  it('FindMissingBlobs: reports absent blobs, never the empty one, and refuses malformed digests', async () => {
    const present = blob('present');
    await upload(cas, [present], INSTANCE);
    const absent = blob('absent');
    const res = await unary<FindMissingBlobsResponse>(cas, 'findMissingBlobs', {
      instanceName: INSTANCE,
      blobDigests: [pd(present.digest), pd(absent.digest), pd(EMPTY_DIGEST), pd(absent.digest)],
    });
    assert.deepEqual(res.missingBlobDigests.map((d) => d.hash), [absent.digest.hash]);
    await rejectsWith(
      unary(cas, 'findMissingBlobs', { instanceName: INSTANCE, blobDigests: [{ hash: 'ABC', sizeBytes: 3n }] }),
      grpc.status.INVALID_ARGUMENT,
      /blob_digests\[0\] has a malformed hash "ABC"/,
    );
    await rejectsWith(
      unary(cas, 'findMissingBlobs', { instanceName: INSTANCE, blobDigests: [{ hash: present.digest.hash, sizeBytes: -1n }] }),
      grpc.status.INVALID_ARGUMENT,
      /invalid size -1/,
    );
    await rejectsWith(
      unary(cas, 'findMissingBlobs', { instanceName: INSTANCE, blobDigests: [], digestFunction: DigestFunction_Value.BLAKE3 }),
      grpc.status.INVALID_ARGUMENT,
      /digest function BLAKE3 is not supported: this server supports only SHA256/,
    );
    await rejectsWith(unary(cas, 'findMissingBlobs', { instanceName: '', blobDigests: [] }), grpc.status.NOT_FOUND, /unknown instance name ""/);
  });

  it('BatchUpdateBlobs: stores good blobs, refuses corrupt, compressed and oversized ones per blob, and whole batches over the limit', async () => {
    const good = blob('good blob');
    const bad = { digest: blob('what the digest says').digest, data: Buffer.from('what was sent') };
    const res = await unary<BatchUpdateBlobsResponse>(cas, 'batchUpdateBlobs', {
      instanceName: INSTANCE,
      requests: [
        { digest: pd(good.digest), data: good.data },
        { digest: pd(bad.digest), data: bad.data },
        { digest: pd(good.digest), data: good.data, compressor: Compressor_Value.ZSTD },
        { digest: { hash: 'nothex', sizeBytes: 1n }, data: Buffer.from('x') },
      ],
    });
    const codes = res.responses.map((r) => r.status?.code ?? 0);
    assert.deepEqual(codes, [grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.INVALID_ARGUMENT, grpc.status.INVALID_ARGUMENT]);
    assert.match(res.responses[1]!.status!.message, /does not match its digest .* nothing was stored/);
    assert.match(res.responses[2]!.status!.message, /compressor ZSTD is not supported/);
    assert.match(res.responses[3]!.status!.message, /malformed hash/);
    assert.equal(res.responses[1]!.digest?.hash, bad.digest.hash, 'each response names its digest');
    // The corrupt blob left nothing behind, in the protocol or on disk.
    const missing = await unary<FindMissingBlobsResponse>(cas, 'findMissingBlobs', { instanceName: INSTANCE, blobDigests: [pd(good.digest), pd(bad.digest)] });
    assert.deepEqual(missing.missingBlobDigests.map((d) => d.hash), [bad.digest.hash]);
    assert.equal(existsSync(casFile(server.storeDir, bad.digest)), false);
    assert.equal(existsSync(casFile(server.storeDir, good.digest)), true);

    const big = Buffer.alloc(2 * MiB, 7);
    const bigBlob = blob(big);
    await rejectsWith(
      unary(cas, 'batchUpdateBlobs', { instanceName: INSTANCE, requests: [{ digest: pd(bigBlob.digest), data: big }, { digest: pd(bigBlob.digest), data: big }] }),
      grpc.status.INVALID_ARGUMENT,
      /carries 4194304 bytes of blobs, more than this server's max_batch_total_size_bytes \(3670016\)/,
    );
  });

  it('BatchReadBlobs: returns present blobs (the empty one included), NOT_FOUND per absent blob, and refuses batches over the limit', async () => {
    const a = blob('read me');
    await upload(cas, [a], INSTANCE);
    const absent = blob('never uploaded');
    const res = await unary<BatchReadBlobsResponse>(cas, 'batchReadBlobs', {
      instanceName: INSTANCE,
      digests: [pd(a.digest), pd(absent.digest), pd(EMPTY_DIGEST)],
    });
    assert.deepEqual(res.responses.map((r) => r.status?.code ?? 0), [grpc.status.OK, grpc.status.NOT_FOUND, grpc.status.OK]);
    assert.equal(Buffer.from(res.responses[0]!.data).toString(), 'read me');
    assert.equal(res.responses[2]!.data.length, 0);
    assert.match(res.responses[1]!.status!.message, new RegExp(`blob ${digestString(absent.digest)} is not in the CAS`));
    await rejectsWith(
      unary(cas, 'batchReadBlobs', { instanceName: INSTANCE, digests: [{ hash: a.digest.hash, sizeBytes: BigInt(4 * MiB) }] }),
      grpc.status.INVALID_ARGUMENT,
      /asks for 4194304 bytes of blobs, more than this server's max_batch_total_size_bytes/,
    );
  });

  it('GetTree: streams every directory in pages with tokens, resumes from any token, omits missing parts', async () => {
    const blobs: Array<{ digest: Digest; data: Uint8Array }> = [];
    const files: Record<string, string> = {};
    for (let i = 0; i < 6; i++) for (let j = 0; j < 3; j++) files[`d${i}/e${j}/f.txt`] = `file ${i} ${j}`;
    files['same1/x/f.txt'] = 'shared';
    files['same2/x/f.txt'] = 'shared'; // same1/x and same2/x are one Directory blob
    const root = buildTree(files, blobs);
    await upload(cas, blobs, INSTANCE);
    // root, d0…d5, 18 distinct e* dirs, and same1 = same2 (one blob) holding x.
    const dirCount = 1 + 6 + 18 + 1 + 1;

    const pages = await serverStream<GetTreeResponse>(cas, 'getTree', { instanceName: INSTANCE, rootDigest: pd(root), pageSize: 4 });
    assert.ok(pages.length >= 2);
    for (const p of pages.slice(0, -1)) {
      assert.ok(p.directories.length <= 4 && p.directories.length > 0);
      assert.notEqual(p.nextPageToken, '');
    }
    assert.equal(pages[pages.length - 1]!.nextPageToken, '', 'the last page has no token');
    const all = pages.flatMap((p) => p.directories);
    assert.equal(all.length, dirCount, 'every distinct directory once, the root included');
    const rootDir = all[0]!;
    assert.deepEqual(rootDir.directories.map((d) => d.name), ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'same1', 'same2']);

    // Resuming from the second page's token gives exactly the rest.
    const resumed = await serverStream<GetTreeResponse>(cas, 'getTree', { instanceName: INSTANCE, rootDigest: pd(root), pageSize: 4, pageToken: pages[1]!.nextPageToken });
    const rest = resumed.flatMap((p) => p.directories);
    assert.deepEqual(rest.map((d) => encode(TreeSchema, create(TreeSchema, { root: d }))), all.slice(8).map((d) => encode(TreeSchema, create(TreeSchema, { root: d }))));

    await rejectsWith(
      serverStream(cas, 'getTree', { instanceName: INSTANCE, rootDigest: pd(root), pageToken: 'bogus' }),
      grpc.status.INVALID_ARGUMENT,
      /page_token "bogus" was not issued by this server/,
    );
    await rejectsWith(
      serverStream(cas, 'getTree', { instanceName: INSTANCE, rootDigest: pd(blob('no such tree').digest) }),
      grpc.status.NOT_FOUND,
      /tree root .* is not in the CAS/,
    );

    // A tree whose subdirectory was never uploaded: the present portion is returned.
    const partialBlobs: Array<{ digest: Digest; data: Uint8Array }> = [];
    const partialRoot = buildTree({ 'kept/a.txt': 'a', 'lost/b.txt': 'b' }, partialBlobs);
    const lostDigest = partialBlobs.find((b) => Buffer.from(b.data).includes(Buffer.from('b.txt')))!.digest;
    await upload(cas, partialBlobs.filter((b) => b.digest.hash !== lostDigest.hash), INSTANCE);
    const partial = (await serverStream<GetTreeResponse>(cas, 'getTree', { instanceName: INSTANCE, rootDigest: pd(partialRoot) })).flatMap((p) => p.directories);
    assert.equal(partial.length, 2, 'root and kept/, not lost/');
  });

  it('ByteStream Read: whole, offset and limit; OUT_OF_RANGE, NOT_FOUND and malformed names refused', async () => {
    const data = Buffer.from('0123456789abcdef'.repeat(1000));
    const b = blob(data);
    await upload(cas, [b], INSTANCE);
    const name = `${INSTANCE}/blobs/${b.digest.hash}/${b.digest.sizeBytes}`;
    const whole = await serverStream<ReadResponse>(bs, 'read', { resourceName: name });
    assert.deepEqual(Buffer.concat(whole.map((r) => r.data)), data);
    const part = await serverStream<ReadResponse>(bs, 'read', { resourceName: name, readOffset: 10n, readLimit: 20n });
    assert.equal(Buffer.concat(part.map((r) => r.data)).toString(), data.subarray(10, 30).toString());
    const tail = await serverStream<ReadResponse>(bs, 'read', { resourceName: name, readOffset: BigInt(data.length) });
    assert.equal(Buffer.concat(tail.map((r) => r.data)).length, 0, 'reading at the very end is empty, not an error');
    await rejectsWith(serverStream(bs, 'read', { resourceName: name, readOffset: BigInt(data.length + 1) }), grpc.status.OUT_OF_RANGE, /read_offset 16001 is past the end/);
    await rejectsWith(serverStream(bs, 'read', { resourceName: name, readOffset: -1n }), grpc.status.OUT_OF_RANGE, /read_offset -1 is negative/);
    await rejectsWith(serverStream(bs, 'read', { resourceName: name, readLimit: -1n }), grpc.status.INVALID_ARGUMENT, /read_limit -1 is negative/);
    const absent = blob('not there');
    await rejectsWith(
      serverStream(bs, 'read', { resourceName: `${INSTANCE}/blobs/${absent.digest.hash}/${absent.digest.sizeBytes}` }),
      grpc.status.NOT_FOUND,
      /is not in the CAS/,
    );
    await rejectsWith(serverStream(bs, 'read', { resourceName: `${INSTANCE}/blobs/xyz/12` }), grpc.status.INVALID_ARGUMENT, /malformed resource_name .*"xyz" is not a SHA-256 hash/);
    await rejectsWith(serverStream(bs, 'read', { resourceName: `${INSTANCE}/blobs/${b.digest.hash}/-5` }), grpc.status.INVALID_ARGUMENT, /"-5" is not a size in bytes/);
    await rejectsWith(serverStream(bs, 'read', { resourceName: `${INSTANCE}/things/x` }), grpc.status.INVALID_ARGUMENT, /has no blobs\/, uploads\/ or compressed-blobs\/ segment/);
    await rejectsWith(serverStream(bs, 'read', { resourceName: '' }), grpc.status.INVALID_ARGUMENT, /resource_name is empty/);
    await rejectsWith(
      serverStream(bs, 'read', { resourceName: `other/blobs/${b.digest.hash}/${b.digest.sizeBytes}` }),
      grpc.status.NOT_FOUND,
      /names instance "other", but this server serves only "main"/,
    );
    await rejectsWith(
      serverStream(bs, 'read', { resourceName: `${INSTANCE}/compressed-blobs/zstd/${b.digest.hash}/${b.digest.sizeBytes}` }),
      grpc.status.INVALID_ARGUMENT,
      /compressed-blobs \(zstd\) are not supported/,
    );
    await rejectsWith(
      serverStream(bs, 'read', { resourceName: `${INSTANCE}/blobs/blake3/${b.digest.hash}/${b.digest.sizeBytes}` }),
      grpc.status.INVALID_ARGUMENT,
      /digest function blake3 is not supported/,
    );
    const extra = await serverStream<ReadResponse>(bs, 'read', { resourceName: `${INSTANCE}/blobs/sha256/${b.digest.hash}/${b.digest.sizeBytes}` });
    assert.equal(Buffer.concat(extra.map((r) => r.data)).length, data.length, 'an explicit sha256 segment is tolerated');
  });

  it('ByteStream Write: stores a verified upload; refuses corrupt data, overlong data and bad offsets, storing nothing', async () => {
    const data = Buffer.from('uploaded through ByteStream '.repeat(5000));
    const b = blob(data);
    const name = `${INSTANCE}/uploads/5a6f0e4e-1111-4c2b-9b0a-000000000001/blobs/${b.digest.hash}/${b.digest.sizeBytes}/some/metadata`;
    const res = await clientStream<WriteResponse>(bs, 'write', writeRequests(name, data, { chunk: 10_000 }));
    assert.equal(res.committedSize, BigInt(data.length));
    assert.equal(existsSync(casFile(server.storeDir, b.digest)), true);

    const claimed = blob('the right content');
    const corruptName = `${INSTANCE}/uploads/5a6f0e4e-1111-4c2b-9b0a-000000000002/blobs/${claimed.digest.hash}/${claimed.digest.sizeBytes}`;
    const wrong = Buffer.from('the wrong content'); // same length
    await rejectsWith(clientStream(bs, 'write', writeRequests(corruptName, wrong)), grpc.status.INVALID_ARGUMENT, /does not match its digest .* nothing was stored/);
    assert.equal(existsSync(casFile(server.storeDir, claimed.digest)), false);
    await rejectsWith(unary(bs, 'queryWriteStatus', { resourceName: corruptName }), grpc.status.NOT_FOUND, /no upload of .* is in progress/);

    const tooLong = Buffer.concat([claimed.data, Buffer.from('!')]);
    await rejectsWith(clientStream(bs, 'write', writeRequests(corruptName, tooLong)), grpc.status.INVALID_ARGUMENT, /more data than the 17 bytes the resource name declares/);
    const short = claimed.data.subarray(0, 5);
    await rejectsWith(clientStream(bs, 'write', writeRequests(corruptName, Buffer.from(short))), grpc.status.INVALID_ARGUMENT, /finish_write after 5 bytes, but the resource name declares 17/);
    await rejectsWith(
      clientStream(bs, 'write', [{ resourceName: corruptName, writeOffset: 3n, data: claimed.data, finishWrite: true }]),
      grpc.status.INVALID_ARGUMENT,
      /write_offset 3 does not match the 0 bytes committed/,
    );
    await rejectsWith(
      clientStream(bs, 'write', [
        { resourceName: corruptName, writeOffset: 0n, data: claimed.data.subarray(0, 4) },
        { resourceName: '', writeOffset: 9n, data: claimed.data.subarray(4), finishWrite: true },
      ]),
      grpc.status.INVALID_ARGUMENT,
      /write_offset 9 is not contiguous with the data sent so far \(expected 4\)/,
    );
    await rejectsWith(
      clientStream(bs, 'write', writeRequests(`${INSTANCE}/blobs/${claimed.digest.hash}/${claimed.digest.sizeBytes}`, Buffer.from(claimed.data))),
      grpc.status.INVALID_ARGUMENT,
      /a write must name \{instance\}\/uploads\/\{uuid\}\/blobs/,
    );
    await rejectsWith(
      clientStream(bs, 'write', writeRequests(`${INSTANCE}/uploads/u1/compressed-blobs/zstd/${claimed.digest.hash}/${claimed.digest.sizeBytes}`, Buffer.from(claimed.data))),
      grpc.status.INVALID_ARGUMENT,
      /compressed-blobs \(zstd\) are not supported/,
    );
    await rejectsWith(
      clientStream(bs, 'write', writeRequests(`elsewhere/uploads/u1/blobs/${claimed.digest.hash}/${claimed.digest.sizeBytes}`, Buffer.from(claimed.data))),
      grpc.status.NOT_FOUND,
      /names instance "elsewhere"/,
    );
    const huge: Digest = { hash: claimed.digest.hash, sizeBytes: 200 * MiB };
    await rejectsWith(
      clientStream(bs, 'write', [{ resourceName: `${INSTANCE}/uploads/u2/blobs/${huge.hash}/${huge.sizeBytes}`, writeOffset: 0n, data: Buffer.from('x') }]),
      grpc.status.INVALID_ARGUMENT,
      /is 209715200 bytes, more than this server accepts \(104857600 bytes, --max-blob-size\)/,
    );
    assert.equal(existsSync(casFile(server.storeDir, claimed.digest)), false, 'none of the refused uploads stored anything');
  });

  it('ByteStream Write is resumable: QueryWriteStatus reports the committed size, the rest completes it; an existing blob completes at once', async () => {
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const b = blob(data);
    const name = `${INSTANCE}/uploads/0d7a3c52-2222-4c2b-9b0a-000000000003/blobs/${b.digest.hash}/${b.digest.sizeBytes}`;
    await rejectsWith(unary(bs, 'queryWriteStatus', { resourceName: name }), grpc.status.NOT_FOUND, /no upload of .* is in progress/);
    // First attempt: 100,000 bytes, then the client goes away without finish_write.
    const first = await clientStream<WriteResponse>(bs, 'write', writeRequests(name, data.subarray(0, 100_000), { chunk: 30_000, finish: false }));
    assert.equal(first.committedSize, 100_000n);
    const status = await unary<QueryWriteStatusResponse>(bs, 'queryWriteStatus', { resourceName: name });
    assert.deepEqual([status.committedSize, status.complete], [100_000n, false]);
    assert.equal(existsSync(casFile(server.storeDir, b.digest)), false, 'a partial upload is not in the CAS');
    const second = await clientStream<WriteResponse>(bs, 'write', writeRequests(name, data, { chunk: 50_000, offset: 100_000 }));
    assert.equal(second.committedSize, BigInt(data.length));
    const done = await unary<QueryWriteStatusResponse>(bs, 'queryWriteStatus', { resourceName: name });
    assert.deepEqual([done.committedSize, done.complete], [BigInt(data.length), true]);
    const back = await serverStream<ReadResponse>(bs, 'read', { resourceName: `${INSTANCE}/blobs/${b.digest.hash}/${b.digest.sizeBytes}` });
    assert.ok(Buffer.concat(back.map((r) => r.data)).equals(data));

    // A Write whose client goes away mid-stream keeps what it committed, for the retry.
    const other = Buffer.alloc(150_000, 'cancelled upload ');
    const ob = blob(other);
    const oname = `${INSTANCE}/uploads/0d7a3c52-2222-4c2b-9b0a-000000000009/blobs/${ob.digest.hash}/${ob.digest.sizeBytes}`;
    const call = bs.write!.call(bs, () => {}) as grpc.ClientWritableStream<unknown>;
    call.on('error', () => {});
    call.write({ resourceName: oname, writeOffset: 0n, finishWrite: false, data: other.subarray(0, 60_000) });
    await eventually(
      async () => (await unary<QueryWriteStatusResponse>(bs, 'queryWriteStatus', { resourceName: oname }).catch(() => ({ committedSize: 0n }))).committedSize === 60_000n,
      60_000,
      'the first 60,000 bytes to be committed',
    );
    call.cancel();
    await new Promise((r) => setTimeout(r, 100));
    const after = await unary<QueryWriteStatusResponse>(bs, 'queryWriteStatus', { resourceName: oname });
    assert.deepEqual([after.committedSize, after.complete], [60_000n, false]);
    const resumed = await clientStream<WriteResponse>(bs, 'write', writeRequests(oname, other, { offset: 60_000 }));
    assert.equal(resumed.committedSize, BigInt(other.length));

    // Uploading a blob the CAS has ends at once with the full size, whatever was sent.
    const again = `${INSTANCE}/uploads/0d7a3c52-2222-4c2b-9b0a-000000000004/blobs/${b.digest.hash}/${b.digest.sizeBytes}`;
    const early = await clientStream<WriteResponse>(bs, 'write', [{ resourceName: again, writeOffset: 0n, data: data.subarray(0, 10) }]);
    assert.equal(early.committedSize, BigInt(data.length));
    const q = await unary<QueryWriteStatusResponse>(bs, 'queryWriteStatus', { resourceName: again });
    assert.equal(q.complete, true);
  });

  it('ByteStream Write: a newer Write of the same resource takes the upload over; the older one is ABORTED', async () => {
    const data = Buffer.alloc(200_000, 'takeover');
    const b = blob(data);
    const name = `${INSTANCE}/uploads/7e57ab1e-4444-4c2b-9b0a-000000000006/blobs/${b.digest.hash}/${b.digest.sizeBytes}`;
    // The first writer sends half and then stalls, its stream still open.
    let release: () => void = () => {};
    const stall = new Promise<void>((r) => (release = r));
    async function* slow() {
      yield { resourceName: name, writeOffset: 0n, data: data.subarray(0, 100_000) };
      await stall;
      yield { resourceName: '', writeOffset: 100_000n, data: data.subarray(100_000), finishWrite: true };
    }
    const first = clientStream<WriteResponse>(bs, 'write', slow());
    let status: QueryWriteStatusResponse | undefined;
    await eventually(
      async () => {
        status = await unary<QueryWriteStatusResponse>(bs, 'queryWriteStatus', { resourceName: name }).catch(() => undefined);
        return status?.committedSize === 100_000n;
      },
      60_000,
      "the first writer's half to be committed",
    );
    assert.equal(status?.committedSize, 100_000n);
    // A second writer resumes from the committed size and finishes.
    const second = await clientStream<WriteResponse>(bs, 'write', writeRequests(name, data, { offset: 100_000 }));
    assert.equal(second.committedSize, BigInt(data.length));
    release();
    // The first writer finds the blob complete (its resumed chunk is refused) or was taken over.
    await first.then(
      (r) => assert.equal(r.committedSize, BigInt(data.length)),
      (e: grpc.ServiceError) => assert.ok([grpc.status.ABORTED, grpc.status.INVALID_ARGUMENT].includes(e.code), e.details),
    );
    const back = await serverStream<ReadResponse>(bs, 'read', { resourceName: `${INSTANCE}/blobs/${b.digest.hash}/${b.digest.sizeBytes}` });
    assert.ok(Buffer.concat(back.map((r) => r.data)).equals(data));
  });

  // What this costs (MB/s, the server's peak RSS for a 1 GiB blob) is a figure:
  // bench/remote-bench.ts. Here, the behaviour: the server commits an upload as it
  // arrives (seen through QueryWriteStatus while the stream is still open) and
  // answers a Read in chunks.
  it('ByteStream moves a large blob up and down in chunks, holding neither side whole', async () => {
    const size = 16 * MiB + 5;
    const chunkOf = (i: number, n: number): Buffer => Buffer.alloc(n, createHash('sha256').update(`c${i}`).digest());
    const h = createHash('sha256');
    for (let off = 0, i = 0; off < size; off += MiB, i++) h.update(chunkOf(i, Math.min(MiB, size - off)));
    const digest: Digest = { hash: h.digest('hex') as Digest['hash'], sizeBytes: size };
    const name = `${INSTANCE}/uploads/3f1e2d3c-3333-4c2b-9b0a-000000000005/blobs/${digest.hash}/${size}`;
    const half = 8 * MiB;
    let committedMidway = 0n;
    async function* requests() {
      for (let off = 0, i = 0; off < size; off += MiB, i++) {
        if (off === half) {
          // The first half is sent and the stream is open: the server has it on disk, not in a buffer waiting for the rest.
          await eventually(
            async () => {
              // NOT_FOUND until the server has taken the first request.
              const status = await unary<QueryWriteStatusResponse>(bs, 'queryWriteStatus', { resourceName: name }).catch(() => undefined);
              committedMidway = status?.committedSize ?? 0n;
              return committedMidway >= BigInt(half);
            },
            60_000,
            'the first half of the upload to be committed',
          );
        }
        const n = Math.min(MiB, size - off);
        yield { resourceName: i === 0 ? name : '', writeOffset: BigInt(off), finishWrite: off + n >= size, data: chunkOf(i, n) };
      }
    }
    const res = await clientStream<WriteResponse>(bs, 'write', requests());
    assert.equal(res.committedSize, BigInt(size));
    assert.equal(committedMidway, BigInt(half));

    const down = createHash('sha256');
    let got = 0;
    let largest = 0;
    let responses = 0;
    await new Promise<void>((resolve, reject) => {
      const call = bs.read!.call(bs, { resourceName: `${INSTANCE}/blobs/${digest.hash}/${size}` }) as grpc.ClientReadableStream<ReadResponse>;
      call.on('data', (r: ReadResponse) => {
        down.update(r.data);
        got += r.data.length;
        largest = Math.max(largest, r.data.length);
        responses++;
      });
      call.on('error', reject);
      call.on('end', () => resolve());
    });
    assert.equal(got, size);
    assert.equal(down.digest('hex'), digest.hash);
    assert.ok(largest <= 1.5 * MiB, `responses are chunked (largest ${largest} bytes)`);
    assert.ok(responses >= size / (1.5 * MiB), `${responses} responses`);
  });

  it('ActionCache: NOT_FOUND on a miss, results stored and returned, refused when malformed or when outputs are gone', async () => {
    const actionDigest = blob('an action').digest;
    await rejectsWith(unary(ac, 'getActionResult', { instanceName: INSTANCE, actionDigest: pd(actionDigest) }), grpc.status.NOT_FOUND, /no action result for/);
    const out = blob('output file');
    const stdout = blob('hello\n');
    await upload(cas, [out, stdout], INSTANCE);
    const result = create(ActionResultSchema, {
      outputFiles: [{ path: 'out/file.txt', digest: pd(out.digest), isExecutable: true }],
      exitCode: 0,
      stdoutDigest: pd(stdout.digest),
      executionMetadata: { worker: 'test' },
    });
    const stored = await unary<ActionResult>(ac, 'updateActionResult', { instanceName: INSTANCE, actionDigest: pd(actionDigest), actionResult: result });
    assert.equal(stored.outputFiles[0]?.path, 'out/file.txt');
    const got = await unary<ActionResult>(ac, 'getActionResult', { instanceName: INSTANCE, actionDigest: pd(actionDigest), inlineStdout: true });
    assert.equal(got.outputFiles[0]?.digest?.hash, out.digest.hash);
    assert.equal(got.exitCode, 0);
    assert.equal(Buffer.from(got.stdoutRaw).toString(), 'hello\n', 'stdout inlined on request');
    const plain = await unary<ActionResult>(ac, 'getActionResult', { instanceName: INSTANCE, actionDigest: pd(actionDigest) });
    assert.equal(plain.stdoutRaw.length, 0, 'not inlined unless asked');

    // A result whose output is not in the CAS is a miss: the client could not download it.
    const dangling = blob('another action').digest;
    const gone = create(ActionResultSchema, { outputFiles: [{ path: 'x', digest: pd(blob('never uploaded output').digest) }], exitCode: 0 });
    await unary(ac, 'updateActionResult', { instanceName: INSTANCE, actionDigest: pd(dangling), actionResult: gone });
    await rejectsWith(unary(ac, 'getActionResult', { instanceName: INSTANCE, actionDigest: pd(dangling) }), grpc.status.NOT_FOUND, /no action result/);

    await rejectsWith(
      unary(ac, 'updateActionResult', { instanceName: INSTANCE, actionDigest: pd(actionDigest), actionResult: create(ActionResultSchema, { outputFiles: [{ path: 'y', digest: { hash: 'zz', sizeBytes: 1n } }] }) }),
      grpc.status.INVALID_ARGUMENT,
      /action_result.output_files\[0\].digest has a malformed hash "zz"/,
    );
    await rejectsWith(
      unary(ac, 'updateActionResult', { instanceName: INSTANCE, actionDigest: pd(actionDigest), actionResult: create(ActionResultSchema, { outputFiles: [{ path: '/abs', digest: pd(out.digest) }] }) }),
      grpc.status.INVALID_ARGUMENT,
      /output_files\[0\] path "\/abs" is absolute/,
    );
    await rejectsWith(unary(ac, 'updateActionResult', { instanceName: INSTANCE, actionDigest: pd(actionDigest) }), grpc.status.INVALID_ARGUMENT, /action_result is missing/);
    await rejectsWith(unary(ac, 'getActionResult', { instanceName: INSTANCE, actionDigest: { hash: 'q', sizeBytes: 1n } }), grpc.status.INVALID_ARGUMENT, /action_digest has a malformed hash/);
    await rejectsWith(unary(ac, 'getActionResult', { instanceName: 'nope', actionDigest: pd(actionDigest) }), grpc.status.NOT_FOUND, /unknown instance name "nope"/);
  });

  it('logs one line per RPC at debug level, with the caller\'s RequestMetadata', async () => {
    const md = new grpc.Metadata();
    md.set(
      'build.bazel.remote.execution.v2.requestmetadata-bin',
      Buffer.from(encode(RequestMetadataSchema, create(RequestMetadataSchema, { toolDetails: { toolName: 'bazel', toolVersion: '7.1.0' }, toolInvocationId: 'inv-42', actionId: 'act-7' }))),
    );
    await unary(cas, 'findMissingBlobs', { instanceName: INSTANCE, blobDigests: [] }, md);
    // The line is written after the answer went out, by another process: wait for it.
    await eventually(() => /DEBUG rpc FindMissingBlobs OK .* invocation=inv-42/.test(server.stderr()), 30_000, 'the RPC in the server log');
    assert.match(server.stderr(), /DEBUG rpc FindMissingBlobs OK [\d.]+ms peer=\S+ tool=bazel\/7\.1\.0 invocation=inv-42 action-id=act-7/);
    assert.match(server.stderr(), /DEBUG rpc GetActionResult NOT_FOUND .*: no action result/);
  });
});

describe('trews remote-server: authentication, TLS and the command line', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trews-rs-auth-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('with --token-file, calls without the right bearer token are UNAUTHENTICATED', async () => {
    await writeFile(join(dir, 'tokens'), '# tokens\ns3cret-one\n\nsecond-token\n');
    const server = await startServer(['--token-file', join(dir, 'tokens')]);
    const caps = connect(CapabilitiesService, server.address);
    const cas = connect(ContentAddressableStorageService, server.address);
    try {
      await rejectsWith(unary(caps, 'getCapabilities', {}), grpc.status.UNAUTHENTICATED, /requires a bearer token: send the header `authorization: Bearer <token>`/);
      const wrong = new grpc.Metadata();
      wrong.set('authorization', 'Bearer nope');
      await rejectsWith(unary(caps, 'getCapabilities', {}, wrong), grpc.status.UNAUTHENTICATED, /bearer token .* is not accepted/);
      const basic = new grpc.Metadata();
      basic.set('authorization', 'Basic dXNlcjpwYXNz');
      await rejectsWith(unary(cas, 'findMissingBlobs', { blobDigests: [] }, basic), grpc.status.UNAUTHENTICATED, /must have the form `Bearer <token>`/);
      await rejectsWith(serverStream(cas, 'getTree', { rootDigest: pd(EMPTY_DIGEST) }), grpc.status.UNAUTHENTICATED, /requires a bearer token/);
      for (const token of ['s3cret-one', 'second-token']) {
        const ok = new grpc.Metadata();
        ok.set('authorization', `Bearer ${token}`);
        const c = await unary<ServerCapabilities>(caps, 'getCapabilities', {}, ok);
        assert.equal(c.executionCapabilities?.execEnabled, true);
      }
    } finally {
      caps.close();
      cas.close();
      assert.equal(await server.stop(), 0);
    }
  });

  it('serves TLS with a certificate made by openssl; plaintext clients cannot talk to it', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const server = await startServer(['--tls-cert', cert, '--tls-key', key]);
    assert.match(server.stdout(), /listening on 127\.0\.0\.1:\d+ \(TLS\)/);
    const secure = connect(CapabilitiesService, server.address, grpc.credentials.createSsl(await readFile(cert)));
    const plain = connect(CapabilitiesService, server.address, grpc.credentials.createInsecure(), { 'grpc.initial_reconnect_backoff_ms': 100 });
    try {
      const c = await unary<ServerCapabilities>(secure, 'getCapabilities', {});
      assert.equal(c.cacheCapabilities?.digestFunctions[0], DigestFunction_Value.SHA256);
      const deadline = new grpc.Metadata();
      await assert.rejects(
        new Promise((resolve, reject) => plain.getCapabilities!.call(plain, {}, deadline, { deadline: Date.now() + 3000 }, (e: unknown, r: unknown) => (e ? reject(e) : resolve(r)))),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED,
      );
    } finally {
      secure.close();
      plain.close();
      assert.equal(await server.stop(), 0);
    }
  });

  it('refuses bad flags and files with one `error:` line and exit code 2, and prints usage on --help', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--lsten', '1'], /^error: Unknown option '--lsten'/m],
      [['--listen', 'localhost'], /^error: --listen "localhost" must be HOST:PORT/m],
      [['--listen=127.0.0.1:99999'], /^error: --listen "127.0.0.1:99999" must be HOST:PORT/m],
      [['--workers', '0'], /^error: --workers "0" must be a positive whole number/m],
      [['--platform', 'novalue'], /^error: --platform "novalue" must have the form KEY=VALUE/m],
      [['--tls-cert', 'c.pem'], /^error: --tls-cert and --tls-key must be given together/m],
      [['--tls-cert', 'nope.pem', '--tls-key', 'nope.key'], /^error: --tls-cert .*nope\.pem: no such file/m],
      [['--token-file', 'missing-tokens'], /^error: --token-file .*missing-tokens: no such file/m],
      [['--max-blob-size', 'lots'], /^error: --max-blob-size "lots" must be a size such as 1048576, 512M or 16G/m],
      [['--log-level', 'loud'], /^error: --log-level "loud" is not one of trace, debug, info, warn, error/m],
      [['positional'], /^error: Unexpected argument 'positional'/m],
    ];
    for (const [args, pattern] of cases) {
      const r = await runServerCli([...args, '--store-dir', join(dir, 'store')], dir);
      assert.equal(r.code, 2, `${args.join(' ')} exits 2 (stderr: ${r.stderr})`);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    await writeFile(join(dir, 'empty-tokens'), '\n# nothing\n');
    const empty = await runServerCli(['--token-file', 'empty-tokens', '--store-dir', join(dir, 'store')], dir);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^error: --token-file empty-tokens: no token in it/m);
    const help = await runServerCli(['--help'], dir);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: trews remote-server \[options\]/);
  });

  it('removes work dirs left by dead servers, keeps those of live ones', async () => {
    const storeDir = join(dir, 'shared-store');
    const parent = join(storeDir, 'remote-server');
    await mkdir(join(parent, 'run-dead', 'sandboxes'), { recursive: true });
    await writeFile(join(parent, 'run-dead', 'pid'), '999999999\n');
    await mkdir(join(parent, 'run-live'), { recursive: true });
    await writeFile(join(parent, 'run-live', 'pid'), `${process.pid}\n`);
    const server = await startServer(['--store-dir', storeDir]);
    try {
      assert.equal(existsSync(join(parent, 'run-dead')), false);
      assert.equal(existsSync(join(parent, 'run-live')), true);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.deepEqual(await readdir(parent), ['run-live'], 'the server removed its own work dir on exit');
  });

  it('prints one line when listening, accepts --listen=…, exits 0 on SIGINT, and reports a taken port with exit 1', async () => {
    const server = await startServer(['--instance-name', 'main', '--workers', '3']);
    assert.match(server.stdout(), new RegExp(`^trews remote-server: listening on ${server.address.replace(/\./g, '\\.')}, instance main, 3 workers, store ${server.storeDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, platform \\(none: actions asking for any property are refused\\)\n$`));
    const taken = await runServerCli([`--listen=${server.address}`, '--store-dir', join(dir, 'store2')], dir);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, new RegExp(`^error: cannot listen on ${server.address.replace(/\./g, '\\.')}`, 'm'));
    server.child.kill('SIGINT');
    assert.equal(await server.stop(), 0);
    assert.doesNotMatch(server.stderr(), /\n\s+at /, 'no stack trace on the way out');
  });
});
