import { createConnection, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { DaemonLostError, DaemonUnavailableError } from './errors.js';
import { runClientSession, type NailgunRequest } from './protocol/index.js';

export interface ConnectOptions {
  /** Connection attempts before giving up (default 3), with a short back-off between them. */
  readonly attempts?: number;
  /** Bound on one attempt (default 2 s). */
  readonly timeoutMs?: number;
}

/** Connects to a daemon's Unix socket; rejects with DaemonUnavailableError when it cannot. */
export async function connectToDaemon(socketPath: string, options: ConnectOptions = {}): Promise<Socket> {
  const attempts = options.attempts ?? 3;
  let last: Error | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await connectOnce(socketPath, options.timeoutMs ?? 2000);
    } catch (e) {
      last = e as Error;
      if (attempt < attempts) await sleep(25 * 2 ** attempt);
    }
  }
  throw new DaemonUnavailableError('connect-failed', `cannot connect to ${socketPath}: ${last?.message ?? 'unknown error'}`, { cause: last });
}

function connectOnce(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (e: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    socket.once('error', onError);
  });
}

export interface DaemonRunOptions {
  readonly request: NailgunRequest;
  readonly stdin: Readable | null;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Aborting it drops the connection at once (the daemon cancels the run); rejects with its reason. */
  readonly signal?: AbortSignal;
  /**
   * Aborting it (the user's first Ctrl-C) cancels the run but waits for it: the
   * daemon stops what the run started, and its output and exit code still arrive.
   */
  readonly cancel?: AbortSignal;
  /**
   * How long to wait for the daemon's first chunk (its keepalive, sent the moment
   * the command arrives) before deciding it is stuck (default 30 s).
   */
  readonly answerTimeoutMs?: number;
  /** After the first chunk: silence longer than this means the daemon hung (default 10 min; keepalives come every 2 s). */
  readonly silenceTimeoutMs?: number;
}

/**
 * Sends `request` over a connected socket and streams the run; resolves with its
 * exit code. Rejects with DaemonUnavailableError when the daemon never answered
 * (the command did not start, so it may be run elsewhere), DaemonLostError when
 * it went away or fell silent mid-run, or the signal's reason.
 */
export async function runOnDaemon(socket: Socket, o: DaemonRunOptions): Promise<number> {
  const watchdog = new AbortController();
  let answered = false;
  const answerMs = o.answerTimeoutMs ?? 30_000;
  const silenceMs = o.silenceTimeoutMs ?? 600_000;
  const expire = (): void => {
    watchdog.abort(
      answered
        ? new DaemonLostError(`the daemon sent nothing for ${Math.round(silenceMs / 1000)} s, not even a keepalive`)
        : new DaemonUnavailableError('no-answer', `the daemon accepted the connection but did not answer within ${Math.round(answerMs / 1000)} s`),
    );
  };
  let timer = setTimeout(expire, answerMs);
  const onData = (): void => {
    if (answered) {
      timer.refresh();
      return;
    }
    answered = true;
    clearTimeout(timer);
    timer = setTimeout(expire, silenceMs);
  };
  socket.on('data', onData);
  const signal = o.signal ? AbortSignal.any([o.signal, watchdog.signal]) : watchdog.signal;
  try {
    return await runClientSession(socket, o.request, {
      stdin: o.stdin,
      stdout: o.stdout,
      stderr: o.stderr,
      signal,
      ...(o.cancel ? { cancel: o.cancel } : {}),
    });
  } catch (e) {
    if (o.signal?.aborted) throw o.signal.reason;
    if (watchdog.signal.aborted) throw watchdog.signal.reason;
    const why = (e as Error).message;
    if (!answered) throw new DaemonUnavailableError('no-answer', why, { cause: e });
    throw new DaemonLostError(why, { cause: e });
  } finally {
    clearTimeout(timer);
    socket.off('data', onData);
  }
}
