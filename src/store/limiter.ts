import { abortError } from '../core/index.js';

/**
 * A counting semaphore. Only leaf operations (one readdir, one file copy, one
 * blob read) hold a slot, never a task that waits for others: recursive
 * walks can then share one limiter without deadlocking.
 */
export class Limiter {
  readonly #limit: number;
  readonly #waiting: Array<() => void> = [];
  #active = 0;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    // A slot handed over by release() is already counted as ours.
    try {
      if (signal?.aborted) throw abortError();
      return await fn();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#active--;
  }
}
