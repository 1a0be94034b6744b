import { deserialize } from 'node:v8';
import type { FailureError } from '../core/index.js';
import type { AnyKey, InputKey } from './types.js';
import type { Task } from './task.js';

/**
 * - `new`: never computed; no memo.
 * - `clean`: the memo is valid for the current epoch; `get` returns it at once.
 * - `dirty`: something below may have changed; the memo is kept so that early
 *   cut-off can compare against it, but it must be re-validated before use.
 *
 * "Computing" is not a state of its own: it is `task !== undefined`, on top of
 * `new` or `dirty` (a clean node is never computing). Keeping the two apart is
 * what lets a cancelled or failed computation leave the node exactly as it was.
 */
export type NodeState = 'new' | 'clean' | 'dirty';

/**
 * Generation recorded for an edge whose result has not arrived yet. If it is
 * still there when the computation commits, the computation did not wait for
 * that dependency; it is then treated like POISONED.
 */
export const PENDING_GENERATION = -2;
/**
 * Generation recorded for an edge whose observation cannot be trusted (the
 * dependency delivered a result it did not memoize, or two different
 * generations were seen). It never equals a real generation, so the next
 * re-validation recomputes instead of trusting the edge.
 */
export const POISONED_GENERATION = -1;

const NO_DEPS: readonly GraphNode[] = [];
/** Up to this many dependents are kept in an array; linear search is cheaper than a Set there. */
const SMALL_SET = 8;
const NO_GENERATIONS: readonly number[] = [];
/** Longest generation list `sharedGenerations` shares; longer ones are rare and few. */
const SHARED_UP_TO = 4096;
/** Frozen lists of 1s by length: a write to one throws instead of changing every node that shares it. */
const ONES: (readonly number[] | undefined)[] = [];

/**
 * The list a node keeps for the generations its edges observed: a shared
 * frozen one when every edge saw generation 1, else `generations` itself.
 * A graph built in one run observes little else (a generation moves only when
 * a recomputation produced another value), and 1,000 packages make ~57,000
 * nodes whose own copies took ~8 MiB of a daemon's heap.
 */
export function sharedGenerations(generations: readonly number[]): readonly number[] {
  const n = generations.length;
  if (n === 0) return NO_GENERATIONS;
  if (n > SHARED_UP_TO) return generations;
  for (let i = 0; i < n; i++) if (generations[i] !== 1) return generations;
  return (ONES[n] ??= Object.freeze(Array.from({ length: n }, () => 1)));
}

/**
 * One memoized computation, identified by `key.id`. Its fields are mutated by the
 * graph only; the node itself has no behaviour beyond describing itself.
 */
export class GraphNode {
  /** Replaced once, when an imported node (a StubKey) is first named by a run with its real key. */
  key: AnyKey<unknown>;
  /** Cached `key.path`, read on every invalidation walk and every ctx.get. */
  readonly path: string | undefined;
  /** Set for input keys: their value is set by runs (see Engine.startRun), never computed. */
  readonly input: InputKey<unknown> | undefined;
  state: NodeState = 'new';
  /**
   * Bumped only when a recomputation produces a result not equal to the previous
   * one. Dependents record the generation they observed; comparing it is the
   * whole of re-validation. 0 means "never produced a result".
   */
  generation = 0;
  /** Whether the memo is a value (`value`) or a memoized FailureError (`error`). */
  ok = true;
  #value: unknown = undefined;
  /** The serialized value a node of a kept graph was loaded with, for as long as it is its value (see lazy-import.ts). */
  #serialized: Uint8Array | undefined = undefined;
  /** Whether `#value` holds the value (else `#serialized` does, not yet deserialized). */
  #decoded = true;
  error: FailureError | undefined = undefined;
  /** Dependencies of the last committed computation, in order of first request (see `deps`). */
  #deps: readonly GraphNode[] | undefined = NO_DEPS;
  /** Makes `#deps` of a node loaded from a kept graph, on first use (see lazy-import.ts). */
  #loadDeps: (() => readonly GraphNode[]) | undefined = undefined;
  #record = -1;
  /**
   * `deps[i]`'s generation as observed by that computation; never written in
   * place (it may be shared: `sharedGenerations`, or a view of a kept graph's
   * array: lazy-import.ts).
   */
  depGenerations: ArrayLike<number> = NO_GENERATIONS;
  /**
   * Reverse edges: nodes whose committed or in-flight computation asked for this
   * one. Invalidation walks them; they may over-approximate briefly (an edge is
   * added when the request is made, removed when the requester commits without it
   * or gives up), which only costs a spurious re-validation. Most nodes have a
   * handful of dependents, so a small array is used until it grows.
   */
  #dependents: GraphNode[] | Set<GraphNode> | undefined = undefined;
  /** The in-flight evaluation new requests join, if any. */
  task: Task | undefined = undefined;
  /** Stamp of the last invalidation walk that visited this node (avoids a visited Set). */
  mark = 0;
  /** Set on a transient node at the start of the next run: recompute, don't re-validate. */
  forceRecompute = false;
  /**
   * The engine's run count when a run or a computation last asked for this
   * node (or re-validated through it): what eviction measures idleness by.
   */
  touched = 0;
  /** Set once the node has left the graph (evicted): a run still holding it can tell. */
  evicted = false;
  /** Imported with a StubKey, not yet named by its real key (a field: checked on every request). */
  stub = false;
  /** An imported input: its value is only fit for comparison until the next run's replaces it. */
  importedInput = false;

  get value(): unknown {
    if (!this.#decoded) {
      this.#value = deserialize(this.#serialized!);
      this.#decoded = true;
    }
    return this.#value;
  }

  set value(value: unknown) {
    this.#value = value;
    this.#serialized = undefined;
    this.#decoded = true;
  }

  /**
   * A node loaded from a kept graph keeps its value serialized until it is
   * read (re-validating through a node needs its generation only), and an
   * export writes those bytes again as long as the value was not replaced.
   */
  setSerializedValue(bytes: Uint8Array): void {
    this.#serialized = bytes;
    this.#decoded = false;
  }

  /** The bytes of `value` as loaded from a kept graph, while it is still that value. */
  get serializedValue(): Uint8Array | undefined {
    return this.#serialized;
  }

  /** Dependencies of the last committed computation, in order of first request. */
  get deps(): readonly GraphNode[] {
    return this.#deps ?? this.#resolveDeps();
  }

  set deps(deps: readonly GraphNode[]) {
    this.#deps = deps;
    this.#loadDeps = undefined;
  }

  /**
   * A node loaded from a kept graph names its dependencies by record only
   * until something walks them (a re-validation, a commit): most of a loaded
   * graph is never walked by the run that loads it.
   */
  setLazyDeps(load: () => readonly GraphNode[], record: number): void {
    this.#deps = undefined;
    this.#loadDeps = load;
    this.#record = record;
  }

  /** The kept graph's record this node came from while its dependencies are not made yet, else -1. */
  get lazyRecord(): number {
    return this.#deps === undefined ? this.#record : -1;
  }

  #resolveDeps(): readonly GraphNode[] {
    const deps = this.#loadDeps!();
    this.#deps = deps;
    this.#loadDeps = undefined;
    return deps;
  }

  constructor(key: AnyKey<unknown>) {
    this.key = key;
    const input = 'readFrom' in key;
    this.path = input ? undefined : key.path;
    this.input = input ? key : undefined;
  }

  addDependent(node: GraphNode): void {
    const d = this.#dependents;
    if (d === undefined) {
      this.#dependents = [node];
    } else if (Array.isArray(d)) {
      if (d.includes(node)) return;
      // Exact-size copies: pushing would give every node a 17-slot backing store.
      if (d.length < SMALL_SET) this.#dependents = [...d, node];
      else this.#dependents = new Set(d).add(node);
    } else {
      d.add(node);
    }
  }

  /** Sets the reverse edges of a node that has none yet, at once (an imported graph: no duplicates). */
  initDependents(nodes: GraphNode[]): void {
    if (nodes.length === 0) return;
    this.#dependents = nodes.length <= SMALL_SET ? nodes : new Set(nodes);
  }

  removeDependent(node: GraphNode): void {
    const d = this.#dependents;
    if (d === undefined) return;
    if (!Array.isArray(d)) {
      d.delete(node);
      return;
    }
    const i = d.indexOf(node);
    if (i < 0) return;
    d[i] = d[d.length - 1]!;
    d.pop();
  }

  dependents(): Iterable<GraphNode> {
    return this.#dependents ?? NO_DEPS;
  }

  /** Whether some dependent fails `pred` (eviction: "is any dependent kept?"). */
  someDependent(pred: (node: GraphNode) => boolean): boolean {
    const d = this.#dependents;
    if (d === undefined) return false;
    for (const n of d) if (pred(n)) return true;
    return false;
  }

  describe(): string {
    return describeKey(this.key);
  }

  /** True when `node` is among the committed dependencies. */
  hasCommittedDep(node: GraphNode): boolean {
    return this.deps.includes(node);
  }
}

export function describeKey(key: AnyKey<unknown>): string {
  try {
    return key.describe?.() ?? key.id;
  } catch {
    // A description is for humans; a buggy describe() must not mask the real error.
    return key.id;
  }
}
