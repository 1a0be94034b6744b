import { Socket } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import { ChunkWriter } from './chunk-writer.js';
import { type Chunk, ChunkDecoder, ChunkType, encodeChunk } from './codec.js';
import { ConnectionClosedError, ProtocolError } from './errors.js';
import { decodeExitCode } from './exit-code.js';
import { type NailgunRequest, encodeRequest } from './preamble.js';

export interface ClientSessionOptions {
  /** Forwarded one chunk per `S` the server sends; absent or null: EOF at the first `S`. */
  readonly stdin?: Readable | null;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /**
   * Send a heartbeat this often (default 500 ms, as the C client does; the Java
   * server expects one a second and gives up after ten). 0 turns them off.
   */
  readonly heartbeatIntervalMs?: number;
  /** Bound on one incoming chunk's payload (default DEFAULT_MAX_PAYLOAD_BYTES). */
  readonly maxPayloadBytes?: number;
  /** Stdin is cut into chunks of at most this many bytes (default 64 KiB). */
  readonly maxStdinChunkBytes?: number;
  /** Aborting it drops the connection, which the server sees as the client leaving; the session rejects with the reason. */
  readonly signal?: AbortSignal;
  /**
   * Aborting it cancels the command but keeps listening: the client stops its
   * heartbeats and stdin and closes its side of the connection, then goes on
   * reading the output and the exit code (a server on a half-open socket, like
   * trews' daemon, finishes the command's cancellation and reports it). A server
   * that instead drops the connection makes the session reject as usual.
   */
  readonly cancel?: AbortSignal;
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 500;
const DEFAULT_MAX_STDIN_CHUNK_BYTES = 64 * 1024;

/**
 * Runs `request` over a connected `socket`: sends the preamble, streams output to
 * `stdout`/`stderr` (pausing the socket while they are backed up), answers each
 * `S` with one chunk of stdin, and resolves with the exit code once the output
 * before it has been written. Rejects with a ConnectionClosedError if the
 * connection ends without an exit code, or a ProtocolError if the server sends
 * something malformed; the socket is destroyed either way.
 */
export function runClientSession(socket: Duplex, request: NailgunRequest, options: ClientSessionOptions): Promise<number> {
  // Encode before touching the socket, so a bad request is a synchronous throw.
  const preamble = Buffer.concat(encodeRequest(request));
  return new Promise<number>((resolve, reject) => {
    new ClientConnection(socket, preamble, options, resolve, reject);
  });
}

class ClientConnection {
  readonly #socket: Duplex;
  readonly #writer: ChunkWriter;
  readonly #decoder: ChunkDecoder;
  readonly #options: ClientSessionOptions;
  readonly #maxStdinChunk: number;
  readonly #resolve: (code: number) => void;
  readonly #reject: (e: unknown) => void;
  #done = false;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Output writes not yet called back; the exit code waits for them. */
  #pendingWrites = 0;
  #onWritesDone: (() => void) | undefined;
  /** Output streams currently over their high-water mark; the socket is paused while any is. */
  #blocked = new Set<Writable>();
  #stdinRequested = false;
  #stdinListening = false;
  #stdinEnded = false;
  #eofSent = false;
  #stdinLeftover: Buffer | undefined;
  /** `cancel` fired: our side is closed, the output and exit code are still read. */
  #halfClosed = false;

  constructor(
    socket: Duplex,
    preamble: Buffer,
    options: ClientSessionOptions,
    resolve: (code: number) => void,
    reject: (e: unknown) => void,
  ) {
    this.#socket = socket;
    this.#options = options;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#writer = new ChunkWriter(socket);
    this.#decoder = new ChunkDecoder({ maxPayloadBytes: options.maxPayloadBytes });
    this.#maxStdinChunk = options.maxStdinChunkBytes ?? DEFAULT_MAX_STDIN_CHUNK_BYTES;
    if (!Number.isSafeInteger(this.#maxStdinChunk) || this.#maxStdinChunk <= 0) {
      throw new RangeError(`maxStdinChunkBytes must be a positive integer, got ${this.#maxStdinChunk}`);
    }
    const interval = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval < 0) throw new RangeError(`heartbeatIntervalMs must be >= 0, got ${interval}`);

    const signal = options.signal;
    if (signal?.aborted) {
      this.#fail(signal.reason ?? abortedError());
      return;
    }
    // A socket that is already gone emits no more events; settle now rather than never.
    if (socket.destroyed || socket.readableEnded) {
      this.#fail(closedWithoutExit());
      return;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    options.cancel?.addEventListener('abort', this.#onCancel, { once: true });
    if (socket instanceof Socket) socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    // Kept for the socket's whole life: a late error must never become an uncaught exception.
    socket.on('error', this.#onError);

    this.#writer.write(preamble);
    if (options.cancel?.aborted) {
      this.#onCancel();
      return;
    }
    if (interval > 0) {
      // Unref'd: heartbeats alone must never keep a finished client alive.
      this.#heartbeat = setInterval(() => this.#writer.write(encodeChunk(ChunkType.Heartbeat)), interval).unref();
    }
  }

  readonly #onData = (data: Buffer): void => {
    if (this.#done) return;
    const decoded = this.#decoder.push(data);
    for (const chunk of decoded.chunks) {
      this.#handle(chunk);
      if (this.#done) return;
    }
    if (!decoded.ok) this.#fail(decoded.error);
  };

  #handle(chunk: Chunk): void {
    switch (chunk.type) {
      case ChunkType.Stdout:
        this.#output(this.#options.stdout, chunk.payload);
        return;
      case ChunkType.Stderr:
        this.#output(this.#options.stderr, chunk.payload);
        return;
      case ChunkType.StartInput:
        this.#stdinRequested = true;
        this.#pumpStdin();
        return;
      case ChunkType.Exit: {
        const exit = decodeExitCode(chunk.payload);
        if (!exit.ok) this.#fail(exit.error);
        else this.#finish(exit.code);
        return;
      }
      default:
        this.#fail(new ProtocolError('unexpected-chunk', `the server sent a '${chunk.type}' chunk, which only a client may send`));
    }
  }

  #output(stream: Writable, payload: Buffer): void {
    if (payload.byteLength === 0) return;
    this.#pendingWrites++;
    const roomLeft = stream.write(payload, () => {
      this.#pendingWrites--;
      if (this.#pendingWrites === 0) this.#onWritesDone?.();
    });
    if (!roomLeft && !this.#blocked.has(stream)) {
      // Stop reading from the daemon until the terminal (or pipe) catches up; TCP
      // carries the backpressure to the server's writes.
      this.#blocked.add(stream);
      this.#socket.pause();
      const unblock = (): void => {
        stream.off('drain', unblock);
        stream.off('close', unblock);
        this.#blocked.delete(stream);
        if (this.#blocked.size === 0 && !this.#done) this.#socket.resume();
      };
      stream.on('drain', unblock);
      stream.on('close', unblock);
    }
  }

  /** Answers an outstanding `S` with one chunk of stdin, or EOF, as soon as there is one. */
  readonly #pumpStdin = (): void => {
    if (this.#done || !this.#stdinRequested) return;
    if (this.#eofSent) {
      // EOF was said once and the server knows; later requests get nothing.
      this.#stdinRequested = false;
      return;
    }
    const stdin = this.#options.stdin;
    let data = this.#stdinLeftover;
    this.#stdinLeftover = undefined;
    if (data === undefined && stdin && !this.#stdinEnded) {
      this.#listenToStdin(stdin);
      data = asBuffer(stdin.read());
      // 'end' has already gone by (or never will) for a stream that ended or died before we listened.
      if (data === undefined && (stdin.readableEnded || stdin.destroyed)) this.#stdinEnded = true;
    }
    if (data !== undefined && data.byteLength > 0) {
      if (data.byteLength > this.#maxStdinChunk) {
        this.#stdinLeftover = data.subarray(this.#maxStdinChunk);
        data = data.subarray(0, this.#maxStdinChunk);
      }
      this.#stdinRequested = false;
      this.#writer.write(encodeChunk(ChunkType.Stdin, data));
      return;
    }
    if (!stdin || this.#stdinEnded) {
      this.#stdinRequested = false;
      this.#stopStdin();
      this.#writer.write(encodeChunk(ChunkType.StdinEof));
      this.#eofSent = true;
    }
    // Otherwise nothing is buffered yet: 'readable' or 'end' will call back.
  };

  /** Stdin is only touched once the server asks for it, so an unread terminal stays untouched. */
  #listenToStdin(stdin: Readable): void {
    if (this.#stdinListening) return;
    this.#stdinListening = true;
    stdin.on('readable', this.#pumpStdin);
    stdin.on('end', this.#onStdinEnd);
    // A failing stdin can send nothing more; the server gets EOF rather than waiting forever.
    stdin.on('error', this.#onStdinEnd);
  }

  readonly #onStdinEnd = (): void => {
    this.#stdinEnded = true;
    this.#pumpStdin();
  };

  #stopStdin(): void {
    const stdin = this.#options.stdin;
    if (!stdin || !this.#stdinListening) return;
    this.#stdinListening = false;
    stdin.off('readable', this.#pumpStdin);
    stdin.off('end', this.#onStdinEnd);
    stdin.off('error', this.#onStdinEnd);
  }

  #finish(code: number): void {
    this.#settle();
    const complete = (): void => {
      this.#onWritesDone = undefined;
      this.#socket.end();
      this.#resolve(code);
    };
    if (this.#pendingWrites === 0) complete();
    else this.#onWritesDone = complete;
  }

  #fail(error: unknown): void {
    if (this.#done) return;
    this.#settle();
    this.#socket.destroy();
    this.#reject(error);
  }

  /** Stops everything that could act on the connection; the caller decides how it ends. */
  #settle(): void {
    this.#done = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#stopStdin();
    this.#writer.close();
    this.#socket.off('data', this.#onData);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#options.cancel?.removeEventListener('abort', this.#onCancel);
  }

  readonly #onEnd = (): void => {
    const truncated = this.#decoder.end();
    this.#fail(truncated.ok ? closedWithoutExit() : truncated.error);
  };

  readonly #onClose = (): void => {
    this.#fail(closedWithoutExit());
  };

  readonly #onError = (e: Error): void => {
    this.#fail(new ConnectionClosedError('socket-error', `the connection to the Nailgun server failed: ${e.message}`, { cause: e }));
  };

  readonly #onCancel = (): void => {
    if (this.#done || this.#halfClosed) return;
    this.#halfClosed = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#stopStdin();
    this.#stdinRequested = false;
    this.#eofSent = true;
    // What was written goes out before the FIN; nothing is written after it.
    this.#writer.close();
    this.#socket.end();
  };

  readonly #onAbort = (): void => {
    this.#fail(this.#options.signal?.reason ?? abortedError());
  };
}

function closedWithoutExit(): ConnectionClosedError {
  return new ConnectionClosedError('peer-closed', 'the Nailgun server closed the connection without sending an exit code');
}

function abortedError(): ConnectionClosedError {
  return new ConnectionClosedError('aborted', 'the Nailgun session was cancelled');
}

function asBuffer(read: unknown): Buffer | undefined {
  if (read === null || read === undefined) return undefined;
  if (Buffer.isBuffer(read)) return read;
  if (typeof read === 'string') return Buffer.from(read, 'utf8');
  if (read instanceof Uint8Array) return Buffer.from(read.buffer, read.byteOffset, read.byteLength);
  // An object-mode stream has no bytes to give; treat its items as text.
  return Buffer.from(String(read), 'utf8');
}
