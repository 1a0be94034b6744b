import { PENDING_GENERATION, POISONED_GENERATION, type GraphNode } from './node.js';
import type { RunScope } from './run-slot.js';
import { addWait, liveWaits } from './wait-list.js';

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
  /** The evaluation making the request, or undefined for a run. */
  readonly task: Task | undefined;
  /** Remembers a wait so that it can be withdrawn if the requester goes away. */
  addPending(w: Waiter): void;
  /** One of this requester's waits was settled or withdrawn (called for runs' waits only). */
  waitEnded(): void;
  /** The waits not yet settled (a copy). */
  livePending(): Waiter[];
  /** A run's own requests (not a computation's), recorded so `Engine.affects` can walk to them. */
  readonly requested?: Set<GraphNode>;
  /** The run on whose behalf the request is made: a run itself, or the run that started the computation. */
  readonly scope: RunScope;
}

type ProbeCallback = (outcome: Outcome) => void;
const noop = (): void => {};
/** Shared by computations that declared they ignore their signal, and by runs without one. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

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
  /** Settled or withdrawn: lists drop such waiters lazily instead of searching for them. */
  done = false;
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

  /**
   * A computation's `get`. It needs no promise of its own: the task's shared
   * promise carries the value, the waiter only records the observed generation.
   */
  static forTask(target: Task, requester: Task, slot: number): Waiter {
    return new Waiter(target, requester, slot, undefined);
  }

  /** A run's `get`: its own promise, so cancelling the run can reject it alone, at once. */
  static forRun(target: Task, requester: Requester): { waiter: Waiter; promise: Promise<unknown> } {
    const waiter = new Waiter(target, requester, -1, undefined);
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
    this.done = true;
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
      return;
    }
    this.requester.waitEnded();
    if (outcome.ok) this.#resolve!(outcome.value);
    else this.#reject!(outcome.error);
  }

  /** Withdrawn before the evaluation finished (the requester was cancelled or is done). */
  cancel(error: Error): void {
    this.done = true;
    if (this.#promise === undefined) return;
    this.requester.waitEnded();
    // The requester may have stopped listening (a compute that returned early);
    // an abort must never surface as an unhandled rejection.
    this.#promise.catch(noop);
    this.#reject!(error);
  }
}

export type TaskStatus = 'running' | 'done' | 'aborted';

/** Above this many dependencies, finding an edge by linear scan gets too slow. */
const INDEX_THRESHOLD = 16;
/** Edge lists up to this length are kept at their exact size. */
export const EXACT_UP_TO = 8;
const NO_NODES: readonly GraphNode[] = [];
const NO_GENERATIONS: readonly number[] = [];

/**
 * One in-flight evaluation of a node: re-validation, then (if needed) compute().
 * Concurrent requests for the node share it; its AbortController is aborted when
 * the last waiter withdraws. A task that has been replaced or abandoned keeps
 * running to serve its own waiters, but can no longer write to its node.
 *
 * A cold run has nearly the whole graph in flight at once (demand flows top-down
 * before any leaf answers), so everything here is allocated lazily.
 */
export class Task implements Requester {
  readonly node: GraphNode;
  /** Position in the topological order of the await graph (see await-graph.ts). */
  ord: number;
  /** Requests waiting for this evaluation: usually one, so the first has a field of its own. */
  #firstWaiter: Waiter | undefined;
  #moreWaiters: Waiter[] | undefined;
  /** How many waiters are not done; at zero the evaluation is abandoned. */
  liveWaiters = 0;
  /** Waits of this evaluation on others (await-graph edges out of it). */
  #pending: Waiter[] | undefined;
  #controller: AbortController | undefined;
  #promise: Promise<unknown> | undefined;
  #resolve: ((v: unknown) => void) | undefined;
  #reject: ((e: unknown) => void) | undefined;
  status: TaskStatus = 'running';
  /** An invalidation reached the node after this evaluation started: deliver, don't memoize. */
  stale = false;
  /** The evaluation consumed a result that was not memoized: deliver, don't memoize. */
  tainted = false;
  /** Edges recorded by compute(), in order of first request. */
  deps: GraphNode[] = NO_NODES as GraphNode[];
  generations: number[] = NO_GENERATIONS as number[];
  #index: Map<GraphNode, number> | undefined;
  /** Scratch stamp for await-graph searches. */
  mark = 0;
  /**
   * The run that started this evaluation (directly, or through the computation
   * that asked first): its slots serve `ctx.slot`, its inputs new input nodes.
   */
  readonly scope: RunScope;

  constructor(node: GraphNode, ord: number, scope: RunScope) {
    this.node = node;
    this.ord = ord;
    this.scope = scope;
  }

  /**
   * Created on first use: re-validation never needs one, only compute() does,
   * and not even compute() for keys that declare `ignoresSignal` or whose
   * compute() takes no `signal` parameter (it has no other way to see one).
   */
  get signal(): AbortSignal {
    const key = this.node.key as { ignoresSignal?: boolean; compute: { length: number } };
    if (this.node.input !== undefined || key.ignoresSignal === true || key.compute.length < 2) return NEVER_ABORTED;
    return (this.#controller ??= new AbortController()).signal;
  }

  /** Aborts compute()'s signal, if compute() ever received one, and fails the shared promise. */
  abort(reason: Error): void {
    this.#reject?.(reason);
    this.#controller?.abort(reason);
  }

  /**
   * The promise every computation waiting on this task receives. Made on first
   * use and marked handled: an abandoned requester may never await it.
   */
  get promise(): Promise<unknown> {
    if (this.#promise === undefined) {
      this.#promise = new Promise<unknown>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
      this.#promise.catch(noop);
    }
    return this.#promise;
  }

  addPending(w: Waiter): void {
    this.#pending = addWait(this.#pending, w);
  }

  livePending(): Waiter[] {
    return liveWaits(this.#pending);
  }

  waitEnded(): void {}

  /** Tasks this one currently waits for: the await-graph edges out of it. */
  awaited(): Task[] {
    return this.livePending().map((w) => w.target);
  }

  /** Tasks currently waiting for this one: the await-graph edges into it. */
  awaitedBy(): Task[] {
    const out: Task[] = [];
    this.#forEachWaiter((w) => {
      const t = w.requester.task;
      if (t !== undefined) out.push(t);
    });
    return out;
  }

  get task(): Task {
    return this;
  }

  addWaiter(w: Waiter): void {
    if (this.#firstWaiter === undefined) this.#firstWaiter = w;
    else this.#moreWaiters = addWait(this.#moreWaiters, w);
    this.liveWaiters++;
  }

  /** Hands `outcome` to every live waiter, then settles the shared promise. */
  deliver(outcome: Outcome): void {
    this.#forEachWaiter((w) => w.settle(outcome));
    this.#firstWaiter = undefined;
    this.#moreWaiters = undefined;
    this.liveWaiters = 0;
    if (outcome.ok) this.#resolve?.(outcome.value);
    else this.#reject?.(outcome.error);
  }

  #forEachWaiter(f: (w: Waiter) => void): void {
    const first = this.#firstWaiter;
    if (first !== undefined && !first.done) f(first);
    const more = this.#moreWaiters;
    if (more !== undefined) for (const w of more) if (!w.done) f(w);
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
    if (slot < EXACT_UP_TO) {
      // Exact-size copies while small: push would give every in-flight task two
      // 17-slot backing stores, and a cold run has the whole graph in flight.
      this.deps = [...this.deps, node];
      this.generations = [...this.generations, PENDING_GENERATION];
    } else {
      this.deps.push(node);
      this.generations.push(PENDING_GENERATION);
    }
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
