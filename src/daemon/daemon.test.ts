import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { MemoryLogger, type RunContext } from '../core/index.js';
import { connectToDaemon, runOnDaemon } from './client.js';
import { startDaemon, type DaemonConfig, type RunningDaemon, type ServeExtras } from './daemon.js';
import { processTitle } from './layout.js';
import { processCommandLine } from './liveness.js';
import { readMetadata, writeMetadata } from './metadata.js';

const roots: string[] = [];
const daemons: RunningDaemon[] = [];
after(async () => {
  for (const d of daemons) await d.shutdown('test over', 0);
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'trews-d-'));
  roots.push(root);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

interface Harness {
  readonly daemon: RunningDaemon;
  readonly logger: MemoryLogger;
  readonly invalidated: string[];
  everything: number;
  readonly extras: ServeExtras[];
}

async function start(root: string, overrides: Partial<DaemonConfig> = {}, serve?: (ctx: RunContext, extras: ServeExtras) => Promise<number>): Promise<Harness> {
  const logger = new MemoryLogger();
  const h: Harness = { daemon: undefined as unknown as RunningDaemon, logger, invalidated: [], everything: 0, extras: [] };
  const daemon = await startDaemon({
    root,
    pid: process.pid,
    fingerprint: 'a'.repeat(64),
    options: { version: '0.0.0', options: {} },
    rules: { buildPatterns: ['BUILD'], ignorePatterns: ['.*/'], useGitignore: true },
    maxMemoryBytes: 2 ** 40,
    idleTimeoutMs: 600_000,
    invalidationGlobs: [],
    logger,
    logPath: join(root, '.trews.d', 'daemon.log'),
    socketPlace: { platform: process.platform, uid: process.getuid?.() ?? 0 },
    serve: async (ctx, extras) => {
      h.extras.push(extras);
      if (serve) return serve(ctx, extras);
      ctx.stdout.write(`ran ${ctx.argv.join(' ')}\n`);
      return 0;
    },
    invalidate: {
      paths: (ps) => void h.invalidated.push(...ps),
      exactly: (ps) => void h.invalidated.push(...ps),
      all: () => void h.everything++,
    },
    ...overrides,
  });
  daemons.push(daemon);
  return Object.assign(h, { daemon });
}

async function run(socket: string, args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const stdout = new Writable({
    write(c: Buffer, _e, done) {
      out += c.toString('utf8');
      done();
    },
  });
  const code = await runOnDaemon(await connectToDaemon(socket), {
    request: { command: 'trews', args, env: {}, cwd: '/' },
    stdin: new PassThrough(),
    stdout,
    stderr: new PassThrough(),
  });
  return { code, out };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  // A safety net only: every wait here is for an event that comes, however slowly.
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The daemon's `shutting down: …` log line, if it has begun to shut down. */
function shuttingDown(h: Harness): string | undefined {
  return h.logger.lines.find((l) => l.startsWith('info shutting down: '));
}

function stopped(d: RunningDaemon): () => boolean {
  let done = false;
  void d.stopped.then(() => (done = true));
  return () => done;
}

describe('a daemon', () => {
  test('publishes its metadata once it serves, and removes it when it stops', async () => {
    const root = tree({ 'trews.toml': '' });
    const h = await start(root);
    const m = readMetadata(root)!;
    assert.equal(m.pid, process.pid);
    assert.equal(m.socket, h.daemon.socketPath);
    assert.equal(m.processName, processTitle(root));
    assert.deepEqual(await run(m.socket, ['list', '::']), { code: 0, out: 'ran list ::\n' });
    await h.daemon.shutdown('asked to');
    assert.equal(readMetadata(root), undefined);
    assert.equal(existsSync(m.socket), false);
    assert.ok(h.logger.lines.some((l) => l === 'info shutting down: asked to'));
  });

  test('hands watched changes to the engines, and exits when trews.toml changes', async () => {
    const root = tree({ 'trews.toml': '', 'a/BUILD': '' });
    const h = await start(root);
    const isStopped = stopped(h.daemon);
    writeFileSync(join(root, 'a', 'BUILD'), 'target()\n');
    await until(() => h.invalidated.includes('a/BUILD'), 'the change to reach the engines');
    assert.equal(isStopped(), false);
    writeFileSync(join(root, 'trews.toml'), '[GLOBAL]\n');
    await until(isStopped, 'the daemon to stop');
    assert.ok(h.logger.lines.includes('info shutting down: trews.toml changed'));
    assert.equal(readMetadata(root), undefined);
  });

  test('exits when a file matching daemon_invalidation_globs changes, even an ignored one', async () => {
    const root = tree({ 'trews.toml': '', '.tool/versions': '1' });
    const h = await start(root, { invalidationGlobs: ['.tool/*', '*.lock'] });
    const isStopped = stopped(h.daemon);
    writeFileSync(join(root, 'other.txt'), '');
    await until(() => h.invalidated.includes('other.txt'), 'an unrelated change');
    assert.equal(isStopped(), false);
    writeFileSync(join(root, 'deps.lock'), '');
    await until(isStopped, 'the daemon to stop');
    assert.ok(h.logger.lines.includes('info shutting down: deps.lock changed'));
  });

  test('exits after daemon_idle_timeout without a client, and not while a run is going', async () => {
    const root = tree({ 'trews.toml': '' });
    const idleTimeoutMs = 100;
    let release!: () => void;
    const h = await start(root, { idleTimeoutMs }, async () => {
      await new Promise<void>((r) => (release = r));
      return 0;
    });
    const isStopped = stopped(h.daemon);
    const r = run(h.daemon.socketPath, ['slow']);
    await until(() => release !== undefined, 'the run to start');
    // An idle period later, counted by the event loop rather than the clock: timers of
    // one length fire in the order they were set, so any idle timer the daemon armed
    // before this one has fired by now, and its decision (made in the check phase
    // after) is in by the next setImmediate.
    await new Promise((res) => setTimeout(res, idleTimeoutMs));
    await new Promise((res) => setImmediate(res));
    assert.equal(shuttingDown(h), undefined, 'a run in progress is not idleness');
    release();
    assert.equal((await r).code, 0);
    await until(isStopped, 'the idle daemon to stop');
    assert.ok(h.logger.lines.some((l) => l.includes('no client for 0 s (daemon_idle_timeout)')));
  });

  test('a client that connects as daemon_idle_timeout runs out is served, not dropped', async () => {
    const root = tree({ 'trews.toml': '' });
    const idleTimeoutMs = 100;
    const h = await start(root, { idleTimeoutMs });
    const isStopped = stopped(h.daemon);
    // Connects at once: the connection waits in the socket's backlog to be accepted.
    const r = run(h.daemon.socketPath, ['late']);
    // The daemon's event loop stalls past its idle timeout (a long synchronous step,
    // an overloaded machine); when it runs again the overdue timer comes before the accept.
    const stallUntil = Date.now() + 3 * idleTimeoutMs;
    while (Date.now() < stallUntil) {
      // busy: nothing else runs in this process
    }
    assert.deepEqual(await r, { code: 0, out: 'ran late\n' });
    assert.equal(shuttingDown(h), undefined, 'no idle shutdown under a client');
    await until(isStopped, 'the daemon to stop once idle');
    assert.match(shuttingDown(h) ?? '', /no client for 0 s \(daemon_idle_timeout\)/);
  });

  test('exits after a run that leaves it above daemon_max_memory_usage', async () => {
    const root = tree({ 'trews.toml': '' });
    let rss = 10 * 2 ** 20;
    const h = await start(root, { maxMemoryBytes: 100 * 2 ** 20, memoryUsage: () => rss });
    const isStopped = stopped(h.daemon);
    await run(h.daemon.socketPath, ['a']);
    assert.equal(isStopped(), false);
    rss = 150 * 2 ** 20;
    await run(h.daemon.socketPath, ['b']);
    await until(isStopped, 'the daemon to stop');
    assert.ok(h.logger.lines.includes('info shutting down: memory use 150 MiB is over daemon_max_memory_usage (100 MiB)'));
  });

  test('shutting down tells --loop runs to move on, lets other runs finish, and cancels them after the grace period', async () => {
    const root = tree({ 'trews.toml': '' });
    const h = await start(root, {}, async (ctx, extras) => {
      if (ctx.argv[0] === 'loop') {
        await new Promise((r) => extras.restarting.addEventListener('abort', r));
        return 75;
      }
      await new Promise((r) => ctx.signal.addEventListener('abort', r));
      return 130;
    });
    const loop = run(h.daemon.socketPath, ['loop']);
    const long = run(h.daemon.socketPath, ['long']);
    await until(() => h.extras.length === 2, 'both runs to start');
    const down = h.daemon.shutdown('restart', 100);
    assert.equal((await loop).code, 75);
    assert.equal((await long).code, 130);
    await down;
    assert.ok(h.logger.lines.some((l) => l.includes('cancelling 1 run(s) still going')));
  });

  test('stops when its metadata is taken over or removed', async () => {
    const root = tree({ 'trews.toml': '' });
    const h = await start(root, { selfCheckIntervalMs: 20 });
    const isStopped = stopped(h.daemon);
    rmSync(join(root, '.trews.d', 'daemon', 'pid'));
    await until(isStopped, 'the daemon to stop');
    assert.ok(h.logger.lines.includes('info shutting down: its metadata was removed or taken over'));
  });

  test('refuses to start where another live daemon serves the root', async () => {
    const root = tree({ 'trews.toml': '' });
    const title = processTitle(root);
    const other = spawn(process.execPath, ['-e', `process.title = ${JSON.stringify(title)}; setInterval(() => {}, 1000)`, '.'.repeat(title.length)], { stdio: 'ignore' });
    try {
      await until(() => processCommandLine(other.pid!) === title, 'the other daemon');
      writeMetadata(root, { pid: other.pid!, socket: '/nowhere', fingerprint: 'b', processName: title });
      await assert.rejects(start(root), new RegExp(`another daemon \\(pid ${other.pid}\\) already serves`));
      assert.equal(readMetadata(root)!.pid, other.pid, 'its metadata is left alone');
    } finally {
      other.kill('SIGKILL');
    }
  });
});
