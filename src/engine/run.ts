import type { Graph } from './graph.js';
import type { GraphNode } from './node.js';
import { slotValue, type RunScope } from './run-slot.js';
import { NEVER_ABORTED, type Waiter } from './task.js';
import { addWait, liveWaits } from './wait-list.js';
import type { AnyKey, Run, RunInputs, RunOptions, RunSlot } from './types.js';

/**
 * A run is a requester with no node of its own: its gets record no edges, and
 * cancelling it withdraws only its own waits, so work shared with other runs
 * goes on.
 */
export class EngineRun implements Run, RunScope {
  readonly epoch: number;
  readonly signal: AbortSignal;
  readonly inputs: RunInputs | undefined;
  readonly slots: ReadonlyMap<RunSlot<unknown>, unknown>;
  /** Waits not yet answered; withdrawn together when the signal aborts. */
  #pending: Waiter[] | undefined;
  /** Nodes this run asked for itself; `Engine.affects` walks reverse edges up to them. */
  readonly requested = new Set<GraphNode>();
  readonly #graph: Graph;
  /** Waits not yet settled; the abort listener is attached only while there are some. */
  #live = 0;
  readonly #onAbort = (): void => this.#graph.cancel(this);
  readonly #onEnd: ((run: EngineRun) => void) | undefined;
  #ended = false;

  constructor(graph: Graph, epoch: number, options: RunOptions, onEnd?: (run: EngineRun) => void) {
    this.#graph = graph;
    this.epoch = epoch;
    this.signal = options.signal ?? NEVER_ABORTED;
    this.inputs = options.inputs;
    this.slots = new Map((options.slots ?? []).map((s) => [s.slot, s.value]));
    this.#onEnd = onEnd;
  }

  get task(): undefined {
    return undefined;
  }

  get scope(): RunScope {
    return this;
  }

  describeScope(): string {
    return `the run of epoch ${this.epoch}`;
  }

  slot<T>(slot: RunSlot<T>): T {
    return slotValue(this, slot);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd?.(this);
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

  get<V>(key: AnyKey<V>): Promise<V> {
    return this.#graph.request(this, key);
  }

  getAll<V>(keys: readonly AnyKey<V>[]): Promise<V[]> {
    return Promise.all(keys.map((k) => this.#graph.request(this, k)));
  }
}
