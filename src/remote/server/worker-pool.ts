import { abortError } from '../../core/index.js';

interface Waiting {
  readonly priority: number;
  readonly seq: number;
  readonly signal: AbortSignal;
  readonly start: (worker: number) => void;
  readonly cancel: () => void;
}

/**
 * `size` workers and a queue in front of them: a job runs as soon as a
 * worker is free, lower ExecutionPolicy.priority first (REAPI: lower runs
 * sooner; 0 is the default), then in arrival order. A job whose signal
 * aborts while it waits leaves the queue at once.
 */
export class WorkerPool {
  readonly size: number;
  readonly #free: number[];
  #queue: Waiting[] = [];
  #seq = 0;

  constructor(size: number) {
    this.size = size;
    this.#free = Array.from({ length: size }, (_, i) => size - i); // pop() hands out worker 1 first
  }

  get running(): number {
    return this.size - this.#free.length;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Runs `job` on a free worker (numbered from 1), after waiting for one if
   * needed. Rejects with an AbortError if `signal` aborts before it starts;
   * once started, the job itself must honour the signal.
   */
  run<T>(priority: number, signal: AbortSignal, job: (worker: number) => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(abortError());
    return new Promise<T>((resolve, reject) => {
      const start = (worker: number): void => {
        signal.removeEventListener('abort', onAbort);
        job(worker)
          .then(resolve, reject)
          .finally(() => this.#release(worker));
      };
      const entry: Waiting = { priority, seq: this.#seq++, signal, start, cancel: () => reject(abortError()) };
      const onAbort = (): void => {
        const i = this.#queue.indexOf(entry);
        if (i < 0) return;
        this.#queue.splice(i, 1);
        entry.cancel();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const worker = this.#free.pop();
      if (worker !== undefined) {
        start(worker);
        return;
      }
      // Sorted insert: queues are short (they hold what exceeds the workers).
      let at = this.#queue.length;
      while (at > 0 && compare(this.#queue[at - 1]!, entry) > 0) at--;
      this.#queue.splice(at, 0, entry);
    });
  }

  #release(worker: number): void {
    const next = this.#queue.shift();
    if (next === undefined) this.#free.push(worker);
    else next.start(worker);
  }
}

function compare(a: Waiting, b: Waiting): number {
  return a.priority - b.priority || a.seq - b.seq;
}
