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
   * in Node 20 an AbortSignal costs about 3 µs, a third of the engine's own cost
   * per node on a cold run. Cancellation is otherwise unchanged: waiters are
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
}

export interface ComputeContext {
  /** Reads another node, recording the dependency edge. */
  get<V>(key: Key<V>): Promise<V>;
  /** Reads several nodes concurrently, recording every edge; results in order. */
  getAll<V>(keys: readonly Key<V>[]): Promise<V[]>;
}

/** One request against the graph: sees the snapshot taken when it started. */
export interface Run {
  get<V>(key: Key<V>): Promise<V>;
  getAll<V>(keys: readonly Key<V>[]): Promise<V[]>;
  /** The epoch this run started in. */
  readonly epoch: number;
  readonly signal: AbortSignal;
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
  /** Current epoch: bumped each time a run applies pending invalidations. */
  readonly epoch: number;
}

export interface Engine {
  /**
   * Starts a run: first applies every invalidation queued since the last run
   * (as one transaction, bumping the epoch), then serves gets. Cancelling
   * `signal` rejects this run's pending gets; work other runs also wait for goes on.
   */
  startRun(signal?: AbortSignal): Run;
  /**
   * Queues invalidation of the file-system keys for these paths: a key whose path
   * is the changed path, its parent directory, or inside it (a removed directory).
   * Applied when the next run starts.
   */
  invalidatePaths(paths: Iterable<string>): void;
  /** Queues invalidation of every file-system key (watcher overflow, lost events). */
  invalidateAll(): void;
  /** True when invalidations are queued and not yet applied. */
  hasPendingInvalidations(): boolean;
  /**
   * Whether changes to `paths` could change anything `run` read: true when a
   * file-system key those paths invalidate (as `invalidatePaths` would) is, or
   * leads through reverse edges to, a key the run requested. Read-only; ask it
   * before the change is applied. This is how `--loop` re-runs only for changes
   * to its own inputs when one engine serves many runs.
   */
  affects(run: Run, paths: Iterable<string>): boolean;
  stats(): EngineStats;
}

export interface EngineOptions {
  /** Called each time a node's compute() starts; tests count recomputations with it. */
  onCompute?: (key: Key<unknown>) => void;
}
