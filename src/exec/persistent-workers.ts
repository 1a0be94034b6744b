import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, constants as osConstants } from 'node:os';
import { abortError, failure, FailureError, type Logger } from '../core/index.js';
import { signalGroup, trackGroup, untrackGroup } from './process-group.js';

/**
 * Persistent workers: long-lived processes that run a tool's requests one
 * after the other (Bazel's persistent workers), so a tool whose start-up
 * dominates (tsc: loading typescript, parsing lib.*.d.ts and @types, a cold
 * JIT) pays it once. A local execution strategy only: the Process's
 * `worker` hint is no part of its action, and a worker's reply must be
 * exactly what the spawned process would have given (the worker program
 * declines whatever it cannot do so; the runner then spawns).
 *
 * One worker process per (interpreter, program, tool), each serving one
 * request at a time; as many as requests run at once (the runner's
 * parallelism bounds that), up to `availableParallelism()` idle ones kept
 * per key. Each leads its own process group (timeouts and cancellation kill
 * the group, as for a spawned process, and the worker is started again for
 * the next request), is tracked like a spawned group (trews' exit hook, the
 * daemon's journal), talks over the node IPC channel (JSON), and exits when
 * that channel closes (trews is gone). Idle workers keep no reference on
 * trews' event loop (a run without the daemon exits at once) and end after
 * `IDLE_MS` without a request (the daemon).
 */

export interface WorkerKey {
  /** The interpreter (node) that runs the program. */
  readonly interpreter: string;
  /** The worker program (absolute). */
  readonly program: string;
  /** The tool it loads (real path): its first argument. */
  readonly tool: string;
}

export interface WorkerRequest {
  /** Absolute working directory of the request. */
  readonly cwd: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Real paths of read-only, content-addressed directories (the shared copies): what the worker may cache across requests. */
  readonly cacheable: readonly string[];
}

export type WorkerOutcome =
  | { readonly kind: 'declined'; readonly reason: string }
  | { readonly kind: 'done'; readonly exitCode: number; readonly timedOut: boolean; readonly stdout: string; readonly stderr: string; readonly note?: string };

/** What a worker program sends back for a request. */
/** `retire`: end the worker after this reply (the program no longer trusts its own state). */
type Reply = ({ readonly declined: string } | { readonly exitCode: number; readonly stdout: string; readonly stderr: string; readonly note?: string } | { readonly failed: string }) & { readonly retire?: true };

const IDLE_MS = 10 * 60_000;
const STDERR_TAIL = 4096;

class Worker {
  readonly child: ChildProcess;
  readonly pgid: number;
  stderrTail = '';
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #onGone: Array<() => void> = [];
  idleTimer: NodeJS.Timeout | undefined;

  constructor(key: WorkerKey) {
    // An empty env: nothing of trews' (NODE_OPTIONS, say) changes how it runs; each request brings its own.
    this.child = spawn(key.interpreter, [key.program, key.tool], { env: {}, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json', detached: true, windowsHide: true });
    if (this.child.pid === undefined) {
      // Reported by 'error' below; a worker without a pid is gone at once.
      this.pgid = -1;
    } else {
      this.pgid = this.child.pid;
      trackGroup(this.pgid);
    }
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-STDERR_TAIL);
    });
    const gone = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (this.exited !== undefined) return;
      this.exited = { code, signal };
      if (this.pgid > 0) {
        signalGroup(this.pgid, 'SIGKILL');
        untrackGroup(this.pgid);
      }
      for (const f of this.#onGone.splice(0)) f();
    };
    this.child.once('exit', gone);
    this.child.once('error', (e) => {
      this.stderrTail += `\n${e.message}`;
      gone(null, null);
    });
  }

  /** Calls `f` once the worker is gone (at once if it is); returns how to stop listening. */
  onGone(f: () => void): () => void {
    if (this.exited !== undefined) {
      f();
      return () => undefined;
    }
    this.#onGone.push(f);
    return () => {
      const at = this.#onGone.indexOf(f);
      if (at >= 0) this.#onGone.splice(at, 1);
    };
  }

  /** Whether it holds trews' event loop open: only while it serves a request. */
  ref(on: boolean): void {
    const c = this.child as ChildProcess & { channel?: { ref(): void; unref(): void } | null };
    for (const h of [c, c.stderr, c.channel] as Array<{ ref(): void; unref(): void } | null | undefined>) {
      if (on) h?.ref();
      else h?.unref();
    }
  }
}

export interface WorkerRun {
  readonly signal: AbortSignal;
  readonly timeoutMs: number | null;
  /** Time between SIGTERM and SIGKILL on a timeout or cancellation. */
  readonly graceMs: number;
  readonly logger: Logger;
  /** For messages: the process's description. */
  readonly description: string;
}

export class PersistentWorkers {
  readonly #idle = new Map<string, Worker[]>();
  readonly #maxIdle: number;

  constructor(maxIdlePerKey = availableParallelism()) {
    this.#maxIdle = maxIdlePerKey;
  }

  /**
   * Runs a request in a worker of `key`. A timeout kills the worker's group
   * and is a result (exit 128 + the signal, as a spawned process killed so);
   * cancellation kills it and rejects with an AbortError once it is gone; a
   * worker that dies otherwise fails the request (environment, not cached).
   */
  async run(key: WorkerKey, req: WorkerRequest, o: WorkerRun): Promise<WorkerOutcome> {
    if (o.signal.aborted) throw abortError();
    const id = JSON.stringify([key.interpreter, key.program, key.tool]);
    const w = this.#take(id) ?? new Worker(key);
    w.ref(true);
    let outcome: WorkerOutcome;
    try {
      outcome = await this.#serve(w, req, o);
    } catch (e) {
      w.ref(false);
      throw e;
    }
    w.ref(false);
    if (w.exited === undefined) this.#putBack(id, w);
    return outcome;
  }

  /** Ends every idle worker (tests; a daemon shutting down). */
  close(): void {
    for (const list of this.#idle.values()) for (const w of list) this.#end(w);
    this.#idle.clear();
  }

  #take(id: string): Worker | undefined {
    const list = this.#idle.get(id);
    while (list !== undefined && list.length > 0) {
      const w = list.pop()!;
      if (w.idleTimer !== undefined) clearTimeout(w.idleTimer);
      if (w.exited === undefined && w.child.connected) return w;
    }
    return undefined;
  }

  #putBack(id: string, w: Worker): void {
    let list = this.#idle.get(id);
    if (list === undefined) this.#idle.set(id, (list = []));
    if (list.length >= this.#maxIdle) {
      this.#end(w);
      return;
    }
    list.push(w);
    w.idleTimer = setTimeout(() => {
      const l = this.#idle.get(id);
      const at = l?.indexOf(w) ?? -1;
      if (at >= 0) l!.splice(at, 1);
      this.#end(w);
    }, IDLE_MS);
    w.idleTimer.unref();
  }

  #end(w: Worker): void {
    if (w.exited !== undefined) return;
    if (w.child.connected) w.child.disconnect();
    // Gone at once rather than when it notices: nothing of it may outlive its use.
    if (w.pgid > 0) signalGroup(w.pgid, 'SIGKILL');
  }

  #serve(w: Worker, req: WorkerRequest, o: WorkerRun): Promise<WorkerOutcome> {
    return new Promise<WorkerOutcome>((resolve, reject) => {
      let timedOut = false;
      let cancelled = false;
      let settled = false;
      let timeoutTimer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      let unlisten = (): void => undefined;
      const cleanup = (): void => {
        settled = true;
        unlisten();
        if (timeoutTimer !== undefined) clearTimeout(timeoutTimer);
        if (graceTimer !== undefined) clearTimeout(graceTimer);
        o.signal.removeEventListener('abort', onAbort);
        w.child.off('message', onMessage);
      };
      const terminate = (): void => {
        if (graceTimer !== undefined || w.pgid <= 0) return;
        signalGroup(w.pgid, 'SIGTERM');
        graceTimer = setTimeout(() => signalGroup(w.pgid, 'SIGKILL'), o.graceMs);
      };
      const onAbort = (): void => {
        cancelled = true;
        terminate();
      };
      const onMessage = (m: Reply): void => {
        if (settled || timedOut || cancelled) return; // a reply racing the kill: the kill decides
        cleanup();
        if (m.retire === true) this.#end(w);
        if ('declined' in m) resolve({ kind: 'declined', reason: m.declined });
        else if ('failed' in m) {
          // The tool threw after writing outputs: nothing exact to report, and the worker may be damaged.
          w.child.kill('SIGKILL');
          reject(workerFailure(o.description, m.failed));
        } else resolve({ kind: 'done', exitCode: m.exitCode, timedOut: false, stdout: m.stdout, stderr: m.stderr, ...(m.note !== undefined ? { note: m.note } : {}) });
      };
      w.child.on('message', onMessage);
      unlisten = w.onGone(() => {
        if (settled) return;
        cleanup();
        if (cancelled) {
          reject(abortError());
          return;
        }
        if (timedOut) {
          const { code, signal } = w.exited!;
          resolve({ kind: 'done', exitCode: code ?? 128 + (signal === null ? 0 : (osConstants.signals[signal] ?? 0)), timedOut: true, stdout: '', stderr: '' });
          return;
        }
        const { code, signal } = w.exited!;
        reject(workerFailure(o.description, `the worker exited (${signal ?? `code ${code}`})${w.stderrTail.trim() === '' ? '' : `: ${w.stderrTail.trim().split('\n').slice(-5).join('\n')}`}`));
      });
      if (settled) return; // it was gone already
      if (o.signal.aborted) onAbort();
      else o.signal.addEventListener('abort', onAbort, { once: true });
      if (o.timeoutMs !== null) {
        timeoutTimer = setTimeout(() => {
          timedOut = true;
          o.logger.debug(`persistent worker: ${o.description} timed out after ${o.timeoutMs} ms; killing the worker's process group`);
          terminate();
        }, o.timeoutMs);
      }
      w.child.send({ cwd: req.cwd, args: req.args, env: req.env, cacheable: req.cacheable }, (e) => {
        if (e !== null && e !== undefined && !settled) w.child.kill('SIGKILL'); // reported by onGone
      });
    });
  }
}

function workerFailure(description: string, why: string): FailureError {
  return new FailureError(
    failure('environment', 'worker-failed', `\`${description}\` did not finish in its persistent worker: ${why}`, {
      hints: ['run it again (trews starts a new worker); if it recurs, turn the worker off (the backend\'s option, such as `[javascript] tsc_worker = false`) and report it'],
    }),
  );
}

let shared: PersistentWorkers | undefined;

/** This trews process's workers. */
export function persistentWorkers(): PersistentWorkers {
  return (shared ??= new PersistentWorkers());
}
