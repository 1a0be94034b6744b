// The remote cache and remote execution layers in the real runner stack
// (makeCommandRunner), against real `trews remote-server` processes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, isAbortError, isFailureError, nullLogger, type AbsPath, type Digest, type Logger } from '../src/core/index.js';
import { createEngine } from '../src/engine/index.js';
import type { Workspace } from '../src/fs/index.js';
import { makeCommandRunner, makeProcess, toAction, type CommandRunner, type ExecContext, type Process, type ProcessResult } from '../src/exec/index.js';
import { createRemoteLayers, UploadedTrees, type RemoteLayers } from '../src/remote/client/index.js';
import { createRemoteExecutionRunner } from '../src/remote/client/remote-execution-runner.js';
import { SnapshotKey, flushAllStaged, treeFromBytes, type LocalStore } from '../src/store/index.js';
import { memoryLogger, reapiOf, remoteOptions, startServer, tempStore, withServer, type ServerProcess, type TempStore } from './helpers/remote-client.js';
import { pidAlive, waitUntil } from './helpers/index.js';

interface Client {
  readonly layers: RemoteLayers;
  readonly runner: CommandRunner;
  readonly local: TempStore;
  readonly sandboxRoot: string;
  readonly warnings: string[];
  dispose(): Promise<void>;
}

async function client(env: Record<string, string>, o: { logger?: Logger; local?: TempStore } = {}): Promise<Client> {
  const local = o.local ?? (await tempStore());
  const sandboxRoot = join(local.dir, 'sandboxes');
  const options = remoteOptions(env);
  const warnings: string[] = [];
  const layers = createRemoteLayers(options, { store: local.store, logger: o.logger ?? nullLogger, warnings: (m) => warnings.push(m) });
  assert.ok(layers, 'remote layers for these options');
  const runner = makeCommandRunner({ options, store: layers.store, logger: nullLogger, sandboxRoot, remote: layers });
  return {
    layers,
    runner,
    local,
    sandboxRoot,
    warnings,
    async dispose() {
      await layers.close();
      if (o.local === undefined) await local.dispose();
    },
  };
}

const execEnv = (s: ServerProcess, extra: Record<string, string> = {}): Record<string, string> => ({
  TREWS_REMOTE_EXECUTION: 'true',
  TREWS_REMOTE_STORE_SERVER: `grpc://${s.address}`,
  TREWS_REMOTE_EXECUTION_SERVER: `grpc://${s.address}`,
  ...extra,
});

const cacheEnv = (address: string, extra: Record<string, string> = {}): Record<string, string> => ({
  TREWS_REMOTE_CACHE_READ: 'true',
  TREWS_REMOTE_CACHE_WRITE: 'true',
  TREWS_REMOTE_STORE_SERVER: `grpc://${address}`,
  ...extra,
});

let runs = 0;
function ctx(signal: AbortSignal = new AbortController().signal): ExecContext {
  return { signal, runId: `test-run-${process.pid}-${++runs}`, logger: nullLogger };
}

/** A shell process over an input file, writing an output file. */
async function shell(store: LocalStore, script: string, o: { timeoutMs?: number; input?: string; description?: string } = {}): Promise<Process> {
  const inputRoot = await treeFromBytes(store, [{ path: 'in.txt', content: o.input ?? 'input\n' }]);
  return makeProcess({
    argv: ['/bin/sh', '-c', script],
    env: { PATH: '/usr/bin:/bin' },
    inputRoot,
    outputFiles: ['out.txt'],
    timeoutMs: o.timeoutMs ?? null,
    description: o.description ?? `sh -c ${script}`,
  });
}

async function text(store: LocalStore, d: Digest): Promise<string> {
  const b = await store.getBytes(d);
  assert.ok(b !== undefined, 'blob is in the local store');
  return Buffer.from(b).toString('utf8');
}

async function outputOf(store: LocalStore, r: ProcessResult): Promise<string> {
  const f = r.actionResult.outputFiles.find((x) => x.path === 'out.txt');
  assert.ok(f?.digest, 'out.txt is an output');
  return text(store, { hash: f.digest.hash as Digest['hash'], sizeBytes: Number(f.digest.sizeBytes) });
}


async function sandboxesMade(root: string): Promise<number> {
  return existsSync(root) ? (await readdir(root)).length : 0;
}

/**
 * A file a process appends its shell's pid to as it starts, wherever it runs:
 * the event "the action is running on the server" (the remote sandbox is a
 * directory, so an absolute path outside it is reachable); and a gate such a
 * process can wait at (`gated`), so that it is still running when the test
 * acts on it, however slowly the test gets there.
 */
async function startMarker(): Promise<{ path: string; pids: () => number[]; gated: (then: string) => string; open: () => Promise<void>; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'trews-rc-marker-'));
  const path = join(dir, 'started');
  const gate = join(dir, 'gate');
  const pids = (): number[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map(Number) : []);
  return {
    path,
    pids,
    // Bounded, so that a process left behind by a killed server ends on its own.
    gated: (then) => `echo $$ >> ${path}; i=0; while [ ! -e ${gate} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; ${then}`,
    open: () => writeFile(gate, ''),
    async dispose() {
      // A killed server leaves its process behind: stop it by its pid.
      for (const pid of pids()) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP relay on 127.0.0.1 in front of a server, for a restart without a gap:
 * the next server is started first, new connections are sent to it, and then
 * the old one is killed (its connections are cut). Clients see one address
 * whose server crashed mid-run and was back at once, however slowly a server
 * starts on a loaded machine (a gap longer than the client's retries would
 * fail the run, rightly, and make the test about the machine's speed).
 */
async function relay(port: number): Promise<{ address: string; switchTo: (port: number) => void; close: () => Promise<void> }> {
  let target = port;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    switchTo: (p) => (target = p),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A remote execution runner on `a`'s server, built directly so a test can
 * set what the layers would choose (the trees believed uploaded, retries);
 * the server's capabilities are taken as given, not asked for.
 */
async function directExecutionRunner(
  a: Client,
  o: Pick<Parameters<typeof createRemoteExecutionRunner>[0], 'parallelism' | 'overallDeadlineMs' | 'uploaded' | 'retry'>,
): Promise<CommandRunner> {
  const { cas } = await reapiOf(a.layers);
  const caps = { maxBatchTotalSizeBytes: 0, actionCacheUpdateEnabled: true, execEnabled: true, absoluteSymlinksAllowed: true, apiVersions: '2.0-2.3' };
  return createRemoteExecutionRunner({
    local: a.local.store,
    cas,
    execution: cas.endpoint,
    capabilities: async () => ({ store: caps, execution: caps }),
    contentBehavior: 'fetch',
    extraPlatformProperties: [],
    ...o,
  });
}

describe('remote execution', () => {
  it('runs on the server, not in a local sandbox; a fresh store is then served from the remote cache', () =>
    withServer(async (server) => {
      const a = await client(execEnv(server));
      const proc = await shell(a.local.store, 'tr a-z A-Z < in.txt > out.txt; echo ran remotely; echo warn >&2');
      const c = ctx();
      const r = await a.runner.run(c, proc);
      assert.equal(r.source, 'remote');
      assert.equal(r.exitCode, 0);
      assert.equal(await text(a.local.store, r.stdout), 'ran remotely\n');
      assert.equal(await text(a.local.store, r.stderr), 'warn\n');
      assert.equal(await outputOf(a.layers.store, r), 'INPUT\n');
      // Proof: the server ran this very action, and no local sandbox was made.
      assert.match(server.log(), new RegExp(`action ${r.actionDigest.hash}/\\d+: exit 0`));
      assert.equal(await sandboxesMade(a.sandboxRoot), 0);
      // Request metadata: the run's id reached the server.
      assert.match(server.log(), new RegExp(`tool=trews/[^ ]+ invocation=${c.runId}`));
      const counts = a.layers.rpcCounts();
      assert.equal(counts['Execution.Execute'], 1);
      await a.dispose();

      const b = await client(execEnv(server));
      const again = await shell(b.local.store, 'tr a-z A-Z < in.txt > out.txt; echo ran remotely; echo warn >&2');
      const r2 = await b.runner.run(ctx(), again);
      assert.equal(r2.source, 'remote cache');
      assert.equal(await outputOf(b.layers.store, r2), 'INPUT\n');
      assert.equal(await text(b.local.store, r2.stdout), 'ran remotely\n');
      assert.equal(await sandboxesMade(b.sandboxRoot), 0);
      await b.dispose();
    }));

  it('a non-zero exit is a result; a timeout is a timed-out result', () =>
    withServer(async (server) => {
      const a = await client(execEnv(server));
      const failing = await a.runner.run(ctx(), await shell(a.local.store, 'echo oops >&2; exit 3'));
      assert.equal(failing.exitCode, 3);
      assert.equal(failing.source, 'remote');
      assert.equal(await text(a.local.store, failing.stderr), 'oops\n');
      const slow = await a.runner.run(ctx(), await shell(a.local.store, 'echo started; sleep 10', { timeoutMs: 500 }));
      assert.equal(slow.timedOut, true);
      assert.notEqual(slow.exitCode, 0);
      await a.dispose();
    }));

  it('uploads what the server reports missing (FAILED_PRECONDITION) and runs', () =>
    withServer(async (server) => {
      const a = await client(execEnv(server));
      const proc = await shell(a.local.store, 'cat in.txt > out.txt', { input: 'never uploaded before\n' });
      // Believe, wrongly, that the input tree is already on the server.
      const uploaded = new UploadedTrees();
      uploaded.add(proc.inputRoot);
      const runner = await directExecutionRunner(a, { parallelism: 4, overallDeadlineMs: 60_000, uploaded });
      const r = await runner.run(ctx(), proc);
      assert.equal(r.exitCode, 0);
      assert.equal(await outputOf(a.local.store, r), 'never uploaded before\n');
      assert.match(server.log(), /rpc (Execution\.)?Execute FAILED_PRECONDITION/);
      await a.dispose();
    }));

  it('an Action and Command the server reports missing are sent again from memory: the local store never holds them', () =>
    withServer(async (server) => {
      const a = await client(execEnv(server));
      const proc = await shell(a.local.store, 'cat in.txt > out.txt', { input: 'held in memory\n' });
      const { cas } = await reapiOf(a.layers);
      const { actionDigest, commandDigest } = toAction(proc);
      // Believe, wrongly, that the server holds them: the upload skips them, and Execute is refused.
      cas.presence.add([actionDigest, commandDigest], cas.presence.generation);
      const runner = await directExecutionRunner(a, { parallelism: 1, overallDeadlineMs: 60_000 });
      const r = await runner.run(ctx(), proc);
      assert.equal(r.exitCode, 0);
      assert.equal(await outputOf(a.local.store, r), 'held in memory\n');
      assert.match(server.log(), /rpc (Execution\.)?Execute FAILED_PRECONDITION/);
      assert.equal((await a.local.store.findMissing([actionDigest, commandDigest])).length, 2, 'never written locally');
      await a.dispose();
    }));

  it('a wrong token is a clear error', async () =>
    withServer(
      async (server) => {
        const dir = await mkdtemp(join(tmpdir(), 'trews-rc-token-'));
        await writeFile(join(dir, 'token'), 'not-the-token\n');
        const a = await client(execEnv(server, { TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: join(dir, 'token') }));
        await assert.rejects(a.runner.run(ctx(), await shell(a.local.store, 'true > out.txt')), (e: unknown) => {
          assert.ok(isFailureError(e), String(e));
          assert.match(e.failure.message, new RegExp(`cannot use remote_(store|execution)_server grpc://${server.address}: GetCapabilities failed with UNAUTHENTICATED: the bearer token .* is not accepted`));
          assert.match((e.failure.hints ?? []).join('\n'), /remote_oauth_bearer_token_path/);
          return true;
        });
        await a.dispose();
        await writeFile(join(dir, 'token'), 'the-right-token\n');
        const b = await client(execEnv(server, { TREWS_REMOTE_OAUTH_BEARER_TOKEN_PATH: join(dir, 'token') }));
        const r = await b.runner.run(ctx(), await shell(b.local.store, 'echo ok > out.txt'));
        assert.equal(r.source, 'remote');
        await b.dispose();
        await rm(dir, { recursive: true, force: true });
      },
      ['--token-file', await tokenFile('the-right-token')],
    ));

  it('the server killed mid-run is a clear error, not a hang', () =>
    withServer(async (server) => {
      const marker = await startMarker();
      const a = await client(execEnv(server));
      const proc = await shell(a.local.store, `echo $$ >> ${marker.path}; exec sleep 30`);
      const p = a.runner.run(ctx(), proc);
      // Mid-run is an event: the process has started on the server.
      await waitUntil(() => marker.pids().length > 0, 'the process to start on the server');
      await server.kill();
      // Not hanging is the retries running out, however long they take here; a hang fails on the test's timeout.
      await assert.rejects(p, (e: unknown) => {
        assert.ok(isFailureError(e), String(e));
        assert.match(e.failure.message, new RegExp(`remote execution of sh -c echo .* failed: Execution\\.(Execute|WaitExecution) on remote_execution_server grpc://${server.address} returned UNAVAILABLE`));
        return true;
      });
      await a.dispose();
      await marker.dispose();
    }));

  /**
   * Starts a process on a server behind a relay, and while it runs starts a
   * second server on the same store, switches the relay to it and kills the
   * first (started before the old one dies: see relay()); returns the result
   * and the second server's log.
   */
  async function restartedMidRun(script: string, runnerOf: (a: Client) => Promise<CommandRunner>): Promise<{ out: string; log: string; starts: number }> {
    const first = await startServer();
    const front = await relay(first.port);
    const marker = await startMarker();
    let second: ServerProcess | undefined;
    const a = await client(execEnv({ ...first, address: front.address }));
    try {
      const proc = await shell(a.local.store, marker.gated(script));
      const p = (await runnerOf(a)).run(ctx(), proc);
      await waitUntil(() => marker.pids().length === 1, 'the process to start on the first server');
      second = await startServer({ storeDir: first.storeDir });
      front.switchTo(second.port);
      await first.kill();
      await marker.open();
      const r = await p;
      assert.equal(r.exitCode, 0);
      return { out: await outputOf(a.layers.store, r), log: second.log(), starts: marker.pids().length };
    } finally {
      await a.dispose();
      await front.close();
      await second?.stop();
      await first.stop();
      await marker.dispose();
    }
  }

  it('the server restarted mid-run: retries reach the new one and the process succeeds', async () => {
    const r = await restartedMidRun('echo done > out.txt', async (a) => a.runner);
    assert.equal(r.out, 'done\n');
    // The new server forgot the operation (WaitExecution: NOT_FOUND), so it ran the action again.
    assert.match(r.log, /: exit 0 in/);
    assert.equal(r.starts, 2);
  });

  it('a server that forgot the operation gets Execute again at once, without spending a retry', async () => {
    // One retry: it goes on the stream the crash broke. Answering WaitExecution
    // with NOT_FOUND is the new server telling us to Execute again, not a failure.
    const r = await restartedMidRun('echo again > out.txt', (a) =>
      directExecutionRunner(a, { parallelism: 1, overallDeadlineMs: 120_000, uploaded: new UploadedTrees(), retry: { maxRetries: 1, baseDelayMs: 50, maxDelayMs: 50 } }),
    );
    assert.equal(r.out, 'again\n');
    assert.match(r.log, /rpc (Execution\.)?WaitExecution NOT_FOUND/);
  });

  it('the presence memo does not outlive the server: one that lost its CAS mid-run costs one MISSING round, and every result is right', async () => {
    // The client learns that the server holds a.txt, b.txt and the first
    // action's output; then the server is replaced by one with an empty CAS.
    // The next action (a.txt) is refused with MISSING and re-uploads; the one
    // after it (b.txt and that output, which nobody has named missing yet)
    // must not trust the memo any more: no second FAILED_PRECONDITION.
    const first = await startServer();
    const front = await relay(first.port);
    let second: ServerProcess | undefined;
    const a = await client(execEnv({ ...first, address: front.address }));
    const run = async (files: Record<string, string>, script: string): Promise<string> => {
      const inputRoot = await treeFromBytes(a.local.store, Object.entries(files).map(([path, content]) => ({ path, content })));
      const proc = makeProcess({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin' }, inputRoot, outputFiles: ['out.txt'], description: script });
      const r = await a.runner.run(ctx(), proc);
      assert.equal(r.exitCode, 0, script);
      assert.equal(r.source, 'remote', script);
      return outputOf(a.layers.store, r);
    };
    try {
      assert.equal(await run({ 'a.txt': 'alpha\n', 'b.txt': 'beta\n' }, 'cat a.txt b.txt > out.txt'), 'alpha\nbeta\n');
      second = await startServer();
      front.switchTo(second.port);
      await first.kill();
      assert.equal(await run({ 'a.txt': 'alpha\n' }, 'tr a-z A-Z < a.txt > out.txt'), 'ALPHA\n');
      assert.equal(await run({ 'b.txt': 'beta\n', 'prev.txt': 'alpha\nbeta\n' }, 'cat prev.txt b.txt | wc -l > out.txt'), '3\n');
      const refused = [...second.log().matchAll(/rpc (Execution\.)?Execute FAILED_PRECONDITION/g)].length;
      assert.equal(refused, 1, second.log());
      assert.equal([...second.log().matchAll(/: exit 0 in/g)].length, 2, 'both actions ran on the new server');
    } finally {
      await a.dispose();
      await front.close();
      await second?.stop();
      await first.stop();
    }
  });

  it('Ctrl-C cancels the remote operation (CancelOperation) and leaves nothing waiting', () =>
    withServer(async (server) => {
      const marker = await startMarker();
      const a = await client(execEnv(server));
      const proc = await shell(a.local.store, `echo $$ >> ${marker.path}; exec sleep 30`);
      const ac = new AbortController();
      const p = a.runner.run(ctx(ac.signal), proc);
      await waitUntil(() => marker.pids().length > 0, 'the process to start on the server');
      ac.abort();
      await assert.rejects(p, isAbortError);
      await waitUntil(() => /rpc (Operations\.)?CancelOperation OK/.test(server.log()), `CancelOperation in the server's log:\n${server.log()}`);
      // Nothing waiting: the server stopped the process it had started.
      await waitUntil(() => !pidAlive(marker.pids()[0]!), 'the cancelled process to be stopped');
      await a.dispose();
      await marker.dispose();
    }));

  it('never more Execute calls in flight than process_execution_remote_parallelism', () =>
    withServer(async (server) => {
      // Each process registers while it runs and notes how many are running as it starts.
      const dir = await mkdtemp(join(tmpdir(), 'trews-rc-parallel-'));
      const a = await client(execEnv(server, { TREWS_PROCESS_EXECUTION_REMOTE_PARALLELISM: '2' }));
      const procs = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          shell(a.local.store, `: > ${dir}/running-${i}; ls ${dir} | grep -c running >> ${dir}/seen; sleep 1; rm ${dir}/running-${i}; echo ${i} > out.txt`),
        ),
      );
      const results = await Promise.all(procs.map((p) => a.runner.run(ctx(), p)));
      assert.deepEqual(
        results.map((r) => r.exitCode),
        [0, 0, 0, 0, 0, 0],
      );
      // The server has four workers: it is our bound that holds them back. A process
      // is gone before its operation is done, so two in flight never overlap a third.
      const seen = readFileSync(join(dir, 'seen'), 'utf8').split('\n').filter(Boolean).map(Number);
      assert.equal(seen.length, 6);
      assert.ok(Math.max(...seen) <= 2, `running at once, as each process started: ${seen.join(', ')}`);
      await a.dispose();
      await rm(dir, { recursive: true, force: true });
    }, ['--workers', '4']));
});

async function tokenFile(token: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trews-rc-server-token-'));
  await writeFile(join(dir, 'tokens'), `${token}\n`);
  return join(dir, 'tokens');
}

/** Files in a temp workspace, and a snapshot of them as the rules make it: staged in `store`'s memory, not written. */
async function stagedInputs(store: LocalStore, files: Record<string, string | Buffer>): Promise<{ root: string; inputRoot: Digest; dispose: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'trews-rc-ws-'));
  for (const [p, c] of Object.entries(files)) await writeFile(join(root, p), c);
  const ws: Workspace = { root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: false } };
  const snap = await createEngine().startRun().get(new SnapshotKey(ws, store, Object.keys(files).sort()));
  return { root, inputRoot: snap.digest, dispose: () => rm(root, { recursive: true, force: true }) };
}

function overInputs(inputRoot: Digest, script: string): Process {
  return makeProcess({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin' }, inputRoot, outputFiles: ['out.txt'], timeoutMs: null, description: `sh -c ${script}` });
}

describe('remote execution of an input root that is only staged', () => {
  it('sends it from memory and the workspace: nothing is written into the local store on the way, and the entries stay staged for the next flush', () =>
    withServer(async (server) => {
      const a = await client(execEnv(server));
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
      const ws = await stagedInputs(a.layers.store, { 'a.txt': 'alpha\n', 'b.txt': 'beta\n', 'big.bin': big });
      try {
        const written = a.local.store.stats().blobsWritten;
        const r = await a.runner.run(ctx(), overInputs(ws.inputRoot, 'cat a.txt b.txt > out.txt; wc -c < big.bin >> out.txt'));
        assert.equal(r.source, 'remote');
        assert.equal(r.exitCode, 0, await text(a.local.store, r.stderr));
        assert.equal(await outputOf(a.layers.store, r), `alpha\nbeta\n${big.length}\n`);
        // The small files, the Directory, the Action and the Command went from memory; only the
        // file over 1 MiB was written into the store (to stream it from there), and the output fetched.
        assert.deepEqual(await a.local.store.findMissing([ws.inputRoot, digestOf('alpha\n'), digestOf('beta\n')]), [ws.inputRoot, digestOf('alpha\n'), digestOf('beta\n')]);
        assert.deepEqual(await a.local.store.findMissing([digestOf(big)]), []);
        assert.ok(a.local.store.stats().blobsWritten - written <= 2, `blobs written: ${a.local.store.stats().blobsWritten - written}`);
        // The graph names the tree: the flush at the run's end writes it whole.
        await flushAllStaged(a.layers.store);
        assert.deepEqual(await a.local.store.findMissing([ws.inputRoot, digestOf('alpha\n'), digestOf('beta\n')]), []);
      } finally {
        await ws.dispose();
        await a.dispose();
      }
    }));

  it('a source edited between its snapshot and the upload fails the process as an input change, and the server never runs it', () =>
    withServer(async (server) => {
      const a = await client(execEnv(server));
      const ws = await stagedInputs(a.layers.store, { 'a.txt': 'alpha\n' });
      try {
        await writeFile(join(ws.root, 'a.txt'), 'tampered\n');
        const e = await a.runner.run(ctx(), overInputs(ws.inputRoot, 'cat a.txt > out.txt')).catch((x: unknown) => x);
        assert.ok(isFailureError(e), String(e));
        assert.equal(e.failure.reason, 'input-changed');
        assert.match(e.failure.message, /`a\.txt` changed while trews was running/);
        assert.doesNotMatch(server.log(), /rpc (Execution\.)?Execute /);
        assert.equal(a.layers.rpcCounts()['Execution.Execute'] ?? 0, 0);
      } finally {
        await ws.dispose();
        await a.dispose();
      }
    }));

  it('a staged root the server reports missing (FAILED_PRECONDITION) is sent as a tree, and runs', () =>
    withServer(async (server) => {
      const a = await client(execEnv(server));
      const ws = await stagedInputs(a.local.store, { 'a.txt': 'never uploaded before\n' });
      try {
        // Believe, wrongly, that the input tree is already on the server.
        const uploaded = new UploadedTrees();
        uploaded.add(ws.inputRoot);
        const runner = await directExecutionRunner(a, { parallelism: 4, overallDeadlineMs: 60_000, uploaded });
        const r = await runner.run(ctx(), overInputs(ws.inputRoot, 'cat a.txt > out.txt'));
        assert.equal(r.exitCode, 0, await text(a.local.store, r.stderr));
        assert.equal(await outputOf(a.local.store, r), 'never uploaded before\n');
        assert.match(server.log(), /rpc (Execution\.)?Execute FAILED_PRECONDITION/);
      } finally {
        await ws.dispose();
        await a.dispose();
      }
    }));
});

describe('remote cache', () => {
  it('a result written from one build root is read by another', () =>
    withServer(async (server) => {
      const a = await client(cacheEnv(server.address));
      const proc = await shell(a.local.store, 'cat in.txt in.txt > out.txt; echo cached');
      const r = await a.runner.run(ctx(), proc);
      assert.equal(r.source, 'ran locally');
      assert.ok(await sandboxesMade(a.sandboxRoot) >= 0);
      await a.layers.flush();
      assert.match(server.log(), /rpc (ActionCache\.)?UpdateActionResult OK/);
      await a.dispose();

      const b = await client(cacheEnv(server.address));
      const r2 = await b.runner.run(ctx(), await shell(b.local.store, 'cat in.txt in.txt > out.txt; echo cached'));
      assert.equal(r2.source, 'remote cache');
      assert.equal(await outputOf(b.local.store, r2), 'input\ninput\n');
      assert.equal(await text(b.local.store, r2.stdout), 'cached\n');
      assert.equal(await sandboxesMade(b.sandboxRoot), 0);
      // And the local cache now has it: a third lookup stays local.
      const r3 = await b.runner.run(ctx(), await shell(b.local.store, 'cat in.txt in.txt > out.txt; echo cached'));
      assert.equal(r3.source, 'local cache');
      await b.dispose();
    }));

  it('defer: outputs stay remote until a local step needs them', () =>
    withServer(async (server) => {
      const a = await client(cacheEnv(server.address));
      await a.runner.run(ctx(), await shell(a.local.store, 'echo deferred > out.txt'));
      await a.dispose();

      const b = await client(cacheEnv(server.address, { TREWS_CACHE_CONTENT_BEHAVIOR: 'defer' }));
      const r = await b.runner.run(ctx(), await shell(b.local.store, 'echo deferred > out.txt'));
      assert.equal(r.source, 'remote cache');
      const out = digestOf('deferred\n');
      assert.deepEqual(await b.local.store.findMissing([out]), [out], 'not fetched yet');
      // A local process consuming the output: the sandbox gets it from the remote store.
      const consumer = makeProcess({ argv: ['/bin/sh', '-c', 'cat out.txt > copy.txt'], env: { PATH: '/usr/bin:/bin' }, inputRoot: r.outputRoot, outputFiles: ['copy.txt'], cacheScope: 'never' });
      const c = await b.runner.run(ctx(), consumer);
      assert.equal(c.source, 'ran locally');
      assert.equal(c.exitCode, 0);
      assert.deepEqual(await b.local.store.findMissing([out]), []);
      await b.dispose();
    }));

  it('validate: a hit whose outputs the server lost is a miss, and the process runs locally', () =>
    withServer(async (server) => {
      const a = await client(cacheEnv(server.address));
      await a.runner.run(ctx(), await shell(a.local.store, 'echo validated > out.txt'));
      await a.dispose();
      // Lose the output blob on the server.
      const out = digestOf('validated\n');
      execFileSync('find', [server.storeDir, '-name', `${out.hash}*`, '-delete']);

      const b = await client(cacheEnv(server.address, { TREWS_CACHE_CONTENT_BEHAVIOR: 'validate' }));
      const r = await b.runner.run(ctx(), await shell(b.local.store, 'echo validated > out.txt'));
      assert.equal(r.source, 'ran locally');
      assert.equal(await outputOf(b.local.store, r), 'validated\n');
      await b.dispose();
    }));

  it('an unreachable cache never fails the build: a warning, and the process runs locally', async () => {
    // A port nobody listens on: start a server to learn a free port, then stop it.
    const gone = await startServer();
    await gone.stop();
    const logger = memoryLogger();
    const a = await client(cacheEnv(gone.address, { TREWS_REMOTE_STORE_RPC_RETRIES: '0' }), { logger });
    // Two runs of one daemon, side by side: each hears only of its own requests.
    const runOne: string[] = [];
    const runTwo: string[] = [];
    const [r1, r2] = await Promise.all([
      a.runner.run({ ...ctx(), runId: 'one', warn: (m) => runOne.push(m) }, await shell(a.local.store, 'echo one > out.txt')),
      a.runner.run({ ...ctx(), runId: 'two', warn: (m) => runTwo.push(m) }, await shell(a.local.store, 'echo two > out.txt')),
    ]);
    await a.layers.flush();
    assert.equal(r1.source, 'ran locally');
    assert.equal(r2.source, 'ran locally');
    const unreachable = `failed, running it locally: cannot use remote_store_server grpc://${gone.address}: GetCapabilities failed with UNAVAILABLE`;
    assert.match(runOne[0] ?? '', new RegExp(`^remote cache: lookup of sh -c echo one > out.txt .* ${unreachable}`));
    assert.match(runTwo[0] ?? '', new RegExp(`^remote cache: lookup of sh -c echo two > out.txt .* ${unreachable}`));
    assert.ok(runOne.every((m) => m.includes('echo one') && !m.includes('echo two')), runOne.join('\n'));
    assert.ok(runTwo.every((m) => m.includes('echo two') && !m.includes('echo one')), runTwo.join('\n'));
    assert.deepEqual(a.warnings, [], 'nothing goes to a sink of no run');
    assert.ok(logger.lines.some((l) => l.startsWith('warn remote cache:')));
    await a.dispose();
  });
});

describe('remote cache race', () => {
  // Who wins is decided by events, not by a clock: the silent server never
  // answers (only a race lets the process run before its 10-minute deadline),
  // and the local run of the cached process waits for a file that is never
  // created (only the hit can finish it).
  it('a lookup that does not answer in time loses to local execution; a prompt hit wins', { timeout: 300_000 }, async () => {
    // A server that accepts connections and never answers: every lookup hangs until its deadline.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const local = await tempStore();
    try {
      const options = remoteOptions(cacheEnv(`127.0.0.1:${port}`, { TREWS_REMOTE_CACHE_WRITE: 'false', TREWS_REMOTE_CACHE_RPC_TIMEOUT_MILLIS: '600000' }));
      const layers = createRemoteLayers(options, { store: local.store, logger: nullLogger, raceAfterMs: 100 });
      assert.ok(layers);
      const runner = makeCommandRunner({ options, store: layers.store, logger: nullLogger, sandboxRoot: join(local.dir, 'sb'), remote: layers });
      const r = await runner.run(ctx(), await shell(local.store, 'echo raced > out.txt'));
      assert.equal(r.source, 'ran locally');
      assert.equal(await outputOf(local.store, r), 'raced\n');
      await layers.close().catch(() => undefined);
    } finally {
      // Its open connections would keep this process alive after the tests.
      for (const socket of sockets) socket.destroy();
      silent.close();
      await local.dispose();
    }

    const gate = await mkdtemp(join(tmpdir(), 'trews-rc-gate-'));
    // Finishes at once while the gate is open; once it is closed, only a hit can
    // finish it in time (the loop is bounded, so a loser left running ends anyway).
    const script = `i=0; while [ ! -e ${gate}/open ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; echo slow > out.txt`;
    await withServer(async (server) => {
      await writeFile(join(gate, 'open'), '');
      const a = await client(cacheEnv(server.address));
      await a.runner.run(ctx(), await shell(a.local.store, script));
      await a.dispose();
      await rm(join(gate, 'open'));
      const b = await tempStore();
      const options = remoteOptions(cacheEnv(server.address));
      const layers = createRemoteLayers(options, { store: b.store, logger: nullLogger, raceAfterMs: 50 });
      assert.ok(layers);
      const runner = makeCommandRunner({ options, store: layers.store, logger: nullLogger, sandboxRoot: join(b.dir, 'sb'), remote: layers });
      const r = await runner.run(ctx(), await shell(b.store, script));
      assert.equal(r.source, 'remote cache');
      assert.equal(await outputOf(b.store, r), 'slow\n');
      await layers.close();
      await b.dispose();
    });
    await rm(gate, { recursive: true, force: true });
  });
});

describe('TLS', () => {
  it('with a certificate made by openssl, trusted through remote_ca_certs_path; untrusted without it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-rc-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    try {
      await withServer(
        async (server) => {
          const env = (extra: Record<string, string>): Record<string, string> => ({
            TREWS_REMOTE_EXECUTION: 'true',
            TREWS_REMOTE_STORE_SERVER: server.address,
            TREWS_REMOTE_EXECUTION_SERVER: server.address,
            ...extra,
          });
          const a = await client(env({ TREWS_REMOTE_CA_CERTS_PATH: join(dir, 'cert.pem') }));
          const r = await a.runner.run(ctx(), await shell(a.local.store, 'echo over tls > out.txt'));
          assert.equal(r.source, 'remote');
          assert.equal(await outputOf(a.layers.store, r), 'over tls\n');
          await a.dispose();

          // grpcs:// without the CA: the system roots do not know this certificate.
          const b = await client({ TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_STORE_SERVER: `grpcs://${server.address}`, TREWS_REMOTE_EXECUTION_SERVER: `grpcs://${server.address}` });
          await assert.rejects(b.runner.run(ctx(), await shell(b.local.store, 'true')), (e: unknown) => {
            assert.ok(isFailureError(e));
            assert.match(e.failure.message, new RegExp(`cannot use remote_(store|execution)_server grpcs://${server.address}: GetCapabilities failed with UNAVAILABLE`));
            return true;
          });
          await b.dispose();

          // Plaintext against a TLS server fails clearly too.
          const c = await client(execEnv(server, { TREWS_REMOTE_STORE_RPC_RETRIES: '0' }));
          await assert.rejects(c.runner.run(ctx(), await shell(c.local.store, 'true')), (e: unknown) => isFailureError(e) && /UNAVAILABLE/.test(e.failure.message));
          await c.dispose();
        },
        ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
