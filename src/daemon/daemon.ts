import { existsSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import picomatch from 'picomatch';
import type { Logger, RunContext } from '../core/index.js';
import type { FsRules } from '../fs/index.js';
import { createHeapSettler, type HeapSettler } from './heap-settle.js';
import { CONFIG_FILE, daemonDir, processTitle, socketPathFor, type SocketPlace } from './layout.js';
import { readPid, removeMetadata, writeMetadata, type DaemonOptionsRecord } from './metadata.js';
import { daemonStatus } from './process-manager.js';
import { RETIRE_COMMAND, RETIRING } from './retire.js';
import { createDaemonServer, type ControlAnswer, type DaemonServer } from './server.js';
import { QuietCheck, type IdleProof } from './quiet-check.js';
import { startWatcher, type ChangeFeed, type FileWatcher, type WatchBackend } from './watcher.js';

/** What a run served by the daemon gets beyond its RunContext. */
export interface ServeExtras {
  /** The daemon's watcher, for `--loop` (its batches have already invalidated the engines). */
  readonly changes: ChangeFeed;
  /** Aborted when the daemon is about to exit: a `--loop` run should end so its client can move to the next daemon. */
  readonly restarting: AbortSignal;
  /** The Nailgun command the client sent (NATIVE_CLIENT_COMMAND: the native client's request, checked before it is served). */
  readonly command: string;
  /**
   * Asked as the run's answer is complete, before the daemon counts it as
   * ended: the first proof of the file system (QuietCheck.nextProof) taken
   * once no run is in progress, or undefined if another run begins first.
   */
  readonly nextProof: () => Promise<IdleProof | undefined>;
}

export interface DaemonConfig {
  readonly root: string;
  readonly pid: number;
  readonly fingerprint: string;
  readonly options: DaemonOptionsRecord;
  /** The file-system rules of the daemon's options: what the watcher leaves out. */
  readonly rules: FsRules;
  /** `daemon_max_memory_usage`: above it after a run, the daemon exits once its runs are done. */
  readonly maxMemoryBytes: number;
  /** `daemon_idle_timeout`, in ms. */
  readonly idleTimeoutMs: number;
  /** `daemon_invalidation_globs`; `trews.toml` is always added. A change to a match makes the daemon exit. */
  readonly invalidationGlobs: readonly string[];
  readonly logger: Logger;
  readonly logPath: string;
  readonly socketPlace: SocketPlace;
  readonly serve: (ctx: RunContext, extras: ServeExtras) => Promise<number>;
  /** Called for each batch of changes: invalidate the engines serving this root. */
  readonly invalidate: {
    paths(paths: readonly string[]): void;
    /** Only the keys at these paths (quiet-check.ts compared each path's own stamp). */
    exactly(paths: readonly string[]): void;
    all(): void;
  };
  /**
   * The paths the engines serving this root read (Engine.readPaths): stamped
   * while idle so that a run need not wait for the watcher when none changed
   * (quiet-check.ts). Without it every run waits.
   */
  readonly readPaths?: () => Iterable<string>;
  /**
   * Of the read paths whose stamps moved, those the engines would now read
   * otherwise (Engine.pathsReadingOtherwise): the quiet check invalidates
   * only these. Without it, every moved path.
   */
  readonly readsOtherwise?: (paths: ReadonlySet<string>) => Promise<ReadonlySet<string>>;
  /**
   * Keeps what the engines hold for the next daemon (`.trews.d/graph`), once
   * every run has ended. Called after a watcher sync that began at
   * `cutoffMs`: every change made before then has been queued on the engines.
   */
  readonly keepGraphs?: (cutoffMs: number) => Promise<void>;
  readonly memoryUsage?: () => number;
  readonly watchBackend?: WatchBackend;
  /** How often the daemon checks that its metadata is still its own (default 5 s). */
  readonly selfCheckIntervalMs?: number;
}

export interface RunningDaemon {
  readonly socketPath: string;
  /**
   * Stops accepting clients and removes the metadata at once (so the next client
   * starts a fresh daemon, which may serve while this one finishes), ends
   * `--loop` runs, lets other runs finish — for as long as they take, unless
   * `graceMs` is given (SIGTERM), after which they are cancelled. Idempotent.
   */
  shutdown(reason: string, graceMs?: number): Promise<void>;
  /** Resolves once the daemon has shut down. */
  readonly stopped: Promise<void>;
}

/**
 * Starts serving `root`: the watcher first (so nothing read by the first run can
 * change unseen), then the socket, then the metadata that tells clients where
 * it is. Rejects, leaving nothing behind, when another daemon already serves
 * the root or the watch or the socket cannot be set up.
 */
export async function startDaemon(config: DaemonConfig): Promise<RunningDaemon> {
  const d = new Daemon(config);
  await d.start();
  return d;
}

class Daemon implements RunningDaemon {
  readonly #c: DaemonConfig;
  readonly socketPath: string;
  readonly #restarting = new AbortController();
  readonly #isExitTrigger: (rel: string) => boolean;
  #watcher: FileWatcher | undefined;
  #quiet: QuietCheck | undefined;
  #server: DaemonServer | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #heap: HeapSettler;
  #selfCheck: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  #resolveStopped!: () => void;
  readonly stopped: Promise<void>;

  constructor(c: DaemonConfig) {
    this.#c = c;
    this.#heap = createHeapSettler({ logger: c.logger });
    this.socketPath = socketPathFor(c.root, c.socketPlace);
    const globs = [CONFIG_FILE, ...c.invalidationGlobs];
    this.#isExitTrigger = picomatch(globs, { dot: true });
    this.stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
  }

  async start(): Promise<void> {
    const { root, logger, pid } = this.#c;
    const other = daemonStatus(root);
    if (other.state === 'running' && other.metadata.pid !== pid) {
      throw new Error(`another daemon (pid ${other.metadata.pid}) already serves ${root}`);
    }
    prepareSocketDir(this.socketPath, daemonDir(root), this.#c.socketPlace.uid);
    // Whatever is at the path is left over: the launch lock and the check above rule out a live owner.
    rmSync(this.socketPath, { force: true });

    const watcher = await startWatcher({
      root,
      rules: this.#c.rules,
      logger,
      cookies: true,
      pid,
      ...(this.#c.watchBackend ? { backend: this.#c.watchBackend } : {}),
      onFatal: (message) => void this.shutdown(`the file watcher stopped (${message})`),
    });
    this.#watcher = watcher;
    const readPaths = this.#c.readPaths;
    const quiet = new QuietCheck({
      root,
      watcher,
      paths: readPaths ?? (() => []),
      invalidate: (paths) => this.#c.invalidate.exactly(paths),
      ...(this.#c.readsOtherwise !== undefined ? { readsOtherwise: this.#c.readsOtherwise } : {}),
      invalidateAll: () => this.#c.invalidate.all(),
      logger,
      // A change to a `daemon_invalidation_globs` match must reach the daemon before a run, and it is no path a graph read.
      enabled: readPaths !== undefined && this.#c.invalidationGlobs.length === 0,
    });
    this.#quiet = quiet;
    watcher.subscribe((batch) => {
      // A burst that may have overflowed, or a re-subscription's gap, after stamps that can be checked, needs no more (quiet-check.ts).
      if (batch.everything) {
        const covered = batch.overflowBurst !== undefined ? quiet.coversOverflow(batch.overflowBurst) : batch.gapBurst !== undefined && quiet.coversGap(batch.gapBurst);
        if (!covered) this.#c.invalidate.all();
      }
      else if (batch.paths.length > 0) this.#c.invalidate.paths(batch.paths);
      const trigger = batch.changed.find((p) => this.#isExitTrigger(p));
      if (trigger !== undefined) void this.shutdown(`${trigger} changed`);
    });

    const server = createDaemonServer({
      socketPath: this.socketPath,
      logger,
      logPath: this.#c.logPath,
      serve: (ctx, command) => this.#c.serve(ctx, { changes: watcher, restarting: this.#restarting.signal, command, nextProof: () => quiet.nextProof() }),
      beforeRun: async () => {
        await quiet.beforeRun();
      },
      onActivity: (active) => {
        quiet.activity(active);
        this.#onActivity(active);
      },
      control: (command, args) => this.#control(command, args),
    });
    this.#server = server;
    try {
      await server.listen();
    } catch (e) {
      quiet.close();
      await watcher.close();
      throw new Error(`cannot listen on ${this.socketPath}: ${(e as Error).message}`, { cause: e });
    }
    writeMetadata(root, {
      pid,
      socket: this.socketPath,
      fingerprint: this.#c.fingerprint,
      processName: processTitle(root),
      options: this.#c.options,
    });
    this.#armIdle();
    this.#selfCheck = setInterval(() => this.#checkSelf(), this.#c.selfCheckIntervalMs ?? 5000).unref();
    logger.info(`serving ${root} on ${this.socketPath} (fingerprint ${this.#c.fingerprint.slice(0, 12)})`);
  }

  shutdown(reason: string, graceMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.#stopping ??= this.#shutdown(reason, graceMs);
    return this.#stopping;
  }

  async #shutdown(reason: string, graceMs: number): Promise<void> {
    const { logger, root, pid } = this.#c;
    logger.info(`shutting down: ${reason}`);
    clearTimeout(this.#idleTimer);
    clearInterval(this.#selfCheck);
    this.#heap.stop();
    const server = this.#server;
    // First make way for a successor: no new clients here, and no metadata pointing here.
    server?.stopAccepting();
    removeMetadata(root, pid);
    this.#restarting.abort(new Error(reason));
    const bounded = Number.isFinite(graceMs);
    if (server) {
      if (server.activeRuns > 0) logger.info(`waiting for ${server.activeRuns} run(s) to finish${bounded ? ` (for up to ${Math.round(graceMs / 1000)} s)` : ''}`);
      // A connection whose command is still on its way becomes a run too.
      if (!bounded) await server.drained();
      else if (!(await within(server.drained(), graceMs))) {
        logger.warn(`cancelling ${server.activeRuns} run(s) still going after ${Math.round(graceMs / 1000)} s`);
        server.abortAll(new Error(`the daemon is shutting down: ${reason}`));
        if (!(await within(server.drained(), 5000))) server.destroyAll();
      }
    }
    this.#quiet?.close();
    await this.#keepGraphs();
    await this.#watcher?.close();
    logger.info('stopped');
    this.#resolveStopped();
  }

  /** The engines' graphs, for the next daemon: only after a sync, so nothing changed before it is kept as unchanged. */
  async #keepGraphs(): Promise<void> {
    const keep = this.#c.keepGraphs;
    const watcher = this.#watcher;
    if (keep === undefined || watcher === undefined) return;
    const t0 = performance.now();
    const cutoffMs = Date.now();
    try {
      let synced = false;
      const inTime = await within(
        watcher.sync().then((ok) => {
          synced = ok;
        }),
        5000,
      );
      if (!inTime || !synced) {
        this.#c.logger.info('graph: not kept for the next daemon: the watcher did not sync');
        return;
      }
      await keep(cutoffMs);
      this.#c.logger.info(`graph: kept for the next daemon in ${(performance.now() - t0).toFixed(0)} ms (written only if it changed since it was loaded)`);
    } catch (e) {
      this.#c.logger.warn(`graph: not kept for the next daemon: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * `RETIRE_COMMAND`: a client needs a daemon with other options. This one makes
   * way at once (no new clients, no metadata), so the client can start the
   * successor, and finishes the runs it has (never cancels them) before it exits.
   * The answer says how many there are, for the client to tell its user.
   */
  #control(command: string, args: readonly string[]): ControlAnswer | undefined {
    if (command !== RETIRE_COMMAND) return undefined;
    const runs = this.#server?.activeRuns ?? 0;
    void this.shutdown(`a client needs a daemon with other options (${args[0] ?? 'its fingerprint differs'})`);
    return { stdout: `${RETIRING} ${runs}\n`, code: 0 };
  }

  #onActivity(active: number): void {
    if (this.#stopping) return;
    if (active > 0) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
      this.#heap.busy();
      return;
    }
    this.#heap.idle();
    if (this.#c.logger.enabled('debug')) this.#c.logger.debug(memoryLine(process.memoryUsage()));
    const rss = (this.#c.memoryUsage ?? (() => process.memoryUsage().rss))();
    if (rss > this.#c.maxMemoryBytes) {
      void this.shutdown(`memory use ${mib(rss)} MiB is over daemon_max_memory_usage (${mib(this.#c.maxMemoryBytes)} MiB)`);
      return;
    }
    this.#armIdle();
  }

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    const ms = this.#c.idleTimeoutMs;
    const timer = setTimeout(() => {
      // Timers run before I/O in an event-loop turn: after a stall of this
      // process, a client may be waiting in the socket's backlog. Accept it
      // first (setImmediate runs after the poll phase), then decide.
      setImmediate(() => {
        if (this.#idleTimer !== timer || this.#stopping) return;
        const server = this.#server;
        if ((server?.activeRuns ?? 0) > 0) return; // the end of the last run re-arms
        // A client on its way is no idleness; if it never becomes a run, look again later.
        if ((server?.pendingConnections ?? 0) > 0) this.#armIdle();
        else void this.shutdown(`no client for ${Math.round(ms / 1000)} s (daemon_idle_timeout)`);
      });
    }, ms);
    this.#idleTimer = timer;
  }

  /** A daemon whose metadata or socket is gone can no longer be reached; it must not linger. */
  #checkSelf(): void {
    if (this.#stopping) return;
    if (readPid(this.#c.root) !== this.#c.pid) void this.shutdown('its metadata was removed or taken over');
    else if (!existsSync(this.socketPath)) void this.shutdown(`its socket ${this.socketPath} was removed`);
  }
}

/** Creates the socket's directory, private to this user; outside the work dir it must not be someone else's. */
function prepareSocketDir(socketPath: string, workDir: string, uid: number): void {
  const dir = dirname(socketPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (dir === workDir) return;
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new Error(`${dir} must be a directory private to this user (mode 700) to hold the daemon's socket`);
  }
}

async function within(p: Promise<void>, ms: number): Promise<boolean> {
  const ac = new AbortController();
  try {
    return await Promise.race([p.then(() => true), sleep(ms, false, { signal: ac.signal }).catch(() => false)]);
  } finally {
    ac.abort();
  }
}

/**
 * The process's memory after a run, at debug level: RSS against what V8 and
 * Buffers account for (the rest is the native heap and code), to tell
 * growth in our own objects from growth beneath them (bench/README.md).
 */
export function memoryLine(m: NodeJS.MemoryUsage): string {
  const f = (n: number): string => (n / 2 ** 20).toFixed(1);
  return `memory: rss ${f(m.rss)} MiB; JS heap ${f(m.heapUsed)} of ${f(m.heapTotal)} MiB; external ${f(m.external)} MiB, of which array buffers ${f(m.arrayBuffers)} MiB`;
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
