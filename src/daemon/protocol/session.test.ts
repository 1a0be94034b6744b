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

/**
 * Accepts sessions on the server side and hands them out in order; `sockets`
 * are the server's ends of the connections, for tests that watch the wire.
 */
function sessions(options?: ServerSessionOptions): { onConnection: (s: Socket) => void; next: () => Promise<AcceptResult>; sockets: Socket[] } {
  const results: Promise<AcceptResult>[] = [];
  const waiters: ((p: Promise<AcceptResult>) => void)[] = [];
  const sockets: Socket[] = [];
  return {
    sockets,
    onConnection: (socket) => {
      sockets.push(socket);
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

/**
 * A raw peer: sends bytes and collects the decoded chunks the other side sends;
 * `ended` resolves when the other side has closed its end (nothing more can come).
 */
function rawPeer(socket: Socket): { chunks: Chunk[]; waitFor: (pred: (c: Chunk[]) => boolean) => Promise<void>; ended: Promise<void> } {
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
    ended: ended(socket),
    waitFor: async (pred) => {
      // A safety net only: every wait here is for an event that comes, however slowly.
      const deadline = Date.now() + 20_000;
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

/** Resolves once the peer has ended its side of `socket` (everything it sent has arrived). */
function ended(socket: Socket): Promise<void> {
  if (socket.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
  });
}

/** Resolves once `socket` is closed. */
function closed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Polls `done` until it holds; fails (rather than hangs) after a generous safety net. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
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
      let input = '';
      for await (const piece of session.stdin) {
        // The rest of the input exists only once the first piece has been read.
        if (input === '') stdin.end('world');
        input += String(piece);
      }
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
      // Exiting is not the client leaving: the client hangs up after its exit code, and the session stays unaborted.
      await closed(srv.sockets[0]!);
      assert.equal(session.signal.aborted, false);
    });
  });

  test('a command that never reads stdin never asks for it, and the client never reads it', LIMIT, async () => {
    const srv = sessions();
    await withServer(srv.onConnection, async (connect) => {
      const stdin = new PassThrough();
      stdin.write('never read');
      const log: { stream: string; text: string }[] = [];
      const client = runClientSession(connect(), REQUEST, { stdin, stdout: recorder('out', log), stderr: sink(), heartbeatIntervalMs: 0 });
      const session = await started(srv.next);
      // A round trip: once the client has this output, it has handled whatever the server sent before it (an S would come first).
      session.stdout.write('barrier');
      await until(() => log.length === 1, 'the output to reach the client');
      assert.equal(stdin.readableLength, 'never read'.length);
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
      // Output is the barrier: when the peer has it, it has everything the server sent before.
      const outputs = (c: readonly Chunk[]): number => c.filter((x) => x.type === ChunkType.Stdout).length;
      const requests = (c: readonly Chunk[]): string => types(c.filter((x) => x.type !== ChunkType.Stdout));
      session.stdout.write('1');
      await peer.waitFor((c) => outputs(c) === 1);
      assert.equal(requests(peer.chunks), '', 'no S before anyone reads');

      assert.equal(session.stdin.read(), null);
      await peer.waitFor((c) => requests(c).length === 1);
      assert.equal(requests(peer.chunks), 'S');

      socket.write(encodeChunk(ChunkType.Stdin, 'abc'));
      await once(session.stdin, 'readable');
      session.stdout.write('2');
      await peer.waitFor((c) => outputs(c) === 2);
      assert.equal(requests(peer.chunks), 'S', 'no second S while the first chunk is unread');

      assert.equal(String(session.stdin.read()), 'abc');
      // Asking for more than is buffered is what sends the next request.
      assert.equal(session.stdin.read(), null);
      await peer.waitFor((c) => requests(c).length === 2);
      assert.equal(requests(peer.chunks), 'SS');

      socket.write(encodeChunk(ChunkType.StdinEof));
      const stdinEnded = once(session.stdin, 'end');
      session.stdin.resume();
      await stdinEnded;
      assert.equal(await session.exit(0), true);
      await peer.ended;
      assert.equal(requests(peer.chunks), 'SSX');
    });
  });

  test('the client forwards stdin only in answer to S, one chunk per S, then EOF', LIMIT, async () => {
    // Each chunk from the client is stamped with how many S the server had sent when it arrived.
    const chunksSeen: { chunk: Chunk; asked: number }[] = [];
    let asked = 0;
    let serverSocket: Socket | undefined;
    let clientDone: Promise<void> | undefined;
    await withServer(
      (socket) => {
        serverSocket = socket;
        clientDone = ended(socket);
        const decoder = new ChunkDecoder();
        socket.on('data', (d: Buffer) => chunksSeen.push(...decoder.push(d).chunks.map((chunk) => ({ chunk, asked }))));
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
        const sent = (type: string): { chunk: Chunk; asked: number }[] => chunksSeen.filter((c) => c.chunk.type === type);
        const ask = (): void => {
          asked++;
          serverSocket!.write(encodeChunk(ChunkType.StartInput));
        };
        await until(() => sent('C').length > 0, 'the command');
        ask();
        await until(() => sent('0').length >= 1, 'a first stdin chunk');
        ask();
        await until(() => sent('0').length >= 2, 'a second stdin chunk');
        stdin.end();
        ask();
        await until(() => sent('.').length >= 1, 'stdin EOF');
        // After EOF, an S is answered with nothing.
        ask();
        serverSocket!.end(encodeExit(0));
        assert.equal(await client, 0);
        // The client has ended its side: everything it will ever send is here.
        await clientDone;

        assert.deepEqual(
          sent('0').map((c) => [c.chunk.payload.toString(), c.asked]),
          [['fir', 1], ['st', 2]],
          'no stdin before S; one chunk per S, cut at maxStdinChunkBytes',
        );
        assert.deepEqual(sent('.').map((c) => c.asked), [3], 'EOF is sent once, in answer to an S');
        assert.equal(types(chunksSeen.map((c) => c.chunk)).replace(/[AE]/g, ''), 'DC00.');
      },
    );
  });

  test('the client sends heartbeats at the configured interval', LIMIT, async () => {
    const chunksSeen: Chunk[] = [];
    let serverSocket: Socket | undefined;
    let clientDone: Promise<void> | undefined;
    await withServer(
      (socket) => {
        serverSocket = socket;
        clientDone = ended(socket);
        const decoder = new ChunkDecoder();
        socket.on('data', (d: Buffer) => chunksSeen.push(...decoder.push(d).chunks));
      },
      async (connect) => {
        const client = runClientSession(connect(), REQUEST, { stdout: sink(), stderr: sink(), heartbeatIntervalMs: 20 });
        const beats = (): number => chunksSeen.filter((c) => c.type === 'H').length;
        // Counted, not timed: a loaded machine may stretch the interval, never skip the beats.
        await until(() => beats() >= 5, 'five heartbeats');
        assert.equal(chunksSeen.findIndex((c) => c.type === 'H') > chunksSeen.findIndex((c) => c.type === 'C'), true);
        const before = beats();
        serverSocket?.end(encodeChunk(ChunkType.Exit, '0\n'));
        assert.equal(await client, 0);
        // The client ended its side once it had the exit code: nothing more can come.
        await clientDone;
        // Client and server share this event loop: the client's timer can fire at most
        // once between the exit code leaving and the client reading it (timers run
        // before I/O in a turn), a beat already on its way.
        assert.ok(beats() - before <= 1, `${beats() - before} heartbeats after the exit code went out`);
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
      // The server has closed its side: nothing more can come.
      await raw.ended;
      assert.equal(raw.chunks.at(-1)?.type, ChunkType.Exit, 'no keepalive after the exit code');
    });
    await withServer(srv.onConnection, async (connect) => {
      const log: { stream: string; text: string }[] = [];
      const socket = connect();
      // Watches what reaches the client, beside the client session itself.
      const seen = rawPeer(socket);
      const client = runClientSession(socket, REQUEST, { stdout: recorder('out', log), stderr: recorder('err', log), heartbeatIntervalMs: 0 });
      const session = await started(srv.next);
      await seen.waitFor((c) => c.length >= 3);
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
        // backpressure is broken, until it has written everything). Looking
        // again after a pause is a stability check, not a wait for an event: a
        // held-back producer stays held back however long the pause (and under
        // load the loop only runs longer); broken backpressure ends at TOTAL.
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
      // Twenty beats, at least 20 ms apart, span several timeouts; counted as the server receives them.
      const decoder = new ChunkDecoder();
      let beats = 0;
      srv.sockets[0]!.on('data', (d: Buffer) => (beats += decoder.push(d).chunks.filter((c) => c.type === ChunkType.Heartbeat).length));
      await until(() => beats >= 20 || session.signal.aborted, 'twenty heartbeats');
      assert.equal(session.signal.aborted, false, String(session.signal.reason));
      await session.exit(0);
      assert.equal(await client, 0);
    });
  });

  test('a heartbeat that arrived while the server was stalled past the timeout still counts', LIMIT, async () => {
    const timeoutMs = 100;
    const srv = sessions({ heartbeatTimeoutMs: timeoutMs });
    await withServer(srv.onConnection, async (connect) => {
      const socket = connect();
      socket.on('error', () => {});
      socket.setNoDelay(true);
      socket.write(Buffer.concat(encodeRequest(REQUEST)));
      const session = await started(srv.next);
      const heard = new Promise<void>((resolve) => srv.sockets[0]!.once('data', () => resolve()));
      socket.write(encodeChunk(ChunkType.Heartbeat));
      // The server's event loop stalls past the deadline (a long synchronous step,
      // GC, an overloaded machine) with the heartbeat unread in its socket. When
      // the loop runs again, the overdue timer comes before the read.
      const stallUntil = Date.now() + 3 * timeoutMs;
      while (Date.now() < stallUntil) {
        // busy: nothing else runs in this process
      }
      await Promise.race([heard, once(session.signal, 'abort')]);
      // The server decides after the read, in the same turn's check phase; so does this.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(session.signal.aborted, false, String(session.signal.reason));
      assert.equal(await session.exit(0), true);
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
