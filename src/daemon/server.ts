import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { isAbsolute } from 'node:path';
import type { Logger, RunContext } from '../core/index.js';
import { acceptSession, terminalFromEnv, withoutNailgunEnv, type ServerSession } from './protocol/index.js';

/**
 * Runs one command for a client: `runCommand` from the CLI, injected (daemon/
 * cannot import cli/). `command` is the Nailgun command the client sent: `trews`
 * from the Node client, NATIVE_CLIENT_COMMAND from the native one.
 */
export type ServeFn = (ctx: RunContext, command: string) => Promise<number>;

/** The answer to a command for the daemon itself (see `control`): its stdout and exit code. */
export interface ControlAnswer {
  readonly stdout: string;
  readonly code: number;
}

export interface DaemonServerOptions {
  readonly socketPath: string;
  readonly logger: Logger;
  readonly serve: ServeFn;
  /** Empty stderr chunks while a command runs, so a client can tell a hung daemon (default 2 s). */
  readonly keepaliveIntervalMs?: number;
  /** Drop a connection that has not sent its command after this long (default 10 s). */
  readonly preambleTimeoutMs?: number;
  /** Called before each run starts (after its request arrived): the daemon syncs the watcher here. */
  readonly beforeRun?: () => Promise<void>;
  /** Called as the number of runs in progress changes. */
  readonly onActivity?: (activeRuns: number) => void;
  /** Where a client is told to look when the daemon itself fails. */
  readonly logPath?: string;
  /**
   * Commands addressed to the daemon rather than runs, told apart by the
   * Nailgun command (a run's is `trews`): answered at once, never counted as
   * runs. Undefined for a command that is not one of them, which then runs.
   */
  readonly control?: (command: string, args: readonly string[]) => ControlAnswer | undefined;
}

export interface DaemonServer {
  listen(): Promise<void>;
  /** Stops accepting connections; Node removes the socket file at once. Runs in progress go on. */
  stopAccepting(): void;
  readonly activeRuns: number;
  /** Connections accepted whose command has not arrived yet (a client on its way). */
  readonly pendingConnections: number;
  /**
   * Resolves once no run is in progress, counting connections whose command
   * has not arrived yet (once no longer accepting, those become runs too, or
   * are dropped by the preamble timeout).
   */
  drained(): Promise<void>;
  /** Cancels every run in progress; each client gets its run's cancelled exit. */
  abortAll(reason: Error): void;
  /** Drops every connection at once, without exit codes (the last resort of a shutdown). */
  destroyAll(): void;
}

export function createDaemonServer(options: DaemonServerOptions): DaemonServer {
  return new NailgunDaemonServer(options);
}

class NailgunDaemonServer implements DaemonServer {
  readonly #o: DaemonServerOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #runs = new Map<ServerSession, AbortController>();
  /** Connections whose command has not arrived yet. */
  #pending = 0;
  #drainWaiters: (() => void)[] = [];
  #seq = 0;

  constructor(o: DaemonServerOptions) {
    this.#o = o;
    // Half-open: a client cancels (Ctrl-C) by closing its side and still reads the run's last words and exit code.
    this.#server = createServer({ allowHalfOpen: true }, (socket) => this.#onConnection(socket));
    // A failed accept is one client's problem, never the daemon's.
    this.#server.on('error', (e) => o.logger.error(`socket server error: ${e.message}`));
  }

  get activeRuns(): number {
    return this.#runs.size;
  }

  get pendingConnections(): number {
    return this.#pending;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.#server.once('error', onError);
      this.#server.listen(this.#o.socketPath, () => {
        this.#server.off('error', onError);
        // The umask may leave it writable by others, and whoever can connect runs commands as us.
        try {
          chmodSync(this.#o.socketPath, 0o600);
        } catch (e) {
          this.#o.logger.warn(`cannot restrict ${this.#o.socketPath} to its owner: ${(e as Error).message}`);
        }
        resolve();
      });
    });
  }

  stopAccepting(): void {
    // close() unlinks the socket file at once; its callback would wait for every connection to end.
    if (this.#server.listening) this.#server.close();
  }

  drained(): Promise<void> {
    if (this.#runs.size === 0 && this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #checkDrained(): void {
    if (this.#runs.size > 0 || this.#pending > 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  abortAll(reason: Error): void {
    for (const c of this.#runs.values()) c.abort(reason);
  }

  destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
  }

  #onConnection(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    void this.#serveConnection(socket);
  }

  async #serveConnection(socket: Socket): Promise<void> {
    const { logger } = this.#o;
    // Counted from the connection on, so a shutdown waits for a command on its way (and for a control answer to be out).
    this.#pending++;
    const settle = (): void => {
      this.#pending--;
      this.#checkDrained();
    };
    const accepted = await acceptSession(socket, {
      keepaliveIntervalMs: this.#o.keepaliveIntervalMs ?? 2000,
      preambleTimeoutMs: this.#o.preambleTimeoutMs ?? 10_000,
    });
    if (!accepted.ok) {
      logger.warn(`dropped a client before its command: ${accepted.error.message}`);
      settle();
      return;
    }
    const session = accepted.session;
    const answer = this.#o.control?.(session.request.command, session.request.args);
    if (answer !== undefined) {
      session.stdout.write(answer.stdout);
      await session.exit(answer.code);
      settle();
      return;
    }
    const id = ++this.#seq;
    const controller = new AbortController();
    this.#runs.set(session, controller);
    this.#pending--;
    this.#o.onActivity?.(this.#runs.size);
    const t0 = performance.now();
    let code: number;
    try {
      code = await this.#run(session, controller.signal, id);
    } catch (e) {
      // runCommand never throws; this is a bug in the daemon's own wiring.
      logger.error(`run #${id} failed inside the daemon: ${(e as Error).stack ?? String(e)}`);
      session.stderr.write(`trews: internal error in the daemon${this.#o.logPath ? `; see ${this.#o.logPath}` : ''}\n`);
      code = 1;
    } finally {
      this.#runs.delete(session);
    }
    // On record before the client has its exit code: a client (or a test) that
    // reads the log after its run must find the run's end there.
    logger.info(`run #${id} ended: exit ${code} in ${Math.round(performance.now() - t0)} ms`);
    const delivered = await session.exit(code);
    if (!delivered) logger.info(`run #${id}: the client was gone before its exit code`);
    this.#o.onActivity?.(this.#runs.size);
    this.#checkDrained();
  }

  async #run(session: ServerSession, daemonSignal: AbortSignal, id: number): Promise<number> {
    const request = session.request;
    if (!isAbsolute(request.cwd)) {
      session.stderr.write(`trews: the working directory must be an absolute path, got ${JSON.stringify(request.cwd)}\n`);
      return 2;
    }
    const terminal = terminalFromEnv(request.env);
    const ctx: RunContext = {
      argv: request.args,
      env: withoutNailgunEnv(request.env),
      cwd: request.cwd,
      stdin: session.stdin,
      stdout: session.stdout,
      stderr: session.stderr,
      isTTY: terminal.isTTY,
      terminalWidth: terminal.columns ?? 80,
      terminalHeight: terminal.lines ?? 24,
      // The client leaving (Ctrl-C closes the connection) or the daemon shutting down cancels the run.
      signal: AbortSignal.any([session.signal, daemonSignal]),
    };
    this.#o.logger.debug(`run #${id}: ${request.command} ${request.args.join(' ')} (cwd ${request.cwd})`);
    await this.#o.beforeRun?.();
    return this.#o.serve(ctx, request.command);
  }
}
