// cache_content_behavior=fetch with remote execution: an action's result is
// handed on before its output files are downloaded (the next action needs
// only their digests); reads wait for them, and the run's end (flush) has
// them all or fails, naming the output. Against real `trews remote-server`
// processes on 127.0.0.1; the attacks go through a real TCP proxy that
// rewrites what the server sends.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, isFailureError, nullLogger, type Digest } from '../src/core/index.js';
import { makeCommandRunner, makeProcess, type ExecContext, type Process } from '../src/exec/index.js';
import { createRemoteLayers, type RemoteLayers } from '../src/remote/client/index.js';
import { treeFromBytes, type LocalStore } from '../src/store/index.js';
import { createOutputFetcher } from '../src/remote/client/output-fetcher.js';
import { reapiOf, remoteOptions, tempStore, withServer, type TempStore } from './helpers/remote-client.js';
import { makeShellRepo, summaryLine } from './helpers/shell.js';

/** Long enough that no download goes by the timer while a test looks: what is owed stays owed until read or flushed. */
const NEVER_MS = 10 * 60 * 1000;

const execEnv = (address: string, extra: Record<string, string> = {}): Record<string, string> => ({
  TREWS_REMOTE_EXECUTION: 'true',
  TREWS_REMOTE_STORE_SERVER: `grpc://${address}`,
  TREWS_REMOTE_EXECUTION_SERVER: `grpc://${address}`,
  ...extra,
});

let runs = 0;
function ctx(): ExecContext {
  return { signal: new AbortController().signal, runId: `bg-fetch-${process.pid}-${++runs}`, logger: nullLogger };
}

interface Client {
  readonly layers: RemoteLayers;
  readonly local: TempStore;
  run(script: string): Promise<Digest>;
  dispose(): Promise<void>;
}

/** Remote execution over a fresh local store; `run` returns the digest of the process's out.txt. */
async function client(address: string, extra: Record<string, string> = {}): Promise<Client> {
  const local = await tempStore();
  const options = remoteOptions(execEnv(address, extra));
  const layers = createRemoteLayers(options, { store: local.store, logger: nullLogger, outputFetchDelayMs: NEVER_MS });
  assert.ok(layers);
  const runner = makeCommandRunner({ options, store: layers.store, logger: nullLogger, sandboxRoot: join(local.dir, 'sandboxes'), remote: layers });
  return {
    layers,
    local,
    async run(script) {
      const proc: Process = makeProcess({
        argv: ['/bin/sh', '-c', script],
        env: { PATH: '/usr/bin:/bin' },
        inputRoot: await treeFromBytes(layers.store, [{ path: 'in.txt', content: 'input\n' }]),
        outputFiles: ['out.txt'],
        description: `sh -c ${script}`,
      });
      const r = await runner.run(ctx(), proc);
      assert.equal(r.exitCode, 0);
      assert.equal(r.source, 'remote');
      const f = r.actionResult.outputFiles.find((x) => x.path === 'out.txt');
      assert.ok(f?.digest);
      return { hash: f.digest.hash as Digest['hash'], sizeBytes: Number(f.digest.sizeBytes) };
    },
    async dispose() {
      await layers.close();
      await local.dispose();
    },
  };
}

async function missingLocally(store: LocalStore, d: Digest): Promise<boolean> {
  return (await store.findMissing([d])).length === 1;
}

/**
 * A TCP proxy in front of `target` that replaces `from` by `to` (same
 * length) in what the server sends: a man in the middle on a plaintext
 * channel. Bytes are held back only as long as a match could straddle two
 * reads, and sent on at the next turn of the event loop if nothing follows.
 */
async function tamperingProxy(target: string, from: Buffer, to: Buffer): Promise<{ address: string; close(): Promise<void> }> {
  assert.equal(from.length, to.length);
  const [host, port] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), host);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let carry = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const rewrite = (b: Buffer): Buffer => {
      for (let i = b.indexOf(from); i >= 0; i = b.indexOf(from, i + to.length)) to.copy(b, i);
      return b;
    };
    upstream.on('data', (chunk: Buffer) => {
      if (timer !== undefined) clearTimeout(timer);
      const all = rewrite(Buffer.concat([carry, chunk]));
      const keep = Math.min(all.length, from.length - 1);
      client.write(all.subarray(0, all.length - keep));
      carry = Buffer.from(all.subarray(all.length - keep));
      timer = setTimeout(() => {
        timer = undefined;
        client.write(carry);
        carry = Buffer.alloc(0);
      }, 0);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('remote execution with cache_content_behavior=fetch: outputs downloaded in the background', () => {
  it('the result comes before the output bytes; a read waits for them, and the run’s end has them all in one batch', () =>
    withServer(async (server) => {
      const c = await client(server.address);
      try {
        const one = await c.run('echo first output > out.txt');
        const two = await c.run('echo second output > out.txt');
        // Owed, not fetched: no BatchReadBlobs yet.
        assert.equal(await missingLocally(c.local.store, one), true);
        assert.equal(await missingLocally(c.local.store, two), true);
        assert.doesNotMatch(server.log(), /rpc BatchReadBlobs/);
        // Something local reads one: it is fetched then (with what else waits).
        const bytes = await c.layers.store.getBytes(one);
        assert.equal(Buffer.from(bytes!).toString(), 'first output\n');
        // The run's end: everything owed is in the local store.
        await c.layers.flush();
        assert.equal(await missingLocally(c.local.store, one), false);
        assert.equal(await missingLocally(c.local.store, two), false);
        assert.equal([...server.log().matchAll(/rpc BatchReadBlobs OK/g)].length, 1, 'both outputs came in the one read the first asked for');
      } finally {
        await c.dispose();
      }
    }));

  it('an output the server lost before its download fails the run’s end, naming the output; reading it fails the same way', () =>
    withServer(async (server) => {
      const c = await client(server.address);
      try {
        const out = await c.run('echo soon lost > out.txt');
        assert.deepEqual(out, digestOf('soon lost\n'));
        execFileSync('find', [server.storeDir, '-name', `${out.hash}*`, '-delete']);
        await assert.rejects(c.layers.flush(), (e: unknown) => {
          assert.ok(isFailureError(e), String(e));
          assert.equal(e.failure.reason, 'remote-missing-blob');
          assert.match(e.failure.message, /^cannot download output "out\.txt" of sh -c echo soon lost > out\.txt into the local store: .* does not have blob /);
          return true;
        });
        // A failure is reported by one run's end, not by every later run's.
        await c.layers.flush();
        // Not a silent miss afterwards: a read tries again, and fails with the cause.
        await assert.rejects(c.layers.store.getBytes(out), (e: unknown) => isFailureError(e) && e.failure.reason === 'remote-missing-blob');
      } finally {
        await c.dispose();
      }
    }));

  it('outputs scheduled only by a run that was cut short are not downloaded at its end; a later read still gets them', () =>
    withServer(async (server) => {
      const c = await client(server.address);
      try {
        const cas = (await reapiOf(c.layers)).cas;
        const d = digestOf('made before Ctrl-C\n');
        await cas.put(d, Buffer.from('made before Ctrl-C\n'));
        const fetcher = createOutputFetcher({ local: c.local.store, remote: async () => cas, logger: nullLogger, delayMs: NEVER_MS });
        const cut = new AbortController();
        cut.abort();
        fetcher.schedule([{ digest: d, what: 'output "out.txt" of a cancelled process' }], cut.signal);
        await fetcher.drain();
        assert.equal(await missingLocally(c.local.store, d), true);
        assert.doesNotMatch(server.log(), /rpc BatchReadBlobs/);
        assert.equal(fetcher.owes(d), true);
        await fetcher.need(d);
        assert.equal(await missingLocally(c.local.store, d), false);
        await fetcher.drain();
      } finally {
        await c.dispose();
      }
    }));

  it('attack: a man in the middle rewrites an output on its way down; the run fails with remote-corrupt-blob and stores nothing under that digest', () =>
    withServer(async (server) => {
      const proxy = await tamperingProxy(server.address, Buffer.from('GENUINE-OUTPUT'), Buffer.from('FORGED--OUTPUT'));
      const c = await client(proxy.address);
      try {
        // The script writes the text without spelling it, so only the output's bytes carry it.
        const out = await c.run("printf '%s-%s\\n' GENUINE OUTPUT > out.txt");
        assert.deepEqual(out, digestOf('GENUINE-OUTPUT\n'));
        await assert.rejects(c.layers.flush(), (e: unknown) => {
          assert.ok(isFailureError(e), String(e));
          assert.equal(e.failure.reason, 'remote-corrupt-blob');
          assert.match(e.failure.message, /^cannot download output "out\.txt" of .* sent corrupt data for blob /);
          return true;
        });
        assert.equal(await missingLocally(c.local.store, out), true, 'the forged bytes were not stored');
      } finally {
        await c.dispose();
        await proxy.close();
      }
    }));

  it('through the CLI: a run whose outputs were forged on the way down exits non-zero with the cause; without the forger the outputs are all local at the end', () =>
    withServer(async (server) => {
      const files: Record<string, string> = {};
      for (let i = 0; i < 3; i++) {
        const dep = i > 0 ? ` ../p${i - 1}/out/p${i - 1}.txt` : '';
        files[`packages/p${i}/src/a.txt`] = `the source of package ${i}\n`;
        files[`packages/p${i}/BUILD`] = [
          'files(name="src", sources=["src/*.txt"])',
          // tr makes the output's text (upper case) differ from anything uploaded.
          `shell_command(name="build", command="mkdir -p out && cat src/a.txt${dep} | tr a-z A-Z > out/p${i}.txt", tools=["cat", "mkdir", "tr"],`,
          `    execution_dependencies=[":src"${i > 0 ? `, "//packages/p${i - 1}:build"` : ''}], output_files=["out/p${i}.txt"])`,
          `test_shell_command(name="test", command="grep -q 'PACKAGE ${i}' out/p${i}.txt", tools=["grep"], execution_dependencies=[":build"])`,
          '',
        ].join('\n');
      }
      files['BUILD'] = 'archive(name="all", format="tar", files=["//packages/p0:build", "//packages/p1:build", "//packages/p2:build"])\n';
      const repo = await makeShellRepo(files);
      const proxy = await tamperingProxy(server.address, Buffer.from('THE SOURCE OF PACKAGE 1'), Buffer.from('THE SOURCE OF PACKAGE 9'));
      try {
        const forged = await repo.trews(['test', '::'], { env: { ...execEnv(proxy.address), TREWS_LOCAL_STORE_DIR: join(repo.tmp, 'store-forged') } });
        assert.notEqual(forged.code, 0, forged.stderr);
        assert.match(forged.stderr, /cannot download output "out\/p1\.txt" of .*packages\/p1:build.* sent corrupt data for blob /);

        // The same build without the forger, then the server gone: the archive is made from local blobs alone.
        const store = join(repo.tmp, 'store-honest');
        // Each run starts cold: no graph kept from the one before.
        await rm(join(repo.root, '.trews.d'), { recursive: true, force: true });
        const honest = await repo.trews(['test', '::'], { env: { ...execEnv(server.address), TREWS_LOCAL_STORE_DIR: store } });
        assert.equal(honest.code, 0, honest.stderr);
        // The server's action cache answers Execute (the forged run executed them): outputs come the same way.
        assert.equal(summaryLine(honest.stderr), '6 from the remote cache');
        await proxy.close();
        await server.stop();
        const offline = await repo.trews(['package', '//:all'], { env: { TREWS_LOCAL_STORE_DIR: store } });
        assert.equal(offline.code, 0, offline.stderr);
        const tar = await readFile(join(repo.root, 'dist', 'all.tar'));
        assert.ok(tar.includes(Buffer.from('THE SOURCE OF PACKAGE 2\n')), 'the last output, from the local store');
      } finally {
        await proxy.close().catch(() => undefined);
        await repo.cleanup();
      }
    }));
});
