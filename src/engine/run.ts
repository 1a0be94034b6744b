import type { Graph } from './graph.js';
import type { Task, Waiter } from './task.js';
import type { Key, Run } from './types.js';

/** Runs without a signal of their own share this one, which never aborts. */
const NEVER_ABORTED = new AbortController().signal;

/**
 * A run is a requester with no node of its own: its gets record no edges, and
 * cancelling it withdraws only its own waits, so work shared with other runs
 * goes on.
 */
export class EngineRun implements Run {
  readonly epoch: number;
  readonly signal: AbortSignal;
  /** Waits not yet answered; withdrawn together when the signal aborts. */
  readonly pending = new Set<Waiter>();
  readonly task: Task | undefined = undefined;
  readonly #graph: Graph;

  constructor(graph: Graph, epoch: number, signal: AbortSignal | undefined) {
    this.#graph = graph;
    this.epoch = epoch;
    this.signal = signal ?? NEVER_ABORTED;
    // One listener per run, not per get: a run may have thousands of gets pending.
    if (signal !== undefined && !signal.aborted) {
      signal.addEventListener('abort', () => graph.cancel(this), { once: true });
    }
  }

  get<V>(key: Key<V>): Promise<V> {
    return this.#graph.request(this, key);
  }

  getAll<V>(keys: readonly Key<V>[]): Promise<V[]> {
    return Promise.all(keys.map((k) => this.#graph.request(this, k)));
  }
}
