// The HTTP cache provider (bazel-remote's protocol: /ac/<hash>, /cas/<hash>)
// against a small HTTP cache server started by the test: its CAS through the
// BlobStore contract, its action cache, and the remote cache layer of the
// real runner stack over it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { digestOf, isFailureError, type Digest } from '../src/core/index.js';
import { makeProcess, type ExecContext, type Process } from '../src/exec/index.js';
import { ActionResultSchema, toProtoDigest } from '../src/reapi/index.js';
import type { RemoteProvider } from '../src/remote/client/index.js';
import { blobStoreContract } from '../src/store/blob-store-contract.js';
import { treeFromBytes, type LocalStore } from '../src/store/index.js';
import { startHttpCacheServer, type HttpCacheServer } from './helpers/http-cache-server.js';
import { execContext, memoryLogger, remoteClient, tempStore, type Client as RemoteClient } from './helpers/remote-client.js';

const cacheEnv = (url: string, extra: Record<string, string> = {}): Record<string, string> => ({
  TREWS_REMOTE_CACHE_READ: 'true',
  TREWS_REMOTE_CACHE_WRITE: 'true',
  TREWS_REMOTE_STORE_SERVER: url,
  ...extra,
});

interface Client extends RemoteClient {
  readonly provider: RemoteProvider;
  /** A request's context whose warnings land in `warnings`. */
  ctx(): ExecContext;
}

async function client(env: Record<string, string>): Promise<Client> {
  const base = await remoteClient(env, { logger: memoryLogger() });
  const provider = await base.layers.provider();
  assert.equal(provider.protocol, 'http');
  return { ...base, provider, ctx: () => ({ ...execContext(), warn: (m: string) => base.warnings.push(m) }) };
}

async function withServer(fn: (server: HttpCacheServer) => Promise<void>, o: Parameters<typeof startHttpCacheServer>[0] = {}): Promise<void> {
  const server = await startHttpCacheServer(o);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

async function shell(store: LocalStore, script: string, outputs: readonly string[] = ['out.txt']): Promise<Process> {
  const inputRoot = await treeFromBytes(store, [{ path: 'in.txt', content: 'input\n' }]);
  return makeProcess({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin' }, inputRoot, outputFiles: outputs, description: `sh -c ${script}` });
}

async function text(store: LocalStore, d: Digest): Promise<string> {
  const b = await store.getBytes(d);
  assert.ok(b, 'blob present locally');
  return Buffer.from(b).toString('utf8');
}

/** The digest of output file `path` of a result. */
function outputDigest(r: { actionResult: { outputFiles: readonly { path: string; digest?: { hash: string; sizeBytes: bigint } }[] } }, path: string): Digest {
  const f = r.actionResult.outputFiles.find((o) => o.path === path);
  assert.ok(f?.digest);
  return { hash: f.digest.hash, sizeBytes: Number(f.digest.sizeBytes) } as Digest;
}

const casRequests = (s: HttpCacheServer, method: string): string[] => s.requests.filter((r) => r.startsWith(`${method} `) && r.includes('/cas/'));

describe('HTTP cache: the CAS', () => {
  blobStoreContract('HTTP cache CAS (a test server speaking bazel-remote\'s protocol)', async () => {
    const server = await startHttpCacheServer();
    const c = await client(cacheEnv(server.url));
    return {
      store: c.provider.cas,
      async dispose() {
        await c.dispose();
        await server.stop();
      },
    };
  });

  it('asks with one HEAD per blob, PUTs only what is missing, and a second upload only asks', () =>
    withServer(async (server) => {
      const c = await client(cacheEnv(server.url));
      try {
        const blobs = Array.from({ length: 40 }, (_, i) => Buffer.from(`blob ${i}\n`.repeat(i + 1)));
        const digests = blobs.map((b) => digestOf(b));
        for (const [i, b] of blobs.entries()) await c.local.store.put(digests[i]!, b);
        await c.provider.cas.uploadFrom(c.local.store, digests.slice(0, 10));
        const stats = await c.provider.cas.uploadFrom(c.local.store, digests);
        assert.equal(stats.blobs, 30);
        assert.equal(casRequests(server, 'PUT').length, 40);
        assert.equal(casRequests(server, 'HEAD').length, 50);
        const again = await c.provider.cas.uploadFrom(c.local.store, digests);
        assert.equal(again.blobs, 0);
        assert.equal(casRequests(server, 'PUT').length, 40, 'nothing sent again');
        assert.deepEqual(c.layers.rpcCounts(), { 'HEAD /cas': 90, 'PUT /cas': 40 });
      } finally {
        await c.dispose();
      }
    }));

  it('every request goes under the address\'s path and remote_instance_name', () =>
    withServer(
      async (server) => {
        // The address names the proxy's path; the instance name goes below it.
        const c = await client(cacheEnv(`${server.origin}/team`, { TREWS_REMOTE_INSTANCE_NAME: 'ci/main' }));
        try {
          const d = digestOf('prefixed');
          await c.provider.cas.put(d, Buffer.from('prefixed'));
          assert.equal(await c.provider.actionCache.getActionResult(digestOf('no such action')), undefined);
          assert.deepEqual(server.requests, [
            `HEAD /team/ci/main/cas/${d.hash} 404`,
            `PUT /team/ci/main/cas/${d.hash} 200`,
            `GET /team/ci/main/ac/${digestOf('no such action').hash} 404`,
          ]);
        } finally {
          await c.dispose();
        }
      },
      { prefix: '/team/ci/main' },
    ));

  it('a blob whose bytes do not match its digest is refused (remote-corrupt-blob) and never reaches the local store', () =>
    withServer(async (server) => {
      const c = await client(cacheEnv(server.url));
      try {
        const good = Buffer.from('the real content of a blob\n');
        const d = digestOf(good);
        await c.provider.cas.put(d, good);
        const fresh = await tempStore();
        try {
          // Same length, other bytes: only the hash can tell.
          await server.corrupt(d.hash, Buffer.from('the fake content of a blob\n'));
          await assert.rejects(c.provider.cas.downloadTo(fresh.store, [d]), (e: unknown) => isFailureError(e) && e.failure.reason === 'remote-corrupt-blob');
          assert.deepEqual(await fresh.store.findMissing([d]), [d]);
          // Another length: refused from the answer's Content-Length, before any byte is kept.
          await server.corrupt(d.hash, Buffer.from('short'));
          await assert.rejects(c.provider.cas.downloadTo(fresh.store, [d]), (e: unknown) => isFailureError(e) && e.failure.reason === 'remote-corrupt-blob');
          assert.deepEqual(await fresh.store.findMissing([d]), [d]);
          // And a size the HEAD already disagrees with counts as missing.
          assert.deepEqual(await c.provider.cas.findMissing([d]), [d]);
        } finally {
          await fresh.dispose();
        }
      } finally {
        await c.dispose();
      }
    }));

  it('with a bearer token from remote_oauth_bearer_token_path; without one, a 401 that says what to set', () =>
    withServer(
      async (server) => {
        const dir = await mkdtemp(join(tmpdir(), 'trews-http-token-'));
        try {
          await writeFile(join(dir, 'token'), 's3cret\n');
          const ok = await client(cacheEnv(server.url, { TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: join(dir, 'token') }));
          try {
            await ok.provider.cas.put(digestOf('x'), Buffer.from('x'));
            assert.deepEqual(await ok.provider.cas.findMissing([digestOf('x')]), []);
          } finally {
            await ok.dispose();
          }
          const none = await client(cacheEnv(server.url));
          try {
            await assert.rejects(none.provider.cas.findMissing([digestOf('x')]), (e: unknown) => {
              assert.ok(isFailureError(e));
              assert.equal(e.failure.reason, 'remote-unauthorized');
              assert.equal(
                e.failure.message,
                `remote_store_server ${server.url}: HEAD /cas/${digestOf('x').hash} answered 401 Unauthorized; the server wants credentials: put a bearer token in a file and set remote_oauth_bearer_token_path to it`,
              );
              return true;
            });
          } finally {
            await none.dispose();
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
      { token: 's3cret' },
    ));

  it('https with the CA from remote_ca_certs_path; refused without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-http-tls-'));
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ], { stdio: 'ignore' });
      await withServer(
        async (server) => {
          assert.match(server.url, /^https:/);
          const trusted = await client(cacheEnv(server.url, { TREWS_REMOTE_CA_CERTS_PATH: join(dir, 'cert.pem') }));
          try {
            await trusted.provider.cas.put(digestOf('over tls'), Buffer.from('over tls'));
            assert.deepEqual(await trusted.provider.cas.findMissing([digestOf('over tls')]), []);
          } finally {
            await trusted.dispose();
          }
          const untrusted = await client(cacheEnv(server.url, { TREWS_REMOTE_STORE_RPC_RETRIES: '0' }));
          try {
            await assert.rejects(untrusted.provider.cas.findMissing([digestOf('over tls')]), (e: unknown) => {
              assert.ok(isFailureError(e));
              assert.match(e.failure.message, /the TLS handshake failed/);
              assert.match((e.failure.hints ?? []).join('\n'), /remote_ca_certs_path/);
              return true;
            });
          } finally {
            await untrusted.dispose();
          }
        },
        { tls: { cert: await readFile(join(dir, 'cert.pem')), key: await readFile(join(dir, 'key.pem')) } },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('HTTP cache: the action cache', () => {
  it('404 is a miss; an update is read back; an entry that is not an ActionResult is refused', () =>
    withServer(async (server) => {
      const c = await client(cacheEnv(server.url));
      try {
        const action = digestOf('an action');
        assert.equal(await c.provider.actionCache.getActionResult(action), undefined);
        const ar = create(ActionResultSchema, { exitCode: 0, stdoutDigest: toProtoDigest(digestOf('out\n')) });
        await c.provider.actionCache.updateActionResult(action, ar);
        assert.equal((await c.provider.actionCache.getActionResult(action))?.stdoutDigest?.hash, digestOf('out\n').hash);
        // Garbage under an action's key (a field number 0 is never valid protobuf).
        const other = digestOf('another action');
        const body = Buffer.from([0x00, 0x01, 0x02]);
        const put = await fetch(`${server.url}/ac/${other.hash}`, { method: 'PUT', body });
        assert.equal(put.status, 200);
        await assert.rejects(c.provider.actionCache.getActionResult(other), (e: unknown) => isFailureError(e) && e.failure.reason === 'remote-corrupt-action-result');
      } finally {
        await c.dispose();
      }
    }));
});

describe('HTTP cache: the remote cache layer', () => {
  it('a result written by one client is a hit for another with a fresh local store', () =>
    withServer(async (server) => {
      const a = await client(cacheEnv(server.url));
      const first = await a.runner.run(a.ctx(), await shell(a.local.store, 'tr a-z A-Z < in.txt > out.txt; echo ran'));
      assert.equal(first.source, 'ran locally');
      await a.layers.flush();
      await a.dispose();
      assert.equal(server.requests.filter((r) => r.startsWith('PUT /ac/')).length, 1, server.requests.join('\n'));

      const b = await client(cacheEnv(server.url, { TREWS_REMOTE_CACHE_WRITE: 'false' }));
      try {
        const r = await b.runner.run(b.ctx(), await shell(b.local.store, 'tr a-z A-Z < in.txt > out.txt; echo ran'));
        assert.equal(r.source, 'remote cache');
        assert.equal(await text(b.local.store, r.stdout), 'ran\n');
        assert.equal(await text(b.local.store, outputDigest(r, 'out.txt')), 'INPUT\n');
        assert.deepEqual(b.warnings, []);
      } finally {
        await b.dispose();
      }
    }));

  it('a corrupt output on the server: the hit is refused with a warning, the process runs locally, and its real output is kept', () =>
    withServer(async (server) => {
      const script = 'echo genuine > out.txt';
      const a = await client(cacheEnv(server.url));
      const first = await a.runner.run(a.ctx(), await shell(a.local.store, script));
      await a.layers.flush();
      const out = outputDigest(first, 'out.txt');
      await a.dispose();
      await server.corrupt(out.hash, Buffer.from('forged!\n'));

      const b = await client(cacheEnv(server.url, { TREWS_REMOTE_CACHE_WRITE: 'false' }));
      try {
        const r = await b.runner.run(b.ctx(), await shell(b.local.store, script));
        assert.equal(r.source, 'ran locally');
        assert.equal(await text(b.local.store, outputDigest(r, 'out.txt')), 'genuine\n');
        assert.equal(b.warnings.length, 1, b.warnings.join('\n'));
        assert.match(b.warnings[0]!, new RegExp(`^remote cache: lookup of sh -c ${script} \\([0-9a-f]{64}/\\d+\\) failed, running it locally: remote_store_server ${server.url} sent corrupt data for blob ${out.hash}/${out.sizeBytes}: 8 bytes hashing to [0-9a-f]{64}$`));
      } finally {
        await b.dispose();
      }
    }));

  it('defer: a hit whose outputs the cache lost is a miss (an HTTP cache does not vouch for them)', () =>
    withServer(async (server) => {
      const script = 'echo kept remotely > out.txt';
      const a = await client(cacheEnv(server.url));
      const first = await a.runner.run(a.ctx(), await shell(a.local.store, script));
      await a.layers.flush();
      await a.dispose();
      await server.evict('cas', outputDigest(first, 'out.txt').hash);

      const b = await client(cacheEnv(server.url, { TREWS_REMOTE_CACHE_WRITE: 'false', TREWS_CACHE_CONTENT_BEHAVIOR: 'defer' }));
      try {
        const r = await b.runner.run(b.ctx(), await shell(b.local.store, script));
        assert.equal(r.source, 'ran locally');
        assert.match(b.warnings.join('\n'), /does not have blob/);
      } finally {
        await b.dispose();
      }
    }));

  it('the cache down: a warning, every process runs locally, and the server is asked once per run', async () => {
    const gone = await startHttpCacheServer();
    await gone.stop();
    const c = await client(cacheEnv(gone.url, { TREWS_REMOTE_STORE_RPC_RETRIES: '0' }));
    try {
      const results = await Promise.all(['a', 'b', 'c'].map(async (x) => c.runner.run(c.ctx(), await shell(c.local.store, `echo ${x} > out.txt`))));
      assert.deepEqual(results.map((r) => r.source), ['ran locally', 'ran locally', 'ran locally']);
      await c.layers.flush();
      assert.match(c.warnings[0] ?? '', new RegExp(`^remote cache: lookup of .* failed, running it locally: remote_store_server ${gone.url}: HEAD /cas/[0-9a-f]{64} failed: connect ECONNREFUSED`));
      // One probe for the whole run (then remembered), not one per process.
      assert.equal(c.layers.rpcCounts()['HEAD /cas'], 1);
    } finally {
      await c.dispose();
    }
  });
});
