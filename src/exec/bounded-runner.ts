import { FailureError, abortError, failure } from '../core/index.js';
import { observed } from './observe.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

/** A CommandRunner that runs at most `limit` processes of its inner runner at once. */
export interface BoundedRunner extends CommandRunner {
  readonly limit: number;
  /** Runs in progress now. */
  readonly active: number;
  /** Requests waiting for a slot now. */
  readonly queued: number;
}

/**
 * At most `limit` concurrent runs of `inner`, admitted in arrival order
 * (FIFO: no process starves behind later ones). A request cancelled while it
 * waits leaves the queue at once and rejects with an AbortError. The
 * observer's `started` fires when the slot is granted: time spent queueing is
 * not shown as running.
 */
export function createBoundedRunner(inner: CommandRunner, limit: number): BoundedRunner {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new FailureError(failure('internal', 'invalid-parallelism', `the limit of concurrent processes must be a whole number >= 1, got ${limit}`));
  }
  return new Bounded(inner, limit);
}

interface Waiter {
  readonly grant: () => void;
}

class Bounded implements BoundedRunner {
  readonly limit: number;
  readonly #inner: CommandRunner;
  #active = 0;
  /** Waiters in arrival order; a cancelled one is removed, so the head is always live. */
  readonly #queue: Waiter[] = [];

  constructor(inner: CommandRunner, limit: number) {
    this.#inner = inner;
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queue.length;
  }

  run(ctx: ExecContext, process: Process): Promise<ProcessResult> {
    return observed(ctx, process, async (ctx) => {
      const t0 = performance.now();
      await this.#acquire(ctx.signal);
      try {
        ctx.observation?.markStarted();
        const result = await this.#inner.run(ctx, process);
        return { ...result, durationMs: performance.now() - t0 };
      } finally {
        this.#release();
      }
    });
  }

  #acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortError());
    if (this.#active < this.limit && this.#queue.length === 0) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(abortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  #release(): void {
    const next = this.#queue.shift();
    // The slot passes straight to the next waiter, so `active` never dips and
    // a request arriving in between cannot jump the queue.
    if (next !== undefined) next.grant();
    else this.#active--;
  }
}
