import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, type Server, type Socket, createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { runClientSession } from './client-session.js';
import { type Chunk, ChunkDecoder, ChunkType, encodeChunk } from './codec.js';
import { ConnectionClosedError, ProtocolError } from './errors.js';
import { encodeExit } from './exit-code.js';
import { type NailgunRequest, encodeRequest } from './preamble.js';
import { type AcceptResult, type ServerSession, type ServerSessionOptions, acceptSession } from './server-session.js';

/** Every test fails rather than hangs when a session never settles. */
const LIMIT = { timeout: 30_000 };

const REQUEST: NailgunRequest = {
  command: 'trews',
  args: ['test', 'src/app::', '--', 'ünï cødé'],
  env: { PATH: '/usr/bin', NAILGUN_TTY_1: '1', GREETING: 'a=b' },
  cwd: '/work/repo/src',
};

/**
 * A real listening socket (127.0.0.1, or a Unix socket in a temp dir) whose
 * connections go to `onConnection`; closed, with every connection, at the end.
 */
async function withServer(
  onConnection: (socket: Socket) => void,
  body: (connect: () => Socket) => Promise<void>,
  where: 'tcp' | 'unix' = 'tcp',
): Promise<void> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  let dir: string | undefined;
  if (where === 'unix') {
    dir = mkdtempSync(join(tmpdir(), 'trews-ng-'));
    server.listen(join(dir, 'ng.sock'));
  } else {
    server.listen(0, '127.0.0.1');
  }
  await once(server, 'listening');
  const connect = (): Socket => {
    const address = server.address();
    const socket =
      typeof address === 'string' ? createConnection(address) : createConnection((address as AddressInfo).port, '127.0.0.1');
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };
  try {
    await body(connect);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Accepts sessions on the server side and hands them out in order. */
function sessions(options?: ServerSessionOptions): { onConnection: (s: Socket) => void; next: () => Promise<AcceptResult> } {
  const results: Promise<AcceptResult>[] = [];
  const waiters: ((p: Promise<AcceptResult>) => void)[] = [];
  return {
    onConnection: (socket) => {
      const p = acceptSession(socket, options);
      const waiter = waiters.shift();
      if (waiter) waiter(p);
      else results.push(p);
    },
    next: () => {
      const p = results.shift();
      return p ?? new Promise<AcceptResult>((resolve) => waiters.push((q) => void q.then(resolve)));
    },
  };
}

async function started(next: () => Promise<AcceptResult>): Promise<ServerSession> {
  const r = await next();
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.session;
}

/** A Writable that records what it is given, in one log shared with others. */
function recorder(name: string, log: { stream: string; text: string }[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      log.push({ stream: name, text: chunk.toString('utf8') });
      done();
    },
  });
}

function sink(): Writable {
  return new Writable({ write: (_c, _e, done) => done() });
}

/** A raw peer: sends bytes and collects the decoded chunks the other side sends. */
function rawPeer(socket: Socket): { chunks: Chunk[]; waitFor: (pred: (c: Chunk[]) => boolean) => Promise<void> } {
  const decoder = new ChunkDecoder();
  const chunks: Chunk[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (data: Buffer) => {
    const r = decoder.push(data);
    chunks.push(...r.chunks);
    wake?.();
  });
  socket.on('error', () => {});
  return {
    chunks,
    waitFor: async (pred) => {
      const deadline = Date.now() + 5000;
      while (!pred(chunks)) {
        if (Date.now() > deadline) assert.fail(`timed out waiting; got ${types(chunks)}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 20);
        });
      }
    },
  };
}

/** Polls `done` until it holds; fails (rather than hangs) after a few seconds. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function types(chunks: readonly Chunk[]): string {
  return chunks.map((c) => c.type).join('');
}

describe('server and client sessions over a real socket', () => {
  test('request, stdin on demand, ordered output and the exit code make the round trip', LIMIT, async () => {
    const srv = sessions();
    await withServer(srv.onConnection, async (connect) => {
      const log: { stream: string; text: string }[] = [];
      const stdin = new PassThrough();
      const client = runClientSession(connect(), REQUEST, {
        stdin,
        stdout: recorder('out', log),
        stderr: recorder('err', log),
        heartbeatIntervalMs: 10,
      });

      const session = await started(srv.next);
      assert.equal(session.request.command, REQUEST.command);
      assert.deepEqual(session.request.args, REQUEST.args);
      assert.equal(session.request.cwd, REQUEST.cwd);
      assert.deepEqual({ ...session.request.env }, REQUEST.env);
      assert.equal(session.signal.aborted, false);

      session.stdout.write('out 1\n');
      session.stderr.write('err 1\n');
      session.stdout.write('out 2\n');
      session.stderr.write(Buffer.from('err 2\n'));

      stdin.write('hello ');
      setTimeout(() => stdin.end('world'), 30);
      let input = '';
      for await (const piece of session.stdin) input += String(piece);
      session.stdout.write(`read: ${input}\n`);
      assert.equal(await session.exit(3), true);

      assert.equal(await client, 3);
      assert.deepEqual(log, [
        { stream: 'out', text: 'out 1\n' },
        { stream: 'err', text: 'err 1\n' },
        { stream: 'out', text: 'out 2\n' },
        { stream: 'err', text: 'err 2\n' },
        { stream: 'out', text: 'read: hello world\n' },
      ]);
      // Exiting is not the client leaving.
      await sleep(20);
      assert.equal(session.signal.aborted, false);
    });
  });

  test('a command that never reads stdin never asks for it, and the client never reads it', LIMIT, async () => {
    const srv = sessions();
    await withServer(srv.onConnection, async (connect) => {
      const stdin = new PassThrough();
      stdin.write('never read');
      const client = runClientSession(connect(), REQUEST, { stdin, stdout: sink(), stderr: sink(), heartbeatIntervalMs: 0 });
      const session = await started(srv.next);
      await sleep(50);
      assert.equal(await session.exit(0), true);
      assert.equal(await client, 0);
      assert.equal(stdin.readableLength, 'never read'.length);
    });
  });

  test('the server asks for stdin only when the consumer reads, one chunk at a time', LIMIT, async () => {
    const srv = sessions();
    await withServer(srv.onConnection, async (connect) => {
      const socket = connect();
      const peer = rawPeer(socket);
      socket.write(Buffer.concat(encodeRequest(REQUEST)));
      const session = await started(srv.next);
      await sleep(50);
      assert.equal(types(peer.chunks), '', 'no S before anyone reads');

      assert.equal(session.stdin.read(), null);
      await peer.waitFor((c) => c.length === 1);
      assert.equal(types(peer.chunks), 'S');

      socket.write(encodeChunk(ChunkType.Stdin, 'abc'));
      await once(session.stdin, 'readable');
      await sleep(50);
      assert.equal(types(peer.chunks), 'S', 'no second S while the first chunk is unread');

      assert.equal(String(session.stdin.read()), 'abc');
      // Asking for more than is buffered is what sends the next request.
      assert.equal(session.stdin.read(), null);
      await peer.waitFor((c) => c.length === 2);
      assert.equal(types(peer.chunks), 'SS');

      socket.write(encodeChunk(ChunkType.StdinEof));
      const ended = once(session.stdin, 'end');
      session.stdin.resume();
      await ended;
      assert.equal(await session.exit(0), true);
      await peer.waitFor((c) => c.length === 3);
      assert.equal(types(peer.chunks), 'SSX');
    });
  });

  test('the client forwards stdin only in answer to S, one chunk per S, then EOF', LIMIT, async () => {
    const chunksSeen: Chunk[] = [];
    let serverSocket: Socket | undefined;
    await withServer(
      (socket) => {
        serverSocket = socket;
        const decoder = new ChunkDecoder();
        socket.on('data', (d: Buffer) => chunksSeen.push(...decoder.push(d).chunks));
      },
      async (connect) => {
        const stdin = new PassThrough();
        stdin.write('first');
        const client = runClientSession(connect(), REQUEST, {
          stdin,
          stdout: sink(),
          stderr: sink(),
          heartbeatIntervalMs: 0,
          maxStdinChunkBytes: 3,
        });
        const sent = (type: string): Chunk[] => chunksSeen.filter((c) => c.type === type);
        await until(() => sent('C').length > 0, 'the command');
        await sleep(50);
        assert.equal(sent('0').length, 0, 'no stdin before S');

        const server = serverSocket;
        assert.ok(server);
        server.write(encodeChunk(ChunkType.StartInput));
        await until(() => sent('0').length >= 1, 'a first stdin chunk');
        await sleep(30);
        assert.deepEqual(sent('0').map((c) => c.payload.toString()), ['fir'], 'one chunk, cut at maxStdinChunkBytes');

        server.write(encodeChunk(ChunkType.StartInput));
        await until(() => sent('0').length >= 2, 'a second stdin chunk');
        stdin.end();
        server.write(encodeChunk(ChunkType.StartInput));
        await until(() => sent('.').length >= 1, 'stdin EOF');
        server.write(encodeChunk(ChunkType.StartInput));
        await sleep(30);
        assert.deepEqual(sent('0').map((c) => c.payload.toString()), ['fir', 'st']);
        assert.equal(sent('.').length, 1, 'EOF is sent once');
        assert.equal(types(chunksSeen).replace(/[AE]/g, ''), 'DC00.');

        server.end(encodeExit(0));
        assert.equal(await client, 0);
      },
    );
  });

  test('the client sends heartbeats at the configured interval', LIMIT, async () => {
    const chunksSeen: Chunk[] = [];
    let serverSocket: Socket | undefined;
    await withServer(
      (socket) => {
        serverSocket = socket;
        const decoder = new ChunkDecoder();
        socket.on('data', (d: Buffer) => chunksSeen.push(...decoder.push(d).chunks));
      },
      async (connect) => {
        const client = runClientSession(connect(), REQUEST, { stdout: sink(), stderr: sink(), heartbeatIntervalMs: 20 });
        // Counted, not timed: a loaded machine may stretch the interval, never skip the beats.
        await until(() => chunksSeen.filter((c) => c.type === 'H').length >= 5, 'five heartbeats');
        assert.equal(chunksSeen.findIndex((c) => c.type === 'H') > chunksSeen.findIndex((c) => c.type === 'C'), true);
        serverSocket?.end(encodeChunk(ChunkType.Exit, '0\n'));
        assert.equal(await client, 0);
        const after = chunksSeen.length;
        await sleep(100);
        assert.equal(chunksSeen.length, after, 'no heartbeats after the exit code');
      },
    );
  });

  test('keepalives are empty stderr chunks, the first as soon as the command arrives; clients print nothing for them', LIMIT, async () => {
    const srv = sessions({ keepaliveIntervalMs: 20 });
    await withServer(srv.onConnection, async (connect) => {
      const socket = connect();
      const raw = rawPeer(socket);
      socket.write(Buffer.concat(encodeRequest(REQUEST)));
      const session = await started(srv.next);
      await raw.waitFor((c) => c.length >= 1);
      assert.equal(raw.chunks[0]!.type, ChunkType.Stderr);
      assert.equal(raw.chunks[0]!.payload.byteLength, 0);
      await raw.waitFor((c) => c.length >= 4);
      assert.ok(raw.chunks.every((c) => c.type === ChunkType.Stderr && c.payload.byteLength === 0));
      await session.exit(0);
      await raw.waitFor((c) => c.some((x) => x.type === ChunkType.Exit));
      const after = raw.chunks.length;
      await sleep(80);
      assert.equal(raw.chunks.length, after, 'no keepalive after the exit code');
      assert.equal(raw.chunks[after - 1]!.type, ChunkType.Exit);
    });
    await withServer(srv.onConnection, async (connect) => {
      const log: { stream: string; text: string }[] = [];
      const client = runClientSession(connect(), REQUEST, { stdout: recorder('out', log), stderr: recorder('err', log), heartbeatIntervalMs: 0 });
      const session = await started(srv.next);
      await sleep(70);
      session.stdout.write('done\n');
      await session.exit(0);
      assert.equal(await client, 0);
      assert.deepEqual(log, [{ stream: 'out', text: 'done\n' }]);
    });
  });

  test('a cancelling client half-closes; on a half-open socket the command is aborted yet its output and exit code arrive', LIMIT, async () => {
    const srv = sessions();
    const server = createServer({ allowHalfOpen: true }, srv.onConnection);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
    try {
      const cancel = new AbortController();
      const log: { stream: string; text: string }[] = [];
      const stdin = new PassThrough();
      const client = runClientSession(socket, REQUEST, { stdin, stdout: recorder('out', log), stderr: recorder('err', log), heartbeatIntervalMs: 10, cancel: cancel.signal });
      const session = await started(srv.next);
      session.stdout.write('working\n');
      await until(() => log.length === 1, 'the first output');
      cancel.abort();
      await once(session.signal, 'abort');
      assert.ok(session.signal.reason instanceof ConnectionClosedError);
      // Stdin ends for the command: nothing more will come from the client.
      let input = '';
      for await (const piece of session.stdin) input += String(piece);
      assert.equal(input, '');
      session.stderr.write('cancelled\n');
      assert.equal(await session.exit(130), true);
      assert.equal(await client, 130);
      assert.deepEqual(log, [
        { stream: 'out', text: 'working\n' },
        { stream: 'err', text: 'cancelled\n' },
      ]);
      assert.equal(stdin.listenerCount('readable'), 0, 'stdin is left alone after cancelling');
    } finally {
      socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('without a half-open socket, a cancelling client is a client that left', LIMIT, async () => {
    const srv = sessions();
    await withServer(srv.onConnection, async (connect) => {
      const cancel = new AbortController();
      const client = runClientSession(connect(), REQUEST, { stdout: sink(), stderr: sink(), heartbeatIntervalMs: 0, cancel: cancel.signal });
      const session = await started(srv.next);
      cancel.abort();
      await once(session.signal, 'abort');
      await assert.rejects(client, ConnectionClosedError);
      assert.equal(await session.exit(130), false);
    });
  });

  test('the server sees a client that disconnects as an abort', LIMIT, async () => {
    const srv = sessions();
    await withServer(srv.onConnection, async (connect) => {
      const controller = new AbortController();
      const client = runClientSession(connect(), REQUEST, {
        stdout: sink(),
        stderr: sink(),
        heartbeatIntervalMs: 0,
        signal: controller.signal,
      });
      const session = await started(srv.next);
      const aborted = once(session.signal, 'abort');
      const stdinEnded = once(session.stdin, 'end');
      session.stdin.resume();
      controller.abort(new Error('user pressed Ctrl-C'));
      await assert.rejects(client, /user pressed Ctrl-C/);
      await aborted;
      await stdinEnded;
      assert.ok(session.signal.reason instanceof ConnectionClosedError);
      assert.equal((session.signal.reason as ConnectionClosedError).reason, 'peer-closed');

      // Output to a departed client is dropped, never an error that could crash the daemon.
      let errored = false;
      session.stdout.on('error', () => (errored = true));
      await new Promise<void>((resolve) => session.stdout.write('into the void', () => resolve()));
      assert.equal(errored, false);
      assert.equal(await session.exit(1), false);
    });
  });

  test('several MiB of stdout are paced by a slow client (backpressure both ways)', LIMIT, async () => {
    const srv = sessions();
    await withServer(
      srv.onConnection,
      async (connect) => {
        const TOTAL = 16 * 1024 * 1024;
        const PIECE = 64 * 1024;
        const received: Buffer[] = [];
        let stalled = true;
        const held: (() => void)[] = [];
        const slowStdout = new Writable({
          highWaterMark: 64 * 1024,
          write(chunk: Buffer, _enc, done) {
            received.push(chunk);
            if (stalled) held.push(() => done());
            else done();
          },
        });
        const client = runClientSession(connect(), REQUEST, { stdout: slowStdout, stderr: sink(), heartbeatIntervalMs: 0 });
        const session = await started(srv.next);

        let accepted = 0;
        let waitingForDrain = false;
        const producer = (async () => {
          for (let at = 0; at < TOTAL; at += PIECE) {
            const piece = Buffer.alloc(PIECE);
            for (let i = 0; i < PIECE; i += 4) piece.writeUInt32BE((at + i) >>> 0, i);
            if (!session.stdout.write(piece)) {
              waitingForDrain = true;
              await once(session.stdout, 'drain');
              waitingForDrain = false;
            }
            accepted += PIECE;
          }
          return session.exit(0);
        })();

        // Wait until the producer is held back and stays held back (or, if
        // backpressure is broken, until it has written everything).
        let last = -1;
        while (!(waitingForDrain && accepted === last) && accepted < TOTAL) {
          last = accepted;
          await sleep(100);
        }
        assert.ok(accepted < TOTAL / 2, `the server accepted ${accepted} bytes while the client read nothing`);

        stalled = false;
        for (const release of held.splice(0)) release();
        assert.equal(await producer, true);
        assert.equal(await client, 0);

        const all = Buffer.concat(received);
        assert.equal(all.byteLength, TOTAL);
        for (let i = 0; i < TOTAL; i += 4 * 4099) assert.equal(all.readUInt32BE(i), i, `byte ${i}`);
      },
      'unix',
    );
  });
});

describe('server session against a misbehaving client', () => {
  async function rawClient(
    bytes: Buffer,
    options: ServerSessionOptions = {},
    then: 'end' | 'keep' = 'keep',
  ): Promise<{ result: AcceptResult; socket: Socket }> {
    const srv = sessions(options);
    let out: { result: AcceptResult; socket: Socket } | undefined;
    await withServer(srv.onConnection, async (connect) => {
      const socket = connect();
      socket.on('error', () => {});
      socket.write(bytes);
      if (then === 'end') socket.end();
      out = { result: await srv.next(), socket };
    });
    assert.ok(out);
    return out;
  }

  test('a client that leaves before its command yields a ConnectionClosedError', LIMIT, async () => {
    const { result } = await rawClient(encodeChunk(ChunkType.Argument, 'x'), {}, 'end');
    assert.ok(!result.ok);
    assert.ok(result.error instanceof ConnectionClosedError);
    assert.match(result.error.message, /before sending its command/);
  });

  test('a malformed preamble yields a ProtocolError and closes the connection', LIMIT, async () => {
    const { result, socket } = await rawClient(Buffer.concat([encodeChunk(ChunkType.Stdin, 'x'), encodeChunk(ChunkType.Command, 'c')]));
    assert.ok(!result.ok);
    assert.ok(result.error instanceof ProtocolError);
    assert.equal(result.error.reason, 'unexpected-chunk');
    await once(socket, 'close');
  });

  test('an unknown chunk type in the preamble is refused', LIMIT, async () => {
    const { result } = await rawClient(Buffer.from([0, 0, 0, 1, 0x4c, 0x61]));
    assert.ok(!result.ok && result.error instanceof ProtocolError && result.error.reason === 'unknown-chunk-type');
  });

  test('an oversized chunk is refused before its payload arrives', LIMIT, async () => {
    const { result } = await rawClient(Buffer.from([0, 0, 0x10, 0x00, 0x41]), { maxPayloadBytes: 1024 });
    assert.ok(!result.ok && result.error instanceof ProtocolError && result.error.reason === 'payload-too-large');
  });

  test('a preamble that never ends times out when asked to', LIMIT, async () => {
    const { result } = await rawClient(encodeChunk(ChunkType.Argument, 'x'), { preambleTimeoutMs: 50 });
    assert.ok(!result.ok && result.error instanceof ConnectionClosedError && result.error.reason === 'preamble-timeout');
  });

  async function runningSession(
    options: ServerSessionOptions,
    body: (session: ServerSession, socket: Socket) => Promise<void>,
  ): Promise<void> {
    const srv = sessions(options);
    await withServer(srv.onConnection, async (connect) => {
      const socket = connect();
      socket.on('error', () => {});
      socket.write(Buffer.concat(encodeRequest(REQUEST)));
      await body(await started(srv.next), socket);
    });
  }

  test('a protocol error after the command aborts the session with it', LIMIT, async () => {
    await runningSession({}, async (session, socket) => {
      socket.write(encodeChunk(ChunkType.Argument, 'late'));
      await once(session.signal, 'abort');
      assert.ok(session.signal.reason instanceof ProtocolError);
      assert.match((session.signal.reason as ProtocolError).message, /'A' chunk after its command/);
      await once(socket, 'close');
    });
  });

  test('stdin after stdin EOF is a protocol error', LIMIT, async () => {
    await runningSession({}, async (session, socket) => {
      socket.write(Buffer.concat([encodeChunk(ChunkType.StdinEof), encodeChunk(ChunkType.Stdin, 'x')]));
      await once(session.signal, 'abort');
      assert.equal((session.signal.reason as ProtocolError).reason, 'unexpected-chunk');
    });
  });

  test('a chunk cut short by the connection ending is a truncation', LIMIT, async () => {
    await runningSession({}, async (session, socket) => {
      socket.end(encodeChunk(ChunkType.Stdin, 'hello').subarray(0, 7));
      await once(session.signal, 'abort');
      assert.equal((session.signal.reason as ProtocolError).reason, 'truncated');
    });
  });

  test('a silent client is dropped after the heartbeat timeout, a heartbeating one is not', LIMIT, async () => {
    await runningSession({ heartbeatTimeoutMs: 100 }, async (session) => {
      await once(session.signal, 'abort');
      assert.equal((session.signal.reason as ConnectionClosedError).reason, 'heartbeat-timeout');
    });
    const srv = sessions({ heartbeatTimeoutMs: 100 });
    await withServer(srv.onConnection, async (connect) => {
      const client = runClientSession(connect(), REQUEST, { stdout: sink(), stderr: sink(), heartbeatIntervalMs: 20 });
      const session = await started(srv.next);
      await sleep(400);
      assert.equal(session.signal.aborted, false);
      await session.exit(0);
      assert.equal(await client, 0);
    });
  });

  test('destroy() drops the client without an exit code', LIMIT, async () => {
    const srv = sessions();
    await withServer(srv.onConnection, async (connect) => {
      const client = runClientSession(connect(), REQUEST, { stdout: sink(), stderr: sink(), heartbeatIntervalMs: 0 });
      const session = await started(srv.next);
      session.destroy();
      assert.equal(session.signal.aborted, true);
      await assert.rejects(client, (e: unknown) => e instanceof ConnectionClosedError && /without sending an exit code/.test(e.message));
    });
  });

  test('exit() refuses a code the protocol cannot carry', LIMIT, async () => {
    await runningSession({}, async (session) => {
      assert.throws(() => void session.exit(1.5), RangeError);
      assert.equal(await session.exit(2), true);
    });
  });
});

describe('sessions on a socket that is already closed', () => {
  test('settle at once instead of waiting for events that will not come', LIMIT, async () => {
    const srv = sessions();
    await withServer(srv.onConnection, async (connect) => {
      const socket = connect();
      socket.destroy();
      await assert.rejects(
        runClientSession(socket, REQUEST, { stdout: sink(), stderr: sink() }),
        (e: unknown) => e instanceof ConnectionClosedError,
      );
      const result = await acceptSession(socket);
      assert.ok(!result.ok && result.error instanceof ConnectionClosedError);
    });
  });
});

describe('client session against a misbehaving server', () => {
  async function against(reply: (socket: Socket) => void): Promise<unknown> {
    let outcome: unknown;
    await withServer(
      (socket) => {
        socket.on('error', () => {});
        socket.once('data', () => reply(socket));
      },
      async (connect) => {
        outcome = await runClientSession(connect(), REQUEST, { stdout: sink(), stderr: sink(), heartbeatIntervalMs: 0 }).then(
          (code) => ({ code }),
          (error: unknown) => ({ error }),
        );
      },
    );
    return outcome;
  }

  test('a server that closes without an exit code is a clear error', LIMIT, async () => {
    const { error } = (await against((s) => s.end(encodeChunk(ChunkType.Stdout, 'partial')))) as { error: unknown };
    assert.ok(error instanceof ConnectionClosedError);
    assert.equal(error.message, 'the Nailgun server closed the connection without sending an exit code');
  });

  test('the Java server\'s exit chunk with a trailing newline is read', LIMIT, async () => {
    assert.deepEqual(await against((s) => s.end(encodeChunk(ChunkType.Exit, '898\n'))), { code: 898 });
  });

  test('a malformed exit code is a protocol error', LIMIT, async () => {
    const { error } = (await against((s) => s.end(encodeChunk(ChunkType.Exit, 'oops')))) as { error: unknown };
    assert.ok(error instanceof ProtocolError && error.reason === 'malformed-exit-code');
  });

  test('a client-only chunk from the server is a protocol error', LIMIT, async () => {
    const { error } = (await against((s) => s.write(encodeChunk(ChunkType.Argument, 'x')))) as { error: unknown };
    assert.ok(error instanceof ProtocolError && error.reason === 'unexpected-chunk');
  });

  test('a truncated chunk from the server is a protocol error', LIMIT, async () => {
    const { error } = (await against((s) => s.end(encodeChunk(ChunkType.Stdout, 'hello').subarray(0, 6)))) as { error: unknown };
    assert.ok(error instanceof ProtocolError && error.reason === 'truncated');
  });
});
