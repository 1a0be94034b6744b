// A `trews remote-server` materializes action inputs as hard links into its
// own CAS, so an action could change a stored blob by writing to its input
// (the server runs as root in CI: modes stop nothing). Through a real server:
// such an action, and one sharing the blob that ran meanwhile, fail with
// FAILED_PRECONDITION, nothing is cached, and the blob leaves the CAS.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ActionCacheService, Code, ContentAddressableStorageService, ExecutionService, type Operation } from '../src/reapi/index.js';
import type { Digest } from '../src/core/index.js';
import {
  blob,
  buildAction,
  buildTree,
  connect,
  eventually,
  outcomeOf,
  pd,
  preconditionFailure,
  rejectsWith,
  serverStream,
  startServer,
  unary,
  upload,
  readBlob,
  type ActionSpec,
  type RpcClient,
  type ServerProcess,
} from './helpers/remote-server.js';
import { runTrews } from './helpers/index.js';

const SH = '/bin/sh';
const SHARED = 'shared input\n';

describe('trews remote-server: actions cannot change the blobs of their inputs', () => {
  let server: ServerProcess;
  let cas: RpcClient;
  let exec: RpcClient;
  let ac: RpcClient;
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'trews-rs-integrity-'));
    server = await startServer(['--workers', '2']);
    cas = connect(ContentAddressableStorageService, server.address);
    exec = connect(ExecutionService, server.address);
    ac = connect(ActionCacheService, server.address);
  });

  after(async () => {
    for (const c of [cas, exec, ac]) c.close();
    assert.equal(await server.stop(), 0);
    await rm(scratch, { recursive: true, force: true });
  });

  async function prepare(spec: ActionSpec): Promise<Digest> {
    const a = buildAction(spec);
    await upload(cas, a.blobs);
    return a.actionDigest;
  }

  async function execute(actionDigest: Digest) {
    return outcomeOf(await serverStream<Operation>(exec, 'execute', { actionDigest: pd(actionDigest) }));
  }

  async function missing(d: Digest): Promise<string[]> {
    const r = await unary<{ missingBlobDigests: Array<{ hash: string }> }>(cas, 'findMissingBlobs', { instanceName: '', blobDigests: [pd(d)] });
    return r.missingBlobDigests.map((x) => x.hash);
  }

  it('an action that appends to its input fails, is not cached, and the blob must be uploaded again', async () => {
    const shared = blob(SHARED);
    const writer = await prepare({ argv: [SH, '-c', 'chmod u+w in/x.txt && echo poison >> in/x.txt'], files: { 'in/x.txt': SHARED } });
    const r = await execute(writer);
    assert.equal(r.response.status?.code, Code.FAILED_PRECONDITION, r.response.status?.message);
    assert.match(r.response.status?.message ?? '', /modified its input `in\/x\.txt`/);
    assert.equal(r.response.result, undefined, 'no result');
    await rejectsWith(unary(ac, 'getActionResult', { actionDigest: pd(writer) }), grpc.status.NOT_FOUND, /./);
    assert.deepEqual(await missing(shared.digest), [shared.digest.hash], 'the modified blob left the CAS');

    // An action needing the blob is told it is missing, and runs on the intact bytes once it is uploaded again.
    const reader = buildAction({ argv: [SH, '-c', 'cat in/x.txt'], files: { 'in/x.txt': SHARED } });
    await upload(cas, reader.blobs.filter((b) => b.digest.hash !== shared.digest.hash));
    const err = await rejectsWith(serverStream<Operation>(exec, 'execute', { actionDigest: pd(reader.actionDigest) }), grpc.status.FAILED_PRECONDITION, /missing/i);
    assert.deepEqual(
      preconditionFailure(err).violations.map((v) => v.subject),
      [`blobs/${shared.digest.hash}/${shared.digest.sizeBytes}`],
    );
    await upload(cas, [shared]);
    const ok = await execute(reader.actionDigest);
    assert.equal(ok.response.status?.code ?? 0, 0, ok.response.status?.message);
    assert.equal((await readBlob(cas, ok.response.result?.stdoutDigest)).toString(), SHARED);
  });

  it('a Directory the upload left in the server\'s memory but that left its CAS is not run from memory: MISSING, then uploaded again', async () => {
    // The `in` Directory of the reader, as a file of the writer: the writer's
    // append removes that blob from the CAS on disk, while the BatchUpdateBlobs
    // that brought it left its bytes in the server's memory (recent-blobs.ts).
    const inDir: Array<{ digest: Digest; data: Uint8Array }> = [];
    const inDigest = buildTree({ 'x.txt': 'kept in memory\n' }, inDir);
    const inBytes = inDir.find((b) => b.digest.hash === inDigest.hash)!.data;
    assert.ok(inBytes.every((b) => b < 0x80), 'the Directory message is ASCII, so it can be a file of the writer');
    const reader = buildAction({ argv: [SH, '-c', 'cat in/x.txt'], files: { 'in/x.txt': 'kept in memory\n' } });
    await upload(cas, reader.blobs);
    const writer = await prepare({ argv: [SH, '-c', 'chmod u+w w/d && echo poison >> w/d'], files: { 'w/d': Buffer.from(inBytes).toString('latin1') } });
    const w = await execute(writer);
    assert.equal(w.response.status?.code, Code.FAILED_PRECONDITION, w.response.status?.message);
    assert.deepEqual(await missing(inDigest), [inDigest.hash], 'the modified blob left the CAS');

    const r = await execute(reader.actionDigest);
    assert.equal(r.response.status?.code, Code.FAILED_PRECONDITION, `ran from memory: ${r.response.status?.message ?? 'it succeeded'}`);
    assert.match(r.response.status?.message ?? '', new RegExp(`missing.*${inDigest.hash}|${inDigest.hash}.*missing`, 'i'));
    assert.equal(r.response.result, undefined, 'no result');
    await upload(cas, [{ digest: inDigest, data: inBytes }]);
    const ok = await execute(reader.actionDigest);
    assert.equal(ok.response.status?.code ?? 0, 0, ok.response.status?.message);
    assert.equal((await readBlob(cas, ok.response.result?.stdoutDigest)).toString(), 'kept in memory\n');
  });

  it('an action that read the blob while another wrote to it fails too, and neither is cached', async () => {
    const sync = join(scratch, 'sync');
    await mkdir(sync);
    const env = { PATH: '/usr/bin:/bin', SYNC: sync };
    const reader = await prepare({
      argv: [SH, '-c', 'cat b/x.txt >/dev/null; touch "$SYNC/b-reading"; while [ ! -e "$SYNC/a-wrote" ]; do sleep 0.01; done; cat b/x.txt'],
      env,
      files: { 'b/x.txt': SHARED },
    });
    const writer = await prepare({
      argv: [SH, '-c', 'while [ ! -e "$SYNC/b-reading" ]; do sleep 0.01; done; chmod u+w a/x.txt; echo poison >> a/x.txt; touch "$SYNC/a-wrote"'],
      env,
      files: { 'a/x.txt': SHARED },
    });
    const [b, a] = await Promise.all([execute(reader), execute(writer)]);
    assert.equal(a.response.status?.code, Code.FAILED_PRECONDITION, a.response.status?.message);
    assert.equal(b.response.status?.code, Code.FAILED_PRECONDITION, `the reader saw the written bytes: ${b.response.status?.message ?? 'it succeeded'}`);
    for (const d of [reader, writer]) {
      await rejectsWith(unary(ac, 'getActionResult', { actionDigest: pd(d) }), grpc.status.NOT_FOUND, /./);
    }
    assert.match(server.stderr(), /FAILED_PRECONDITION: process `\/bin\/sh/);
  });
});

describe('trews remote-server: a gc of its store while actions wait for a worker', () => {
  let server: ServerProcess;
  let cas: RpcClient;
  let exec: RpcClient;
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'trews-rs-gc-'));
    server = await startServer(['--workers', '1']);
    cas = connect(ContentAddressableStorageService, server.address);
    exec = connect(ExecutionService, server.address);
  });

  after(async () => {
    for (const c of [cas, exec]) c.close();
    assert.equal(await server.stop(), 0);
    await rm(scratch, { recursive: true, force: true });
  });

  it('keeps the inputs of a queued action, checked when it was accepted', async () => {
    const sync = join(scratch, 'sync');
    await mkdir(sync);
    const env = { PATH: '/usr/bin:/bin', SYNC: sync };
    // Holds the only worker until the GC is over.
    const holder = buildAction({ argv: [SH, '-c', 'touch "$SYNC/holding"; while [ ! -e "$SYNC/go" ]; do sleep 0.05; done'], env });
    const queued = buildAction({ argv: [SH, '-c', 'cat in/q.txt'], files: { 'in/q.txt': 'queued input\n' } });
    await upload(cas, [...holder.blobs, ...queued.blobs]);
    const first = serverStream<Operation>(exec, 'execute', { actionDigest: pd(holder.actionDigest) });
    await eventually(() => existsSync(join(sync, 'holding')), 30_000, 'the first action to hold the worker');
    // Accepted, its inputs checked, then queued behind the first: the stream's first message says so.
    const call = exec['execute']!.call(exec, { actionDigest: pd(queued.actionDigest) }, new grpc.Metadata()) as grpc.ClientReadableStream<Operation>;
    const messages: Operation[] = [];
    const accepted = new Promise<void>((resolve) => call.once('data', () => resolve()));
    call.on('data', (m: Operation) => messages.push(m));
    const second = new Promise<Operation[]>((resolve, reject) => {
      call.on('error', reject);
      call.on('end', () => resolve(messages));
    });
    await accepted;
    const gc = await runTrews(['gc', '--max-size=0'], { cwd: scratch, env: { TREWS_LOCAL_STORE_DIR: server.storeDir } });
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, /kept because running trews processes use them/);
    await writeFile(join(sync, 'go'), '');
    assert.equal(outcomeOf(await first).response.status?.code ?? 0, 0);
    const r = outcomeOf(await second).response;
    assert.equal(r.status?.code ?? 0, 0, r.status?.message);
    assert.equal((await readBlob(cas, r.result?.stdoutDigest)).toString(), 'queued input\n');
  });
});
