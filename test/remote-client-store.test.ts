// The remote client's CAS and action cache against a real `trews remote-server`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { digestOf, isFailureError, nullLogger, type Digest, type Sha256Hex } from '../src/core/index.js';
import {
  ActionResultSchema,
  BatchUpdateBlobsRequest_RequestSchema,
  BatchUpdateBlobsRequestSchema,
  Code,
  DigestFunction_Value,
  toProtoDigest,
} from '../src/reapi/index.js';
import { createRemoteLayersFromConfig, ensureUploaded, validateRemoteOptions, type RemoteConfig } from '../src/remote/client/index.js';
import type { ReapiProvider } from '../src/remote/client/reapi-provider.js';
import { METHODS } from '../src/remote/client/methods.js';
import { byteStreamWrite } from '../src/remote/client/bytestream.js';
import { treeFromBytes, type BlobStore, type LocalStore } from '../src/store/index.js';
import { blobStoreContract } from '../src/store/blob-store-contract.js';
import { reapiOf, remoteOptions, startServer, tempStore, withServer, type ServerProcess } from './helpers/remote-client.js';

const MiB = 1024 * 1024;

function configFor(server: ServerProcess, extra: Record<string, string> = {}): RemoteConfig {
  const r = validateRemoteOptions(
    remoteOptions({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_CACHE_WRITE: 'true', TREWS_REMOTE_STORE_SERVER: `grpc://${server.address}`, ...extra }),
  );
  if (!r.ok || r.value === null) throw new Error(`bad test options: ${r.ok ? 'remote off' : r.failure.message}`);
  return r.value;
}

async function withClient(
  server: ServerProcess,
  fn: (reapi: ReapiProvider, local: LocalStore) => Promise<void>,
  extra: Record<string, string> = {},
): Promise<void> {
  const local = await tempStore();
  const layers = createRemoteLayersFromConfig(configFor(server, extra), { store: local.store, logger: nullLogger });
  try {
    await fn(await reapiOf(layers), local.store);
  } finally {
    await layers.close();
    await local.dispose();
  }
}


/** Distinct small blobs, deterministic per seed. */
function smallBlobs(n: number, size: number, seed: string): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(size, createHash('sha256').update(`${seed} ${i}`).digest());
    b.write(`${seed}:${i}:`);
    return b;
  });
}

describe('remote blob store', () => {
  // One server per fixture: every contract case starts from an empty CAS.
  blobStoreContract('remote client through trews remote-server', async () => {
    const server = await startServer();
    const local = await tempStore();
    const layers = createRemoteLayersFromConfig(configFor(server), { store: local.store, logger: nullLogger });
    return {
      store: (await reapiOf(layers)).cas,
      async dispose() {
        await layers.close();
        await local.dispose();
        await server.stop();
      },
    };
  });

  it('keeps every batch under a small batch limit and streams what does not fit', () =>
    withServer((server) =>
      withClient(
        server,
        async (layers, local) => {
          const blobs = smallBlobs(300, 1000, 'batch');
          const big = Buffer.alloc(200 * 1024, 7);
          const digests: Digest[] = [];
          for (const b of [...blobs, big]) {
            const d = digestOf(b);
            await local.put(d, b);
            digests.push(d);
          }
          const stats = await layers.cas.uploadFrom(local, digests);
          assert.equal(stats.blobs, 301);
          assert.deepEqual(await layers.cas.findMissing(digests), []);
          const counts = layers.requestCounts();
          // 300 × (1000 + overhead) bytes in batches of at most 64 KiB: at least 5 of them.
          assert.ok((counts['ContentAddressableStorage.BatchUpdateBlobs'] ?? 0) >= 5, JSON.stringify(counts));
          assert.equal(counts['ByteStream.Write'], 1, JSON.stringify(counts));
          assert.equal(await layers.cas.batchLimit(), 64 * 1024);
        },
        { TREWS_REMOTE_STORE_BATCH_API_SIZE_LIMIT: String(64 * 1024) },
      ),
    ));

  it('sends only FindMissingBlobs when everything is already there', () =>
    withServer(async (server) => {
      const blobs = smallBlobs(500, 300, 'again');
      const digests = blobs.map((b) => digestOf(b));
      await withClient(server, async (layers, local) => {
        for (const [i, b] of blobs.entries()) await local.put(digests[i]!, b);
        await layers.cas.uploadFrom(local, digests);
        assert.ok((layers.requestCounts()['ContentAddressableStorage.BatchUpdateBlobs'] ?? 0) >= 1);
      });
      await withClient(server, async (layers, local) => {
        for (const [i, b] of blobs.entries()) await local.put(digests[i]!, b);
        const stats = await layers.cas.uploadFrom(local, digests);
        assert.equal(stats.blobs, 0);
        const counts = { ...layers.requestCounts() };
        delete counts['Capabilities.GetCapabilities'];
        assert.deepEqual(counts, { 'ContentAddressableStorage.FindMissingBlobs': 1 });
      });
    }));

  it('downloads into a local store, batched and streamed, and GetTree returns a whole tree', () =>
    withServer(async (server) => {
      const a = await tempStore();
      const files = smallBlobs(20, 500, 'tree').map((b, i) => ({ path: `d${i % 3}/sub/f${i}.txt`, bytes: b }));
      const big = Buffer.alloc(5 * MiB + 1, 3);
      const root = await treeFromBytes(a.store, [...files.map((f) => ({ path: f.path, content: f.bytes })), { path: 'big.bin', content: big, isExecutable: true }]);
      await withClient(server, async (layers) => {
        await ensureUploaded(a.store, layers.cas, { roots: [root], blobs: [] }, undefined);
        const tree = await layers.cas.getTree(root);
        assert.ok(tree !== undefined);
        // root, d0, d1, d2 and their three sub directories
        assert.equal(tree.length, 7);
        assert.equal(await layers.cas.getTree(digestOf('not a directory')), undefined);
      });
      await withClient(server, async (layers, local) => {
        const digests = [...files.map((f) => digestOf(f.bytes)), digestOf(big)];
        const stats = await layers.cas.downloadTo(local, digests);
        assert.equal(stats.blobs, 21);
        assert.deepEqual(await local.findMissing(digests), []);
        assert.deepEqual(Buffer.from((await local.getBytes(digestOf(big))) ?? []), big);
      });
      await a.dispose();
    }));

  it('refuses a corrupt upload, whichever way it comes, and stores nothing', () =>
    withServer((server) =>
      withClient(server, async (layers) => {
        const claimed = digestOf('the real content');
        // A batch entry whose bytes do not match its digest, sent as is.
        const ep = layers.cas.endpoint;
        const r = await ep.unary(
          METHODS.batchUpdateBlobs,
          create(BatchUpdateBlobsRequestSchema, {
            instanceName: ep.instanceName,
            requests: [create(BatchUpdateBlobsRequest_RequestSchema, { digest: toProtoDigest(claimed), data: Buffer.from('forged content!!') })],
            digestFunction: DigestFunction_Value.SHA256,
          }),
        );
        assert.equal(r.responses[0]?.status?.code, Code.INVALID_ARGUMENT);
        // A ByteStream upload of the wrong bytes, without the client's own check.
        const big: Digest = { hash: createHash('sha256').update('x').digest('hex') as Sha256Hex, sizeBytes: 3 * MiB };
        await assert.rejects(
          byteStreamWrite(ep, big, { reopenable: true, verify: false, open: () => [Buffer.alloc(3 * MiB, 1)] }, MiB, { retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 }, timeoutMs: 30_000 }),
          (e: unknown) => (e as { code?: number }).code === Code.INVALID_ARGUMENT,
        );
        // And through the BlobStore interface: the client's check stops it first.
        await assert.rejects(layers.cas.put(claimed, Buffer.from('forged')), (e: unknown) => isFailureError(e) && e.failure.reason === 'digest-mismatch');
        assert.deepEqual(
          (await layers.cas.findMissing([claimed, big])).map((d) => d.hash),
          [claimed.hash, big.hash],
        );
      }),
    ));

  it('action cache: NOT_FOUND is a miss; an update is read back', () =>
    withServer((server) =>
      withClient(server, async (layers, local) => {
        const action = digestOf('an action');
        assert.equal(await layers.actionCache.getActionResult(action), undefined);
        const out = Buffer.from('output\n');
        await local.put(digestOf(out), out);
        await layers.cas.uploadFrom(local, [digestOf(out)]);
        const ar = create(ActionResultSchema, { exitCode: 0, stdoutDigest: toProtoDigest(digestOf(out)) });
        await layers.actionCache.updateActionResult(action, ar);
        const back = await layers.actionCache.getActionResult(action);
        assert.equal(back?.stdoutDigest?.hash, digestOf(out).hash);
      }),
    ));

  it('an upload cut by a server restart starts again and completes (retries with backoff)', () =>
    withServer(async (first) => {
      const { storeDir, port } = first;
      await withClient(
        first,
        async (layers, local) => {
          const chunk = Buffer.alloc(MiB, 9);
          const parts = Array.from({ length: 48 }, (_, i) => Buffer.concat([chunk.subarray(0, MiB - 8), Buffer.from(String(i).padStart(8, '0'))]));
          const d = digestOf(Buffer.concat(parts));
          await local.put(d, Readable.from(parts));
          let restarted: Promise<ServerProcess> | undefined;
          let read = 0;
          // The local side of the upload, slowed down; the server dies after 8 MiB have gone out.
          const slow: BlobStore = {
            findMissing: (ds, signal) => local.findMissing(ds, signal),
            getBytes: (x, signal) => local.getBytes(x, signal),
            put: (x, data, signal) => local.put(x, data, signal),
            async get(x, signal) {
              const s = await local.get(x, signal);
              if (s === undefined) return undefined;
              return Readable.from(
                (async function* () {
                  for await (const c of s) {
                    read += (c as Buffer).byteLength;
                    if (read >= 8 * MiB && restarted === undefined) restarted = first.kill().then(() => startServer({ port, storeDir }));
                    await new Promise((r) => setTimeout(r, 2));
                    yield c as Buffer;
                  }
                })(),
              );
            },
          };
          await layers.cas.uploadFrom(slow, [d]);
          const second = await restarted;
          assert.ok(second, 'the server was restarted during the upload');
          assert.ok(read > 48 * MiB, `the blob was read again after the restart (${read} bytes read)`);
          assert.deepEqual(await layers.cas.findMissing([d]), []);
          assert.match(second.log(), /rpc (ByteStream\.)?Write OK/);
          await second.stop();
          await rm(storeDir, { recursive: true, force: true });
        },
        { TREWS_REMOTE_STORE_RPC_RETRIES: '8' },
      );
    }));
});

describe('remote blob store: trees', () => {
  it('uploads a tree with FindMissingBlobs first, and only what is missing', () =>
    withServer((server) =>
      withClient(server, async (layers, local) => {
        const root = await treeFromBytes(local, [
          { path: 'x/a.txt', content: 'a' },
          { path: 'y/b.txt', content: 'b', isExecutable: true },
        ]);
        const first = await ensureUploaded(local, layers.cas, { roots: [root], blobs: [] }, undefined);
        assert.equal(first.blobs, 5); // root, x, y, a, b
        const again = await ensureUploaded(local, layers.cas, { roots: [root], blobs: [] }, undefined);
        assert.equal(again.blobs, 0);
        const bigger = await treeFromBytes(local, [
          { path: 'x/a.txt', content: 'a' },
          { path: 'y/b.txt', content: 'b', isExecutable: true },
          { path: 'y/c.txt', content: 'c' },
        ]);
        const third = await ensureUploaded(local, layers.cas, { roots: [bigger], blobs: [] }, undefined);
        assert.equal(third.blobs, 3); // new root, new y, c
      }),
    ));

  it('an upload for execution sends blobs given from memory, batched or streamed, and refuses bytes that are not their digest', () =>
    withServer((server) =>
      withClient(
        server,
        async (layers, local) => {
          const small = Buffer.from('an Action, encoded');
          const big = Buffer.alloc(200 * 1024, 3);
          const [ds, db] = [digestOf(small), digestOf(big)];
          const held = new Map([
            [`${ds.hash}/${ds.sizeBytes}`, small],
            [`${db.hash}/${db.sizeBytes}`, big],
          ]);
          // Neither is in the local store: both can only come from memory.
          assert.equal((await local.findMissing([ds, db])).length, 2);
          const stats = await layers.cas.uploadForExecution(local, [ds, db], undefined, undefined, held);
          assert.equal(stats.blobs, 2);
          assert.deepEqual(await layers.cas.findMissing([ds, db]), []);
          assert.equal((await local.findMissing([ds, db])).length, 2, 'nothing is written into the local store');
          const counts = layers.requestCounts();
          assert.equal(counts['ByteStream.Write'], 1, JSON.stringify(counts));
          // Bytes held under a digest they do not have never leave, batched or streamed.
          for (const size of [10, 100 * 1024]) {
            const claimed = digestOf(Buffer.alloc(size, 1));
            const forged = new Map([[`${claimed.hash}/${claimed.sizeBytes}`, Buffer.alloc(size, 2)]]);
            await assert.rejects(layers.cas.uploadForExecution(local, [claimed], undefined, undefined, forged), (e: unknown) => isFailureError(e) && e.failure.reason === 'digest-mismatch');
            assert.deepEqual(
              (await layers.cas.findMissing([claimed])).map((d) => d.hash),
              [claimed.hash],
            );
          }
        },
        { TREWS_REMOTE_STORE_BATCH_API_SIZE_LIMIT: String(64 * 1024) },
      ),
    ));
});
