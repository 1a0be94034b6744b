import { PENDING_GENERATION, POISONED_GENERATION, type GraphNode } from './node.js';

/** What a finished evaluation hands to whoever waited for it. */
export interface Outcome {
  readonly ok: boolean;
  readonly value: unknown;
  readonly error: unknown;
  /**
   * False when the result was delivered but not memoized (a plain error, a stale
   * or tainted computation). A computation that consumes such a result must not be
   * memoized either, or it would bake a transient answer into the graph.
   */
  readonly committed: boolean;
  /** The node's generation after the evaluation (meaningful when committed). */
  readonly generation: number;
}

/** Something that waits on evaluations: a run, or another node's evaluation. */
export interface Requester {
  readonly signal: AbortSignal;
  /** Waiters this requester registered that have not settled; released on abort. */
  readonly pending: Set<Waiter>;
  /** The evaluation making the request, or undefined for a run. */
  readonly task: Task | undefined;
}

type ProbeCallback = (outcome: Outcome) => void;
const noop = (): void => {};

/**
 * One request waiting on one evaluation. Waiters are explicit (rather than
 * `promise.then` chains) so that a single requester can withdraw its interest
 * without affecting anyone else, and so the evaluation knows when nobody is left.
 */
export class Waiter {
  readonly target: Task;
  readonly requester: Requester;
  /** Index of the edge in `requester.task.deps`, or -1 for runs and probes. */
  readonly slot: number;
  #resolve: ((v: unknown) => void) | undefined;
  #reject: ((e: unknown) => void) | undefined;
  #promise: Promise<unknown> | undefined;
  readonly #probe: ProbeCallback | undefined;

  private constructor(target: Task, requester: Requester, slot: number, probe: ProbeCallback | undefined) {
    this.target = target;
    this.requester = requester;
    this.slot = slot;
    this.#probe = probe;
  }

  /** A `get`: settles a promise with the value or error. */
  static forGet(target: Task, requester: Requester, slot: number): { waiter: Waiter; promise: Promise<unknown> } {
    const waiter = new Waiter(target, requester, slot, undefined);
    const promise = new Promise<unknown>((resolve, reject) => {
      waiter.#resolve = resolve;
      waiter.#reject = reject;
    });
    waiter.#promise = promise;
    return { waiter, promise };
  }

  /** A re-validation probe: only the generation matters, not the value. */
  static forProbe(target: Task, requester: Task, callback: ProbeCallback): Waiter {
    return new Waiter(target, requester, -1, callback);
  }

  settle(outcome: Outcome): void {
    const probe = this.#probe;
    if (probe !== undefined) {
      // Through the microtask queue, never synchronously: a chain of 50,000
      // re-validations would otherwise recurse 50,000 frames deep.
      queueMicrotask(() => probe(outcome));
      return;
    }
    const from = this.requester.task;
    if (from !== undefined) {
      if (outcome.committed) {
        from.observe(this.slot, outcome.generation);
      } else {
        from.observe(this.slot, POISONED_GENERATION);
        from.tainted = true;
      }
    }
    if (outcome.ok) this.#resolve?.(outcome.value);
    else this.#reject?.(outcome.error);
  }

  /** Withdrawn before the evaluation finished (the requester was cancelled or is done). */
  cancel(error: Error): void {
    if (this.#promise === undefined) return;
    // The requester may have stopped listening (a compute that returned early);
    // an abort must never surface as an unhandled rejection.
    this.#promise.catch(noop);
    this.#reject?.(error);
  }
}

export type TaskStatus = 'running' | 'done' | 'aborted';

/** Above this many dependencies, finding an edge by linear scan gets too slow. */
const INDEX_THRESHOLD = 16;

/**
 * One in-flight evaluation of a node: re-validation, then (if needed) compute().
 * Concurrent requests for the node share it; its AbortController is aborted when
 * the last waiter withdraws. A task that has been replaced or abandoned keeps
 * running to serve its own waiters, but can no longer write to its node.
 */
export class Task implements Requester {
  readonly node: GraphNode;
  /** Position in the topological order of the await graph (see await-graph.ts). */
  ord: number;
  readonly controller = new AbortController();
  /** Requests waiting for this evaluation. */
  readonly waiters = new Set<Waiter>();
  /** Requests this evaluation is waiting for. */
  readonly pending = new Set<Waiter>();
  /** Await-graph edges: tasks this one waits for, with multiplicity. */
  readonly awaiting = new Map<Task, number>();
  status: TaskStatus = 'running';
  /** An invalidation reached the node after this evaluation started: deliver, don't memoize. */
  stale = false;
  /** The evaluation consumed a result that was not memoized: deliver, don't memoize. */
  tainted = false;
  /** Edges recorded by compute(), in order of first request. */
  readonly deps: GraphNode[] = [];
  readonly generations: number[] = [];
  #index: Map<GraphNode, number> | undefined;
  /** Scratch stamp for await-graph searches. */
  mark = 0;

  constructor(node: GraphNode, ord: number) {
    this.node = node;
    this.ord = ord;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get task(): Task {
    return this;
  }

  slotOf(node: GraphNode): number {
    if (this.#index !== undefined) return this.#index.get(node) ?? -1;
    return this.deps.indexOf(node);
  }

  /** Records an edge if new; returns its slot. */
  addDep(node: GraphNode): number {
    const existing = this.slotOf(node);
    if (existing >= 0) return existing;
    const slot = this.deps.length;
    this.deps.push(node);
    this.generations.push(PENDING_GENERATION);
    if (this.#index !== undefined) {
      this.#index.set(node, slot);
    } else if (slot >= INDEX_THRESHOLD) {
      this.#index = new Map(this.deps.map((d, i) => [d, i]));
    }
    return slot;
  }

  hasDep(node: GraphNode): boolean {
    return this.slotOf(node) >= 0;
  }

  /** Seeing two different generations of one dependency means it changed mid-computation. */
  observe(slot: number, generation: number): void {
    const seen = this.generations[slot];
    if (seen === PENDING_GENERATION) this.generations[slot] = generation;
    else if (seen !== generation) this.generations[slot] = POISONED_GENERATION;
  }
}
