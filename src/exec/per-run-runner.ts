import { abortError, digestString } from '../core/index.js';
import { observed } from './observe.js';
import { toAction } from './to-action.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

/**
 * Runs each distinct `per-run` process once per run (ExecContext.runId):
 * later identical requests in the same run share the first one's result,
 * also while it is still running. Other scopes pass straight through (the
 * engine's ProcessKey already deduplicates them, and caches serve them).
 *
 * A shared result is not a process: requests that join one are not reported
 * to the observer, so run summaries count each process once.
 *
 * A request that is cancelled stops waiting; the execution itself is
 * cancelled only when every request waiting for it has been. Failures are
 * not remembered, so a later request tries again.
 *
 * Memory: results are kept for the most recent MAX_RUNS runs. We cannot tell
 * when a run ends; forgetting a run still in progress only costs a re-run.
 */
export function createPerRunRunner(inner: CommandRunner): CommandRunner {
  return new PerRunRunner(inner);
}

const MAX_RUNS = 16;

/** One execution shared by the requests that wait for it. */
class Shared {
  readonly controller = new AbortController();
  waiters = 0;
  promise: Promise<ProcessResult> | undefined;
}

class PerRunRunner implements CommandRunner {
  readonly #inner: CommandRunner;
  /** runId → action digest → shared execution; Map order is recency of use. */
  readonly #runs = new Map<string, Map<string, Shared>>();

  constructor(inner: CommandRunner) {
    this.#inner = inner;
  }

  run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    if (proc.cacheScope !== 'per-run') return this.#inner.run(ctx, proc);
    const key = digestString(toAction(proc).actionDigest);
    const memo = this.#memoFor(ctx.runId);
    let shared = memo.get(key);
    // An execution abandoned by all its waiters is on its way out: start afresh.
    if (shared !== undefined && !shared.controller.signal.aborted) return this.#wait(ctx, shared);

    const fresh = new Shared();
    shared = fresh;
    memo.set(key, fresh);
    const t0 = performance.now();
    // The execution gets its own signal, aborted only when all waiters leave;
    // the first request still owns the observation.
    fresh.promise = observed(ctx, proc, (octx) => this.#inner.run({ ...octx, signal: fresh.controller.signal }, proc)).then(
      (r) => ({ ...r, durationMs: performance.now() - t0 }),
    );
    fresh.promise.catch(() => {
      if (memo.get(key) === fresh) memo.delete(key);
    });
    return this.#wait(ctx, fresh);
  }

  #memoFor(runId: string): Map<string, Shared> {
    let memo = this.#runs.get(runId);
    if (memo !== undefined) {
      this.#runs.delete(runId);
    } else {
      memo = new Map();
      const oldest = this.#runs.keys().next();
      if (this.#runs.size >= MAX_RUNS && oldest.done !== true) this.#runs.delete(oldest.value);
    }
    this.#runs.set(runId, memo);
    return memo;
  }

  #wait(ctx: ExecContext, shared: Shared): Promise<ProcessResult> {
    const promise = shared.promise;
    if (promise === undefined) return Promise.reject(new Error('bug: per-run execution without a promise'));
    if (ctx.signal.aborted) return Promise.reject(abortError());
    shared.waiters++;
    return new Promise<ProcessResult>((resolve, reject) => {
      let done = false;
      const leave = (): void => {
        if (done) return;
        done = true;
        ctx.signal.removeEventListener('abort', onAbort);
        shared.waiters--;
      };
      const onAbort = (): void => {
        leave();
        if (shared.waiters === 0) shared.controller.abort();
        reject(abortError());
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (r) => {
          leave();
          resolve(r);
        },
        (e: unknown) => {
          leave();
          reject(e);
        },
      );
    });
  }
}
