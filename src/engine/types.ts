import type { PersistedGraph } from './persist.js';

/**
 * The engine's public contract. Nothing here knows about builds: a key is any
 * memoizable computation; a few keys carry a `path` and are the only ones the
 * outside world may invalidate.
 */

export interface Key<V> {
  /**
   * Identity of the node. Two key objects with the same id are the same node, so
   * the id must capture every input of `compute` that is not read through `ctx.get`.
   */
  readonly id: string;
  /**
   * Set only on file-system keys (file content, directory listing, existence):
   * the build-root-relative posix path ('' is the root) whose change invalidates
   * this node. Keys with a path must not call `ctx.get`; they read the world.
   */
  readonly path?: string;
  /**
   * Produces the value. Every other key it needs is read through `ctx.get`,
   * which records the edge used for invalidation. Throwing a `FailureError`
   * memoizes that failure like a value, unless it is tagged `environment`;
   * any other exception (and an environment failure) is not memoized (the
   * next request computes again), and an abort is never memoized.
   */
  compute(ctx: ComputeContext, signal: AbortSignal): Promise<V>;
  /** Equality for early cut-off; default is structural deep equality. */
  equal?(a: V, b: V): boolean;
  /** Human-readable name for cycle reports and logs; default is `id`. */
  describe?(): string;
  /**
   * Set when compute() never reads its `signal` (a pure computation over other
   * keys, e.g. parsing or target resolution). It then receives a shared signal
   * that never aborts, and the engine skips creating an AbortController for it:
   * in Node 20 an AbortSignal costs about 3 µs and 900 bytes, a third of the
   * engine's own cost per node on a cold run. A compute() declared without the
   * `signal` parameter (`compute(ctx)`, so `compute.length < 2`) is treated the
   * same without the flag. Cancellation is otherwise unchanged: waiters are
   * rejected, the result is discarded, and further ctx.get calls from the
   * abandoned compute reject at once, so it stops at its next read.
   */
  readonly ignoresSignal?: boolean;
  /**
   * Whether a value is good only for the run that produced it: the node is then
   * recomputed by the next run (its dependents re-validate against the new value,
   * with early cut-off as usual). A process whose failure must not be reused — a
   * test that failed, a command that timed out — is the case in point: without a
   * daemon each run recomputes anyway; with one, this keeps the two the same.
   */
  isTransient?(value: V): boolean;
  /**
   * For a transient key: the absolute paths whose `stat` (following links)
   * proves `value` still right, when nothing else it reads can change it (a
   * tool found on a search path: each directory's candidate up to the one
   * found). A run without a daemon that did nothing may then be replayed
   * without recomputing the key (cli/replay-record.ts). Undefined, or no
   * method: the value cannot be proven that way (a program's output), and no
   * run that kept it is replayed.
   */
  replayProof?(value: V): Promise<readonly string[] | undefined>;
}

/**
 * A value a run brings with it, as DICE's injected keys: the options and the
 * environment of one command line. It is read through `ctx.get` like any key,
 * so the edge is recorded, but its value is set by runs, never computed: the
 * first run to read it sets it, and a later run that starts with a different
 * value moves its generation, so exactly what read it re-validates.
 */
export interface InputKey<V> {
  readonly id: string;
  /** This input's value in a run's inputs (the concrete `RunInputs` type is the caller's). */
  readFrom(inputs: RunInputs): V;
  /** Equality for early cut-off; default is structural deep equality. */
  equal?(a: V, b: V): boolean;
  describe?(): string;
}

/** What `ctx.get` reads: a computed key or an input. */
export type AnyKey<V> = Key<V> | InputKey<V>;

/**
 * The inputs a run brings, as one value whose `signature` identifies all of
 * them. One graph holds one value per input, so runs overlap only when their
 * signatures are equal (`Engine.startRun` refuses the others until the live
 * runs end): a run can never see another run's options or environment.
 */
export interface RunInputs {
  readonly signature: string;
}

/**
 * A per-run service a computation may use but whose identity is no part of
 * any value: the console that shows processes, the runner that executes them,
 * where warnings go. A computation reaches the one of the run that started
 * it through `ctx.slot`; a value that depends on it would be wrong to memoize.
 */
export interface RunSlot<T> {
  readonly name: string;
  /** Pairs this slot with its value for `RunOptions.slots`. */
  with(value: T): SlotValue;
}

export interface SlotValue {
  readonly slot: RunSlot<unknown>;
  readonly value: unknown;
}

export interface ComputeContext {
  /** Reads another node, recording the dependency edge. */
  get<V>(key: AnyKey<V>): Promise<V>;
  /** Reads several nodes concurrently, recording every edge; results in order. */
  getAll<V>(keys: readonly AnyKey<V>[]): Promise<V[]>;
  /**
   * The value of `slot` in the run that started this computation (shared
   * computations serve every run that waits for them, but report to the
   * first). Throws when that run gave none: a bug in the caller.
   */
  slot<T>(slot: RunSlot<T>): T;
}

/** One request against the graph: sees the snapshot taken when it started. */
export interface Run {
  get<V>(key: AnyKey<V>): Promise<V>;
  getAll<V>(keys: readonly AnyKey<V>[]): Promise<V[]>;
  /** This run's value of `slot`; throws when it was given none. */
  slot<T>(slot: RunSlot<T>): T;
  /** The epoch this run started in. */
  readonly epoch: number;
  readonly signal: AbortSignal;
  /**
   * The run is over: runs with other inputs may start. Idempotent. A run
   * that brought no inputs need not be ended.
   */
  end(): void;
}

export interface RunOptions {
  /** Cancelling it rejects this run's pending gets; work other runs also wait for goes on. */
  readonly signal?: AbortSignal;
  /** The values of the input keys for this run; without them, reading an input is a bug. */
  readonly inputs?: RunInputs;
  /** Per-run services (see RunSlot). */
  readonly slots?: readonly SlotValue[];
}

export interface EngineStats {
  /** Nodes in the graph. */
  readonly nodes: number;
  /** Nodes currently dirty (awaiting re-validation). */
  readonly dirty: number;
  /** compute() calls since the engine was created. */
  readonly computes: number;
  /** Dirty nodes that were re-validated without recomputing (early cut-off or clean dependencies). */
  readonly revalidated: number;
  /** Nodes of an imported graph made so far (the rest wait as records until a run names them). */
  readonly loaded: number;
  /** Nodes evicted since the engine was created (EngineOptions.evictAfterIdleRuns, maxNodes). */
  readonly evicted: number;
  /** Current epoch: bumped each time a run applies pending invalidations. */
  readonly epoch: number;
  /** Runs started since the engine was created. */
  readonly runs: number;
  /** Runs that brought inputs and have not ended. */
  readonly liveRuns: number;
  /**
   * Changes an exported copy of the graph would not have: nodes made or
   * evicted, commits with a new value or new edges, inputs with a new value.
   * Unchanged since the last export or import: no need to export again.
   */
  readonly changes: number;
}

export interface Engine {
  /**
   * Starts a run: first applies every invalidation queued since the last run
   * and every input whose value this run changes (as one transaction, bumping
   * the epoch), then serves gets. Throws a RunConflictError, changing nothing,
   * when a live run (started, not ended) brought inputs with another signature:
   * wait for `whenIdle()` and try again.
   */
  startRun(options?: RunOptions): Run;
  /** Resolves when no run that brought inputs is live; rejects when `signal` aborts. */
  whenIdle(signal?: AbortSignal): Promise<void>;
  /**
   * Queues invalidation of the file-system keys for these paths: a key whose path
   * is the changed path, its parent directory, or inside it (a removed directory).
   * Applied when the next run starts. `exact`: only the keys at these very
   * paths, for a caller that compared each path's own stat stamp (a
   * directory's covers its listing), not an event that may stand for its
   * parent's listing and everything under it.
   */
  invalidatePaths(paths: Iterable<string>, options?: { readonly exact?: boolean }): void;
  /** Queues invalidation of every file-system key (watcher overflow, lost events). */
  invalidateAll(): void;
  /** True when invalidations are queued and not yet applied. */
  hasPendingInvalidations(): boolean;
  /**
   * What is queued and not yet applied: every file-system key (`all`), or the
   * keys at and under `paths` and at exactly `exact`. A daemon reads it after
   * a run to learn whether anything the run read may have changed since.
   */
  pendingInvalidations(): PendingInvalidations;
  /**
   * The value of the node `id` if it holds one that nothing has invalidated
   * (queued invalidations are not applied yet, so it is what the last run
   * that asked for it saw); undefined for a node that is absent, dirty, not
   * loaded yet or a failure.
   */
  cleanValue(id: string): { readonly value: unknown } | undefined;
  /**
   * The transient memos (Key.isTransient) the graph holds now, with their
   * values: after a run and before the next, exactly those the run computed.
   */
  transientValues(): readonly { readonly key: Key<unknown>; readonly value: unknown }[];
  /**
   * Of `paths` whose stamps moved, those some clean node at exactly that path
   * would now read otherwise, by computing those nodes again (a key with a
   * path reads nothing else): the rest need no invalidation. All of them when
   * there are more than `maxPaths` (default 512).
   */
  pathsReadingOtherwise(paths: ReadonlySet<string>, maxPaths?: number): Promise<Set<string>>;
  /**
   * Whether changes to `paths` could change anything `run` read: true when a
   * file-system key those paths invalidate (as `invalidatePaths` would) is, or
   * leads through reverse edges to, a key the run requested. Read-only; ask it
   * before the change is applied. This is how `--loop` re-runs only for changes
   * to its own inputs when one engine serves many runs.
   */
  affects(run: Run, paths: Iterable<string>): boolean;
  /**
   * The build-root-relative paths the graph's file-system keys read (each
   * once): what a change must touch to make any of its memos wrong. The
   * daemon stamps them to skip the watcher's sync when nothing changed.
   */
  readPaths(): IterableIterator<string>;
  stats(): EngineStats;
  /**
   * The graph's memos as plain data (PersistedGraph, v8.serialize-able), for
   * a process without a daemon to keep its graph between runs. Only values
   * that survive serialization as they are, and only nodes whose whole
   * closure does; failures and in-flight nodes are left out.
   */
  exportGraph(options?: {
    /** Leave out what no run touched in this many runs (closed upward; counting each process that kept the graph as a run): 0 keeps all. */
    readonly maxAgeRuns?: number;
  }): PersistedGraph;
  /**
   * Loads an exported graph into this engine, which must not have run yet.
   * `rebuild` makes the real key of an id where it can (file-system keys
   * and inputs at least, or their dependents are left out or recompute);
   * other nodes come back as stubs, named by the runs that ask for them.
   * The file-system nodes at `changed` (every one when it is not given, as
   * after a watcher lost its events) are then invalidated, and transient
   * nodes recompute — but those in `freshTransients` (record indexes the
   * caller computed again and found as kept: transientReadingAsKept): the
   * next run re-reads those paths and re-validates the rest, with early
   * cut-off. Returns the nodes loaded.
   */
  importGraph(
    graph: PersistedGraph,
    rebuild: (id: string, path: string | undefined) => AnyKey<unknown> | undefined,
    changed?: Iterable<string>,
    freshTransients?: ReadonlySet<number>,
  ): number;
  /**
   * The records of an imported graph that `rebuild` gave no key although
   * they compute on their own: inputs dropped at import (with what read
   * them), and transient and file-system records made as stubs so far
   * (records are made as runs reach them), whose dependents recompute
   * instead of re-validating. Each is a kind of key without a rebuilder
   * (KeyRebuilder), or one that cannot read its id back: for the kept
   * graph's debug log and the tests. Empty without an import.
   */
  unrebuilt(): readonly UnrebuiltNode[];
}

/** Engine.pendingInvalidations' answer. */
export interface PendingInvalidations {
  readonly all: boolean;
  readonly paths: readonly string[];
  readonly exact: readonly string[];
}

/** A record of a kept graph that came back without its key where it matters (Engine.unrebuilt). */
export interface UnrebuiltNode {
  readonly id: string;
  readonly as: 'transient' | 'file-system' | 'input';
}

export interface EngineOptions {
  /** Called each time a node's compute() starts; tests count recomputations with it. */
  onCompute?: (key: Key<unknown>) => void;
  /**
   * A long-lived engine's bound on its graph: a node that none of the last
   * this-many runs asked for (from the run or from another node's compute or
   * re-validation) is evicted when the next run starts with no run live,
   * provided everything that depends on it goes too. Asked for again, it is
   * recomputed. 0 or absent: never.
   */
  evictAfterIdleRuns?: number;
  /**
   * Above this many nodes when a run starts with no run live, the least
   * recently touched go too (same closure rule), but never one the latest run
   * touched. 0 or absent: no bound.
   */
  maxNodes?: number;
}
