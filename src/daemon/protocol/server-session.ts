import { Socket } from 'node:net';
import { Readable, Writable, type Duplex } from 'node:stream';
import { ChunkWriter } from './chunk-writer.js';
import { type Chunk, ChunkDecoder, ChunkType, encodeChunk } from './codec.js';
import { ConnectionClosedError, ProtocolError } from './errors.js';
import { encodeExit } from './exit-code.js';
import { type NailgunRequest, RequestBuilder } from './preamble.js';

export interface ServerSessionOptions {
  /** Bound on one incoming chunk's payload (default DEFAULT_MAX_PAYLOAD_BYTES). */
  readonly maxPayloadBytes?: number;
  /** Output is cut into chunks of at most this many bytes (default 256 KiB). */
  readonly maxOutputChunkBytes?: number;
  /**
   * How many stdin bytes may wait unread before no more is asked for. Default 0:
   * the next `S` goes out only once the consumer has taken the previous chunk, as
   * the Java server does, so input the command never reads stays with the client.
   */
  readonly stdinHighWaterMark?: number;
  /**
   * Treat the client as gone after this long without any chunk from it. Off by
   * default: a closed socket is noticed without it, and a client that is merely
   * stopped (Ctrl-Z) should not lose its run. Clients heartbeat every 500 ms.
   */
  readonly heartbeatTimeoutMs?: number;
  /** Give up on a client that has not finished its preamble after this long (default: never). */
  readonly preambleTimeoutMs?: number;
  /**
   * Send an empty stderr chunk as soon as the command has arrived, then this
   * often until the exit code, so that a client can tell a live server from one
   * that accepted the connection and hung. Every Nailgun client ignores an empty
   * output chunk (it writes nothing). Off by default.
   */
  readonly keepaliveIntervalMs?: number;
}

/** One client's command, as the daemon serves it. */
export interface ServerSession {
  readonly request: NailgunRequest;
  /**
   * The client's stdin. Input is asked for (an `S` chunk) only when this stream is
   * read, once per chunk received, so an idle consumer never pulls the user's
   * keystrokes. Ends at the client's EOF, and also when the client goes away.
   */
  readonly stdin: Readable;
  /**
   * Output to the client's stdout and stderr. Writes complete at the pace the
   * client reads (backpressure); the two streams reach the client in the order
   * their writes reach the socket. Once the client is gone, or after `exit`,
   * writes are discarded rather than failed: watch `signal` instead.
   */
  readonly stdout: Writable;
  readonly stderr: Writable;
  /**
   * Aborted when the client disconnects (or breaks the protocol, or the session is
   * destroyed) before `exit`; the reason is a ConnectionClosedError or ProtocolError.
   * On a half-open socket (`allowHalfOpen`), a client that closes only its side
   * aborts it too, but output and `exit` still reach that client.
   */
  readonly signal: AbortSignal;
  /**
   * Flushes stdout and stderr, sends the exit code and ends the connection.
   * Resolves true once the code has been handed to the client's connection, false
   * if the client had already gone. Idempotent; later calls return the first result.
   */
  exit(code: number): Promise<boolean>;
  /** Drops the connection without an exit code, e.g. when the daemon shuts down. */
  destroy(reason?: Error): void;
}

export type AcceptResult =
  | { readonly ok: true; readonly session: ServerSession }
  | { readonly ok: false; readonly error: ProtocolError | ConnectionClosedError };

const DEFAULT_MAX_OUTPUT_CHUNK_BYTES = 256 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Reads a client's preamble from `socket` and returns the session that serves it.
 * Never rejects and never throws on anything the client sends: a bad or vanished
 * client yields `{ ok: false }` (its socket already destroyed), or later aborts
 * the session's signal.
 */
export function acceptSession(socket: Duplex, options: ServerSessionOptions = {}): Promise<AcceptResult> {
  return new Promise((resolve) => {
    new ServerConnection(socket, options, resolve);
  });
}

/** `flushing`: exit() was called and earlier output is still going out; `exited`: the exit code was sent. */
type Phase = 'preamble' | 'running' | 'flushing' | 'exited' | 'closed';

class ServerConnection implements ServerSession {
  readonly #socket: Duplex;
  readonly #writer: ChunkWriter;
  readonly #decoder: ChunkDecoder;
  readonly #builder = new RequestBuilder();
  readonly #abort = new AbortController();
  readonly #maxOutputChunk: number;
  readonly #stdinHighWaterMark: number;
  #onAccepted: ((r: AcceptResult) => void) | undefined;
  #phase: Phase = 'preamble';
  #request: NailgunRequest | undefined;
  #stdin: Readable | undefined;
  #stdout: Writable | undefined;
  #stderr: Writable | undefined;
  /** The consumer of stdin wants more than it has. */
  #stdinWanted = false;
  /** An `S` is outstanding: the client may send one stdin chunk (or EOF). */
  #stdinRequested = false;
  #stdinEnded = false;
  #exited: Promise<boolean> | undefined;
  #preambleTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** Something arrived after the heartbeat timer last fired (see the constructor). */
  #heardSinceTimeout = false;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  readonly #keepaliveMs: number;

  constructor(socket: Duplex, options: ServerSessionOptions, onAccepted: (r: AcceptResult) => void) {
    this.#socket = socket;
    this.#onAccepted = onAccepted;
    this.#writer = new ChunkWriter(socket);
    this.#decoder = new ChunkDecoder({ maxPayloadBytes: options.maxPayloadBytes });
    this.#maxOutputChunk = positiveInt(options.maxOutputChunkBytes, DEFAULT_MAX_OUTPUT_CHUNK_BYTES, 'maxOutputChunkBytes');
    this.#stdinHighWaterMark = options.stdinHighWaterMark ?? 0;
    this.#keepaliveMs = options.keepaliveIntervalMs ?? 0;
    // Small chunks (S, the exit code) must not wait out Nagle's algorithm.
    if (socket instanceof Socket) socket.setNoDelay(true);

    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    // Kept for the socket's whole life: a late error must never become an uncaught exception.
    socket.on('error', this.#onError);

    // A socket that is already gone emits no more events; settle now rather than never.
    if (socket.destroyed || socket.readableEnded) {
      this.#teardown(this.#goneError());
      return;
    }
    const preambleMs = options.preambleTimeoutMs ?? 0;
    if (preambleMs > 0) {
      this.#preambleTimer = setTimeout(() => {
        this.#teardown(new ConnectionClosedError('preamble-timeout', `the client sent no command within ${preambleMs} ms`));
      }, preambleMs).unref();
    }
    const heartbeatMs = options.heartbeatTimeoutMs ?? 0;
    if (heartbeatMs > 0) {
      this.#heartbeatTimer = setTimeout(() => {
        // Timers run before I/O in an event-loop turn: after a stall of this
        // process (a long synchronous step, GC, an overloaded machine) the
        // deadline has passed while the client's heartbeat waits unread in the
        // socket. Read what has arrived (setImmediate runs after the poll
        // phase) before calling the client silent.
        this.#heardSinceTimeout = false;
        setImmediate(() => {
          // Heard from, or the timer was cleared meanwhile (exit, cancel, teardown).
          if (this.#heardSinceTimeout || this.#heartbeatTimer === undefined) return;
          this.#teardown(new ConnectionClosedError('heartbeat-timeout', `the client sent nothing, not even a heartbeat, for ${heartbeatMs} ms`));
        });
      }, heartbeatMs).unref();
    }
  }

  get request(): NailgunRequest {
    return this.#started().request;
  }
  get stdin(): Readable {
    return this.#started().stdin;
  }
  get stdout(): Writable {
    return this.#started().stdout;
  }
  get stderr(): Writable {
    return this.#started().stderr;
  }
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  exit(code: number): Promise<boolean> {
    // Validate now, so a bad code is the caller's synchronous error and not a hung client.
    const frame = encodeExit(code);
    this.#exited ??= this.#sendExit(frame);
    return this.#exited;
  }

  destroy(reason?: Error): void {
    this.#teardown(reason ?? new ConnectionClosedError('closed-by-server', 'the server closed the connection'));
  }

  #started(): { request: NailgunRequest; stdin: Readable; stdout: Writable; stderr: Writable } {
    if (!this.#request || !this.#stdin || !this.#stdout || !this.#stderr) throw new Error('the Nailgun session has not started');
    return { request: this.#request, stdin: this.#stdin, stdout: this.#stdout, stderr: this.#stderr };
  }

  async #sendExit(frame: Buffer): Promise<boolean> {
    if (this.#phase !== 'running') return false;
    this.#phase = 'flushing';
    // Everything written before exit() goes out before the exit code.
    await Promise.all([flushed(this.#stdout), flushed(this.#stderr)]);
    if (this.#phase !== 'flushing' || this.#writer.closed) return false;
    this.#phase = 'exited';
    this.#endStdin();
    this.#clearTimers();
    this.#writer.write(frame);
    this.#writer.close();
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end(() => resolve());
    });
    return true;
  }

  readonly #onData = (data: Buffer): void => {
    if (this.#phase === 'closed' || this.#phase === 'exited') return;
    this.#heardSinceTimeout = true;
    // Re-arms the timer even when it has just fired.
    this.#heartbeatTimer?.refresh();
    const decoded = this.#decoder.push(data);
    for (const chunk of decoded.chunks) {
      if (!this.#handle(chunk)) return;
    }
    if (!decoded.ok) this.#teardown(decoded.error);
  };

  /** False when the chunk closed the connection. */
  #handle(chunk: Chunk): boolean {
    if (this.#phase === 'preamble') {
      const step = this.#builder.accept(chunk);
      if (step.status === 'error') {
        this.#teardown(step.error);
        return false;
      }
      if (step.status === 'done') this.#start(step.request);
      return true;
    }
    if (this.#phase !== 'running' && this.#phase !== 'flushing') return false;
    switch (chunk.type) {
      case ChunkType.Stdin:
        if (this.#stdinEnded) {
          this.#teardown(new ProtocolError('unexpected-chunk', 'the client sent stdin (\'0\') after stdin EOF (\'.\')'));
          return false;
        }
        // Accepted even when unrequested: clients that ignore `S` (older Pants ones) exist.
        this.#stdinRequested = false;
        if (chunk.payload.byteLength > 0) this.#stdinWanted = this.#stdin?.push(chunk.payload) ?? false;
        this.#requestStdin();
        return true;
      case ChunkType.StdinEof:
        this.#endStdin();
        return true;
      case ChunkType.Heartbeat:
        return true;
      default:
        this.#teardown(new ProtocolError('unexpected-chunk', `the client sent a '${chunk.type}' chunk after its command`));
        return false;
    }
  }

  #start(request: NailgunRequest): void {
    this.#phase = 'running';
    if (this.#preambleTimer) clearTimeout(this.#preambleTimer);
    this.#request = request;
    this.#stdin = new Readable({
      highWaterMark: this.#stdinHighWaterMark,
      read: () => {
        this.#stdinWanted = true;
        this.#requestStdin();
      },
    });
    this.#stdout = this.#output(ChunkType.Stdout);
    this.#stderr = this.#output(ChunkType.Stderr);
    if (this.#keepaliveMs > 0) {
      const keepalive = (): void => {
        if (this.#phase === 'running') this.#writer.write(encodeChunk(ChunkType.Stderr));
      };
      keepalive();
      this.#keepaliveTimer = setInterval(keepalive, this.#keepaliveMs).unref();
    }
    const resolve = this.#onAccepted;
    this.#onAccepted = undefined;
    resolve?.({ ok: true, session: this });
  }

  #requestStdin(): void {
    if (!this.#stdinWanted || this.#stdinRequested || this.#stdinEnded || this.#phase !== 'running') return;
    this.#stdinRequested = true;
    this.#writer.write(encodeChunk(ChunkType.StartInput));
  }

  #endStdin(): void {
    if (this.#stdinEnded) return;
    this.#stdinEnded = true;
    this.#stdinRequested = false;
    this.#stdin?.push(null);
  }

  #output(type: typeof ChunkType.Stdout | typeof ChunkType.Stderr): Writable {
    const max = this.#maxOutputChunk;
    return new Writable({
      write: (data: Buffer, _encoding, done) => {
        if ((this.#phase !== 'running' && this.#phase !== 'flushing') || data.byteLength === 0) {
          done();
          return;
        }
        for (let at = 0; at < data.byteLength; at += max) {
          const end = Math.min(at + max, data.byteLength);
          this.#writer.write(encodeChunk(type, data.subarray(at, end)), end === data.byteLength ? () => done() : undefined);
        }
      },
    });
  }

  readonly #onEnd = (): void => {
    const truncated = this.#decoder.end();
    if (!truncated.ok) {
      this.#teardown(truncated.error);
      return;
    }
    // A client that closes only its side while the command runs (trews' client on
    // Ctrl-C, as Pants' does) cancels it but still reads the output and the exit
    // code. That needs a half-open socket; on any other the client is simply gone.
    if ((this.#phase === 'running' || this.#phase === 'flushing') && this.#socket.allowHalfOpen && this.#socket.writable) {
      this.#cancelled();
      return;
    }
    this.#teardown(this.#goneError());
  };

  /** The client half-closed: no more input will come, the command is cancelled, output still flows. */
  #cancelled(): void {
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    this.#socket.off('data', this.#onData);
    this.#endStdin();
    this.#abort.abort(new ConnectionClosedError('peer-closed', 'the client closed its side of the connection: the command is cancelled'));
  }

  readonly #onClose = (): void => {
    this.#teardown(this.#goneError());
  };

  readonly #onError = (e: Error): void => {
    this.#teardown(new ConnectionClosedError('socket-error', `the connection to the client failed: ${e.message}`, { cause: e }));
  };

  #goneError(): ConnectionClosedError {
    return this.#phase === 'preamble'
      ? new ConnectionClosedError('peer-closed', 'the client closed the connection before sending its command')
      : new ConnectionClosedError('peer-closed', 'the client closed the connection before its command finished');
  }

  #teardown(reason: ProtocolError | ConnectionClosedError | Error): void {
    const phase = this.#phase;
    if (phase === 'closed') return;
    this.#phase = 'closed';
    this.#clearTimers();
    this.#writer.close();
    this.#socket.off('data', this.#onData);
    this.#socket.destroy();
    if (phase === 'preamble') {
      const resolve = this.#onAccepted;
      this.#onAccepted = undefined;
      const error = reason instanceof ProtocolError || reason instanceof ConnectionClosedError
        ? reason
        : new ConnectionClosedError('closed-by-server', reason.message, { cause: reason });
      resolve?.({ ok: false, error });
      return;
    }
    // After the exit code was sent, the client hanging up is the normal ending.
    if (phase === 'exited') return;
    this.#abort.abort(reason);
    this.#endStdin();
  }

  #clearTimers(): void {
    if (this.#preambleTimer) clearTimeout(this.#preambleTimer);
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    if (this.#keepaliveTimer) clearInterval(this.#keepaliveTimer);
  }
}

/** Resolves once every write made to `stream` so far has been handed on. */
function flushed(stream: Writable | undefined): Promise<void> {
  if (!stream || stream.destroyed) return Promise.resolve();
  if (stream.writableEnded) {
    if (stream.writableFinished) return Promise.resolve();
    return new Promise((resolve) => {
      stream.once('finish', resolve);
      stream.once('close', resolve);
    });
  }
  // Write callbacks run in order, so an empty write's callback means all before it are done.
  return new Promise((resolve) => {
    stream.once('close', resolve);
    stream.write(EMPTY, () => {
      stream.off('close', resolve);
      resolve();
    });
  });
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
