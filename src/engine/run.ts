import type { Graph } from './graph.js';
import type { GraphNode } from './node.js';
import { NEVER_ABORTED, type Task, type Waiter } from './task.js';
import { addWait, liveWaits } from './wait-list.js';
import type { Key, Run } from './types.js';

/**
 * A run is a requester with no node of its own: its gets record no edges, and
 * cancelling it withdraws only its own waits, so work shared with other runs
 * goes on.
 */
export class EngineRun implements Run {
  readonly epoch: number;
  readonly signal: AbortSignal;
  /** Waits not yet answered; withdrawn together when the signal aborts. */
  #pending: Waiter[] | undefined;
  readonly task: Task | undefined = undefined;
  /** Nodes this run asked for itself; `Engine.affects` walks reverse edges up to them. */
  readonly requested = new Set<GraphNode>();
  readonly #graph: Graph;
  /** Waits not yet settled; the abort listener is attached only while there are some. */
  #live = 0;
  readonly #onAbort = (): void => this.#graph.cancel(this);

  constructor(graph: Graph, epoch: number, signal: AbortSignal | undefined) {
    this.#graph = graph;
    this.epoch = epoch;
    this.signal = signal ?? NEVER_ABORTED;
  }

  addPending(w: Waiter): void {
    this.#pending = addWait(this.#pending, w);
    // One listener per run, not per get, and only while something is pending: a
    // caller may reuse one long-lived signal for many runs, which must not
    // accumulate listeners (or keep finished runs alive through them).
    if (this.#live++ === 0 && this.signal !== NEVER_ABORTED) {
      this.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  waitEnded(): void {
    if (--this.#live === 0 && this.signal !== NEVER_ABORTED) {
      this.signal.removeEventListener('abort', this.#onAbort);
    }
  }

  livePending(): Waiter[] {
    return liveWaits(this.#pending);
  }

  get<V>(key: Key<V>): Promise<V> {
    return this.#graph.request(this, key);
  }

  getAll<V>(keys: readonly Key<V>[]): Promise<V[]> {
    return Promise.all(keys.map((k) => this.#graph.request(this, k)));
  }
}
