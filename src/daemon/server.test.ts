import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { MemoryLogger, type LogLevel, type RunContext } from '../core/index.js';
import { connectToDaemon, runOnDaemon } from './client.js';
import { DaemonLostError, DaemonUnavailableError } from './errors.js';
import { terminalEnv, type NailgunRequest } from './protocol/index.js';
import { createDaemonServer, type DaemonServer, type ServeFn } from './server.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function socketPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'trews-srv-'));
  dirs.push(d);
  return join(d, 's.sock');
}

function collector(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(c: Buffer, _e, done) {
        text += c.toString('utf8');
        done();
      },
    }),
    text: () => text,
  };
}

function request(args: string[], env: Record<string, string> = {}): NailgunRequest {
  return { command: 'trews', args, env: { HOME: '/home/u', ...env }, cwd: '/work/repo' };
}

async function withServer(
  serve: ServeFn,
  body: (path: string, server: DaemonServer) => Promise<void>,
  extra: { beforeRun?: () => Promise<void>; logger?: MemoryLogger } = {},
): Promise<void> {
  const path = socketPath();
  const server = createDaemonServer({ socketPath: path, logger: new MemoryLogger(), serve, keepaliveIntervalMs: 50, ...extra });
  await server.listen();
  try {
    await body(path, server);
  } finally {
    server.abortAll(new Error('test over'));
    server.destroyAll();
    server.stopAccepting();
  }
}

async function call(path: string, req: NailgunRequest, input?: string): Promise<{ code: number; out: string; err: string }> {
  const out = collector();
  const err = collector();
  const stdin = new PassThrough();
  if (input !== undefined) stdin.end(input);
  const code = await runOnDaemon(await connectToDaemon(path), { request: req, stdin, stdout: out.stream, stderr: err.stream });
  return { code, out: out.text(), err: err.text() };
}

describe('the daemon server', () => {
  test('gives each run a RunContext from its request: argv, env without the Nailgun entries, cwd, terminal facts', async () => {
    let seen: RunContext | undefined;
    await withServer(
      async (ctx) => {
        seen = ctx;
        ctx.stdout.write('out\n');
        ctx.stderr.write('err\n');
        return 4;
      },
      async (path) => {
        const env = { PATH: '/bin', ...terminalEnv({ isTTY: { stdin: false, stdout: true, stderr: true }, columns: 132, lines: 50 }) };
        const r = await call(path, request(['list', '::'], env));
        assert.deepEqual(r, { code: 4, out: 'out\n', err: 'err\n' });
      },
    );
    assert.ok(seen);
    assert.deepEqual(seen.argv, ['list', '::']);
    assert.deepEqual({ ...seen.env }, { HOME: '/home/u', PATH: '/bin' });
    assert.equal(seen.cwd, '/work/repo');
    assert.deepEqual(seen.isTTY, { stdin: false, stdout: true, stderr: true });
    assert.equal(seen.terminalWidth, 132);
    assert.equal(seen.terminalHeight, 50);
    assert.equal(seen.signal.aborted, false);
  });

  test('without terminal facts, a run sees pipes and an 80x24 default', async () => {
    let seen: RunContext | undefined;
    await withServer(
      async (ctx) => {
        seen = ctx;
        return 0;
      },
      async (path) => void (await call(path, request(['version']))),
    );
    assert.deepEqual(seen!.isTTY, { stdin: false, stdout: false, stderr: false });
    assert.equal(seen!.terminalWidth, 80);
    assert.equal(seen!.terminalHeight, 24);
  });

  test('passes stdin through, read on demand', async () => {
    await withServer(
      async (ctx) => {
        let input = '';
        for await (const piece of ctx.stdin) input += String(piece);
        ctx.stdout.write(input.toUpperCase());
        return 0;
      },
      async (path) => {
        const big = 'abc\n'.repeat(100_000);
        const r = await call(path, request(['run', '//:cat']), big);
        assert.equal(r.code, 0);
        assert.equal(r.out, big.toUpperCase());
      },
    );
  });

  test('serves many clients at once, each with its own output and exit code', async () => {
    let active = 0;
    let most = 0;
    // No run ends before all eight are running: served one at a time, they would never get there.
    let allIn!: () => void;
    const together = new Promise<void>((r) => (allIn = r));
    await withServer(
      async (ctx) => {
        active++;
        most = Math.max(most, active);
        if (active === 8) allIn();
        await together;
        ctx.stdout.write(`${ctx.argv.join(' ')}\n`);
        active--;
        return Number(ctx.argv[1]);
      },
      async (path, server) => {
        const runs = Array.from({ length: 8 }, (_, i) => call(path, request(['run', String(i)])));
        try {
          await until(() => most === 8);
        } finally {
          allIn();
        }
        const results = await Promise.all(runs);
        results.forEach((r, i) => assert.deepEqual(r, { code: i, out: `run ${i}\n`, err: '' }));
        assert.equal(most, 8, 'all eight ran at the same time');
        assert.equal(server.activeRuns, 0);
      },
    );
  });

  test('a run\'s end is in the log before its exit code goes to the client', async () => {
    // A client in another process (and a test reading the log after it) races the
    // daemon for the log line unless it is written first; the order is what counts.
    const events: string[] = [];
    const logger = new (class extends MemoryLogger {
      protected override write(level: LogLevel, msg: string): void {
        super.write(level, msg);
        if (/^run #\d+ ended/.test(msg)) events.push('logged');
      }
    })();
    const write = Socket.prototype.write;
    Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
      const data = args[0];
      // An exit chunk: 4 bytes of length, then the type 'X'.
      if (Buffer.isBuffer(data) && data.byteLength >= 5 && data[4] === 'X'.charCodeAt(0)) events.push('exit sent');
      return write.apply(this, args);
    } as Socket['write'];
    try {
      await withServer(
        async () => 3,
        async (path) => assert.equal((await call(path, request(['x']))).code, 3),
        { logger },
      );
    } finally {
      Socket.prototype.write = write;
    }
    assert.deepEqual(events, ['logged', 'exit sent']);
    assert.ok(logger.lines.some((l) => /^info run #1 ended: exit 3 in \d+ ms$/.test(l)), logger.lines.join('\n'));
  });

  test('a client that goes away aborts its run only', async () => {
    let aborted: AbortSignal | undefined;
    await withServer(
      async (ctx) => {
        if (ctx.argv[0] === 'slow') {
          aborted = ctx.signal;
          await new Promise((r) => ctx.signal.addEventListener('abort', r));
          return 130;
        }
        return 0;
      },
      async (path, server) => {
        const gone = new AbortController();
        const slow = runOnDaemon(await connectToDaemon(path), { request: request(['slow']), stdin: null, stdout: collector().stream, stderr: collector().stream, signal: gone.signal });
        await until(() => aborted !== undefined);
        gone.abort(new Error('user left'));
        await assert.rejects(slow, /user left/);
        await until(() => aborted!.aborted);
        assert.deepEqual(await call(path, request(['fast'])), { code: 0, out: '', err: '' });
        await server.drained();
      },
    );
  });

  test('a cancelling client gets the run\'s last words and exit code', async () => {
    await withServer(
      async (ctx) => {
        ctx.stdout.write('started\n');
        await new Promise((r) => ctx.signal.addEventListener('abort', r));
        ctx.stderr.write('trews: cancelled\n');
        return 130;
      },
      async (path) => {
        const cancel = new AbortController();
        const out = collector();
        const err = collector();
        const run = runOnDaemon(await connectToDaemon(path), { request: request(['x']), stdin: null, stdout: out.stream, stderr: err.stream, cancel: cancel.signal });
        await until(() => out.text() === 'started\n');
        cancel.abort();
        assert.equal(await run, 130);
        assert.equal(err.text(), 'trews: cancelled\n');
      },
    );
  });

  test('runs wait for beforeRun (the watcher\'s sync) before they start', async () => {
    const order: string[] = [];
    await withServer(
      async () => {
        order.push('run');
        return 0;
      },
      async (path) => {
        await call(path, request(['x']));
        assert.deepEqual(order, ['sync', 'run']);
      },
      {
        beforeRun: async () => {
          // Asynchronous, as the watcher's sync is: a run that did not wait would come first.
          await new Promise((r) => setImmediate(r));
          order.push('sync');
        },
      },
    );
  });

  test('abortAll cancels every run; the socket is private to its owner and goes away when the server stops', async () => {
    await withServer(
      async (ctx) => {
        await new Promise((r) => ctx.signal.addEventListener('abort', r));
        return 130;
      },
      async (path, server) => {
        assert.equal(statSync(path).mode & 0o777, 0o600);
        const runs = [call(path, request(['a'])), call(path, request(['b']))];
        await until(() => server.activeRuns === 2);
        server.abortAll(new Error('shutting down'));
        assert.deepEqual(
          (await Promise.all(runs)).map((r) => r.code),
          [130, 130],
        );
        server.stopAccepting();
        await assert.rejects(connectToDaemon(path, { attempts: 1 }), DaemonUnavailableError);
      },
    );
  });
});

describe('the daemon client', () => {
  test('cannot connect: a DaemonUnavailableError after its attempts', async () => {
    await assert.rejects(connectToDaemon(join(socketPath(), 'none'), { attempts: 2 }), (e: unknown) => {
      assert.ok(e instanceof DaemonUnavailableError);
      assert.equal(e.reason, 'connect-failed');
      return true;
    });
  });

  test('a daemon that accepts but never answers is given up on, as unavailable', async () => {
    const path = socketPath();
    const sockets: Socket[] = [];
    const stuck = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => stuck.listen(path, () => r()));
    try {
      await assert.rejects(
        runOnDaemon(await connectToDaemon(path), { request: request(['x']), stdin: null, stdout: collector().stream, stderr: collector().stream, answerTimeoutMs: 100 }),
        (e: unknown) => {
          assert.ok(e instanceof DaemonUnavailableError);
          assert.equal(e.reason, 'no-answer');
          return true;
        },
      );
    } finally {
      for (const s of sockets) s.destroy();
      stuck.close();
    }
  });

  test('a daemon that vanishes after answering is lost, not unavailable: the run must not be repeated', async () => {
    await withServer(
      async (ctx) => {
        ctx.stdout.write('partial output\n');
        // Still running when the daemon goes: it ends only once its client is gone.
        await new Promise((r) => ctx.signal.addEventListener('abort', r));
        throw Object.assign(new Error('never seen'), { kill: true });
      },
      async (path, server) => {
        const out = collector();
        const run = runOnDaemon(await connectToDaemon(path), { request: request(['x']), stdin: null, stdout: out.stream, stderr: collector().stream });
        await until(() => out.text() !== '');
        server.destroyAll();
        await assert.rejects(run, DaemonLostError);
      },
    );
  });

  test('a daemon that falls silent mid-run (no keepalive) is lost', async () => {
    const path = socketPath();
    const sockets: Socket[] = [];
    // Answers once (a keepalive), then nothing.
    const mute = createServer((s) => {
      sockets.push(s);
      s.write(Buffer.from([0, 0, 0, 0, '2'.charCodeAt(0)]));
    });
    await new Promise<void>((r) => mute.listen(path, () => r()));
    try {
      await assert.rejects(
        runOnDaemon(await connectToDaemon(path), { request: request(['x']), stdin: null, stdout: collector().stream, stderr: collector().stream, silenceTimeoutMs: 100 }),
        (e: unknown) => e instanceof DaemonLostError && /sent nothing for/.test(e.message),
      );
    } finally {
      for (const s of sockets) s.destroy();
      mute.close();
    }
  });
});

async function until(cond: () => boolean): Promise<void> {
  // A safety net only: every wait here is for an event that comes, however slowly.
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
