import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { changedDaemonOptions } from '../options/index.js';
import { DaemonUnavailableError } from './errors.js';
import { acquireLaunchLock } from './launch-lock.js';
import { daemonLogPath, processTitle } from './layout.js';
import { isProcessTitled } from './liveness.js';
import { readMetadata, readStartError, removeMetadata, type DaemonMetadata, type DaemonOptionsRecord } from './metadata.js';
import { retireDaemon } from './retire.js';

const POLL_MS = 20;

export type DaemonStatus =
  | { readonly state: 'running'; readonly metadata: DaemonMetadata }
  /** Metadata names a pid that is gone or is not this root's daemon (a crash, a reboot, a recycled pid). */
  | { readonly state: 'stale'; readonly metadata: DaemonMetadata }
  | { readonly state: 'stopped' };

/** Reads the metadata of `root`'s daemon and checks that its pid is alive and titled as that daemon. */
export function daemonStatus(root: string): DaemonStatus {
  const metadata = readMetadata(root);
  if (metadata === undefined) return { state: 'stopped' };
  return isProcessTitled(metadata.pid, processTitle(root)) ? { state: 'running', metadata } : { state: 'stale', metadata };
}

/**
 * Forgets a stale daemon: its metadata and, if it lived in the work dir or a
 * private socket dir, its socket file. Never signals the recorded pid, which may
 * belong to an unrelated process by now.
 */
export function clearStale(root: string, metadata: DaemonMetadata): void {
  if (removeMetadata(root, metadata.pid)) rmSync(metadata.socket, { force: true });
}

export interface StopOptions {
  /** How long to wait after SIGTERM before SIGKILL (default 10 s). */
  readonly graceMs?: number;
}

/**
 * Stops `root`'s daemon if one is running: SIGTERM (it finishes or cancels its
 * runs and cleans up), then SIGKILL after the grace period. Only a pid that still
 * carries the daemon's title is ever signalled.
 */
export async function stopDaemon(root: string, options: StopOptions = {}): Promise<{ stopped: boolean; pid?: number; killed?: boolean }> {
  const status = daemonStatus(root);
  if (status.state === 'stopped') return { stopped: false };
  const { pid } = status.metadata;
  if (status.state === 'stale') {
    clearStale(root, status.metadata);
    return { stopped: false };
  }
  const title = processTitle(root);
  signal(pid, 'SIGTERM');
  let killed = false;
  if (!(await waitUntilGone(pid, title, options.graceMs ?? 10_000))) {
    killed = true;
    signal(pid, 'SIGKILL');
    if (!(await waitUntilGone(pid, title, 5_000))) {
      throw new DaemonUnavailableError('stop-failed', `the daemon (pid ${pid}) did not exit, even after SIGKILL`);
    }
  }
  clearStale(root, status.metadata);
  return { stopped: true, pid, killed };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone in between: that is what we wanted.
  }
}

async function waitUntilGone(pid: number, title: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isProcessTitled(pid, title)) {
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

export interface SpawnSpec {
  /** The Node binary. */
  readonly nodePath: string;
  /** The daemon's entry script (bin/trewsd.cjs). */
  readonly script: string;
  /** The client's command line: the daemon reads its bootstrap options from it, as the client did. */
  readonly args: readonly string[];
  /** The client's environment (TREWS_* options, HOME, XDG_*). */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Node flags trewsd starts with (daemonArgv). A daemon's
 * heap is mostly its graph, long-lived; what a run allocates besides is
 * short-lived, and V8's defaults trade memory for throughput in ways that
 * suit neither: a 16 MiB semi-space (32 MiB of new space), an old generation
 * allowed to grow to several times what is live before a full collection
 * (an N=1000 run left ~200 MiB of garbage), and no collection that gives
 * memory back once the daemon is idle. `--expose-gc` is for heap-settle.ts
 * (the flags are here, not there: the thin client loads this file, and
 * must not load node:v8). `--single-threaded`: V8's background threads
 * (optimizing compiler, concurrent GC) left freed memory in their malloc
 * arenas, which glibc does not give back; over 300 back-to-back edit/run
 * cycles RSS grew 0.09 MiB a cycle with them and 0.05 without, ~20 MiB
 * lower throughout, at the same time per cycle (bench/README.md, sixth stop).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=50', '--expose-gc', '--single-threaded'];

/**
 * Arguments for the daemon's entry. Node can only set a process title as long as
 * the original command line (the title is written over it on Linux), so a padding
 * argument as long as the title guarantees it fits.
 */
export function daemonArgv(root: string, spec: Pick<SpawnSpec, 'script' | 'args'>): string[] {
  const room = Buffer.byteLength(processTitle(root));
  return [...DAEMON_NODE_FLAGS, spec.script, `--root=${root}`, `--title-room=${'.'.repeat(room)}`, '--', ...spec.args];
}

/**
 * Starts the daemon detached: its own session (a terminal's Ctrl-C never reaches
 * it), no stdin, stdout and stderr appended to the daemon log so even a crash
 * before its logger exists is on record.
 */
export function spawnDaemon(root: string, spec: SpawnSpec): { pid: number; exited: Promise<number | string> } {
  // Required here, not imported: most clients find a daemon running and never
  // spawn one, and loading child_process costs every client start-up time.
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const logPath = daemonLogPath(root);
  let fd: number;
  try {
    mkdirSync(dirname(logPath), { recursive: true });
    rotate(logPath);
    fd = openSync(logPath, 'a', 0o600);
  } catch (e) {
    throw new DaemonUnavailableError('work-dir', `cannot open ${logPath}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const child = spawn(spec.nodePath, daemonArgv(root, spec), {
      cwd: root,
      env: spec.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, sig) => resolve(code ?? sig ?? 'unknown'));
      child.once('error', (e) => resolve(e.message));
    });
    child.unref();
    if (child.pid === undefined) throw new DaemonUnavailableError('spawn-failed', `cannot start ${spec.nodePath} ${spec.script}`);
    return { pid: child.pid, exited };
  } finally {
    closeSync(fd);
  }
}

/** Keeps one previous log when the log has grown past 16 MiB; daemons are long-lived and log every run. */
function rotate(logPath: string): void {
  try {
    if (statSync(logPath).size > 16 * 2 ** 20) renameSync(logPath, `${logPath}.1`);
  } catch {
    // No log yet, or it cannot be moved: appending to it is still fine.
  }
}

/** Waits until the daemon `pid` has published its metadata (it does so once it listens and watches). */
export async function waitForStart(root: string, pid: number, exited: Promise<number | string>, timeoutMs: number): Promise<DaemonMetadata> {
  let exit: number | string | undefined;
  void exited.then((e) => (exit = e));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = readMetadata(root);
    if (m !== undefined && m.pid === pid) return m;
    if (exit !== undefined) {
      const why = readStartError(root, pid);
      throw new DaemonUnavailableError(
        'exited-at-start',
        why !== undefined
          ? `the daemon could not start: ${why}`
          : `the daemon exited as it started (${typeof exit === 'number' ? `exit code ${exit}` : exit}); see ${daemonLogPath(root)}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new DaemonUnavailableError('start-timeout', `the daemon (pid ${pid}) did not start within ${Math.round(timeoutMs / 1000)} s; see ${daemonLogPath(root)}`);
    }
    await sleep(POLL_MS);
  }
}

export interface EnsureOptions {
  readonly root: string;
  readonly fingerprint: string;
  readonly options: DaemonOptionsRecord;
  readonly spawn: SpawnSpec;
  /** One-line notices for the user's terminal (the restart reason). */
  readonly notice: (line: string) => void;
  readonly pid: number;
  /** Bound on waiting for another client's start, and on our own start (default 60 s each). */
  readonly timeoutMs?: number;
}

/**
 * Returns the metadata of a daemon for `root` whose fingerprint is ours,
 * starting one if there is none and replacing one whose options differ. The
 * common case, a matching daemon, costs a few small file reads and no lock.
 */
export async function ensureDaemon(o: EnsureOptions): Promise<DaemonMetadata> {
  const first = daemonStatus(o.root);
  if (first.state === 'running' && first.metadata.fingerprint === o.fingerprint) return first.metadata;
  const timeoutMs = o.timeoutMs ?? 60_000;
  const release = await acquireLaunchLock(o.root, { timeoutMs, pid: o.pid });
  try {
    const status = daemonStatus(o.root);
    if (status.state === 'running') {
      if (status.metadata.fingerprint === o.fingerprint) return status.metadata;
      await replaceDaemon(o, status.metadata);
    } else if (status.state === 'stale') {
      clearStale(o.root, status.metadata);
    }
    const { pid, exited } = spawnDaemon(o.root, o.spawn);
    return await waitForStart(o.root, pid, exited, timeoutMs);
  } finally {
    release();
  }
}

/**
 * Makes way for a daemon with our options without cancelling anyone's run: the
 * running daemon is asked to retire, which it does at once for new clients
 * while it finishes the runs it has, and the new daemon serves meanwhile. An
 * idle one is waited for until it has exited. A daemon that does not agree
 * (an older trews) is stopped as before.
 */
async function replaceDaemon(o: EnsureOptions, old: DaemonMetadata): Promise<void> {
  const reason = restartReason(old.options, o.options);
  const inFlight = await retireDaemon(old.socket, reason, o.root);
  if (inFlight === undefined) {
    o.notice(`trews: restarting daemon: ${reason}`);
    await stopDaemon(o.root);
    return;
  }
  if (inFlight > 0) {
    const runs = inFlight === 1 ? '1 run in progress ends' : `${inFlight} runs in progress end`;
    o.notice(`trews: restarting daemon: ${reason}; the old daemon stays until its ${runs}, a new one serves this run`);
    return;
  }
  o.notice(`trews: restarting daemon: ${reason}`);
  const title = processTitle(o.root);
  // It has nothing to finish: it exits as soon as its watcher is closed.
  if (!(await waitUntilGone(old.pid, title, 10_000))) {
    signal(old.pid, 'SIGKILL');
    await waitUntilGone(old.pid, title, 5_000);
  }
}

/** `option --ignore changed`, `options --ignore, --level changed`, or the version change. */
export function restartReason(old: DaemonOptionsRecord | undefined, now: DaemonOptionsRecord): string {
  if (old === undefined) return 'its options are unknown';
  if (old.version !== now.version) return `trews version changed (${old.version} → ${now.version})`;
  const changed = changedDaemonOptions(old.options, now.options);
  if (changed.length === 0) return 'its fingerprint changed';
  return `${changed.length === 1 ? 'option' : 'options'} ${changed.join(', ')} changed`;
}
