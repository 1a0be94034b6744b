import { toRelPath } from '../core/index.js';
import { Graph } from './graph.js';
import { abortError } from '../core/index.js';
import { MAX_PATHS_READ_AGAIN } from './recheck-paths.js';
import { RunConflictError } from './run-conflict-error.js';
import { EngineRun } from './run.js';
import type { PersistedGraph } from './persist.js';
import type { AnyKey, Engine, EngineOptions, EngineStats, Key, PendingInvalidations, Run, RunOptions, UnrebuiltNode } from './types.js';

/**
 * Creates an empty graph. The engine is the unit a daemon keeps warm between
 * runs: its only inputs from the outside are runs (reads) and path invalidations
 * (writes), and writes are batched so that each run sees one snapshot.
 */
export function createEngine(options: EngineOptions = {}): Engine {
  return new IncrementalEngine(options);
}

class IncrementalEngine implements Engine {
  readonly #graph: Graph;
  readonly #pendingPaths = new Set<string>();
  readonly #pendingExact = new Set<string>();
  #pendingAll = false;
  #epoch = 0;
  /** Runs that brought inputs and have not ended; all share one signature. */
  readonly #live = new Set<EngineRun>();
  #idle: Array<() => void> = [];
  /** Runs started so far: the clock eviction measures idleness by. */
  #runs = 0;
  readonly #idleRuns: number;
  readonly #maxNodes: number;
  /** `#runs` at the last eviction sweep; sweeps are spaced so that a warm run rarely pays for one. */
  #sweptAt = 0;

  constructor(options: EngineOptions) {
    this.#graph = new Graph(options.onCompute);
    this.#idleRuns = Math.max(0, Math.floor(options.evictAfterIdleRuns ?? 0));
    this.#maxNodes = Math.max(0, Math.floor(options.maxNodes ?? 0));
  }

  startRun(options: RunOptions = {}): Run {
    const inputs = options.inputs;
    if (inputs !== undefined) {
      let others = 0;
      for (const r of this.#live) if (r.inputs!.signature !== inputs.signature) others++;
      if (others > 0) throw new RunConflictError(others);
    }
    this.#runs++;
    // Before any work of this run, and only when no run is live: nothing in use can be evicted.
    if (this.#live.size === 0) this.#sweep();
    this.#graph.tick = this.#runs;
    if (this.hasPendingInvalidations() || this.#graph.hasTransient) this.#applyInvalidations();
    if (inputs !== undefined) this.#graph.setInputs(inputs);
    const run = new EngineRun(this.#graph, this.#epoch, options, inputs === undefined ? undefined : this.#ended);
    if (inputs !== undefined) this.#live.add(run);
    return run;
  }

  readonly #ended = (run: EngineRun): void => {
    this.#live.delete(run);
    if (this.#live.size > 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  };

  whenIdle(signal?: AbortSignal): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortError('stopped waiting for the runs in progress'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#idle = this.#idle.filter((r) => r !== done);
        reject(abortError('stopped waiting for the runs in progress'));
      };
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#idle.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  invalidatePaths(paths: Iterable<string>, options: { readonly exact?: boolean } = {}): void {
    const pending = options.exact === true ? this.#pendingExact : this.#pendingPaths;
    for (const p of paths) {
      // A path that escapes the root cannot match a key; nothing to invalidate.
      const rel = toRelPath(p);
      if (rel !== undefined) pending.add(rel);
    }
  }

  invalidateAll(): void {
    this.#pendingAll = true;
  }

  hasPendingInvalidations(): boolean {
    return this.#pendingAll || this.#pendingPaths.size > 0 || this.#pendingExact.size > 0;
  }

  pendingInvalidations(): PendingInvalidations {
    return { all: this.#pendingAll, paths: [...this.#pendingPaths], exact: [...this.#pendingExact] };
  }

  cleanValue(id: string): { readonly value: unknown } | undefined {
    return this.#graph.cleanValue(id);
  }

  transientValues(): readonly { readonly key: Key<unknown>; readonly value: unknown }[] {
    return this.#graph.transientValues();
  }

  /**
   * Of `paths`, the ones some node at exactly that path would now read
   * otherwise (Graph.pathsReadingOtherwise): what a caller that found their
   * stamps moved must still invalidate. More than `maxPaths` are all returned
   * as they are: each is read here, where a run reads only what it reaches.
   */
  async pathsReadingOtherwise(paths: ReadonlySet<string>, maxPaths = MAX_PATHS_READ_AGAIN): Promise<Set<string>> {
    if (paths.size > maxPaths || paths.size === 0) return new Set(paths);
    return this.#graph.pathsReadingOtherwise(paths, new AbortController().signal);
  }

  affects(run: Run, paths: Iterable<string>): boolean {
    if (!(run instanceof EngineRun)) throw new TypeError('Engine.affects: the run was not started by this engine');
    const rel: string[] = [];
    for (const p of paths) {
      const r = toRelPath(p);
      if (r !== undefined) rel.push(r);
    }
    return this.#graph.reaches(run.requested, rel);
  }

  readPaths(): IterableIterator<string> {
    return this.#graph.paths();
  }

  stats(): EngineStats {
    const g = this.#graph;
    return { nodes: g.size, dirty: g.dirty, computes: g.computes, revalidated: g.revalidated, loaded: g.loaded, evicted: g.evicted, epoch: this.#epoch, runs: this.#runs, liveRuns: this.#live.size, changes: g.changes };
  }

  /**
   * The graph as plain data. Invalidations queued since the last run (a
   * daemon's watcher) are applied first, so what they reach is kept dirty
   * rather than as it was read; with a run live that would break its
   * transaction, so queued invalidations then are a bug (it throws).
   */
  exportGraph(options: { readonly maxAgeRuns?: number } = {}): PersistedGraph {
    if (this.hasPendingInvalidations()) {
      if (this.#live.size > 0) throw new Error('bug: a graph with queued invalidations is exported while a run is live');
      this.#applyInvalidations();
    }
    return this.#graph.exportNodes(options.maxAgeRuns ?? 0);
  }

  /**
   * Loads a kept graph into this engine before its first run. `changed` names
   * the paths that may differ from what the graph read (the caller proved the
   * others unchanged, see fs/path-stamps.ts); without it every path is read again.
   */
  importGraph(
    graph: PersistedGraph,
    rebuild: (id: string, path: string | undefined) => AnyKey<unknown> | undefined,
    changed?: Iterable<string>,
    freshTransients?: ReadonlySet<number>,
  ): number {
    if (this.#runs > 0) throw new Error('bug: a graph is imported only before the first run');
    // The invalidations are applied to the records as they are loaded (lazy-import.ts).
    const n = this.#graph.importNodes(graph, rebuild, changed === undefined ? null : new Set(changed), freshTransients);
    this.#graph.changes = 0;
    return n;
  }

  unrebuilt(): readonly UnrebuiltNode[] {
    return this.#graph.unrebuilt;
  }

  /**
   * Evicts what no run touched in the last `evictAfterIdleRuns` runs (closed
   * upward, see Graph.evictIdle), and, above `maxNodes`, the least recently
   * touched beyond that. The idle rule sweeps every eighth of its window, so
   * a node goes at most that much later than due; the count bound is checked
   * every run.
   */
  #sweep(): void {
    const g = this.#graph;
    const latest = this.#runs - 1;
    const over = this.#maxNodes > 0 && g.size > this.#maxNodes;
    const due = this.#idleRuns > 0 && this.#runs - this.#sweptAt >= Math.max(1, Math.floor(this.#idleRuns / 8));
    if (!over && !due) return;
    this.#sweptAt = this.#runs;
    const before = this.#idleRuns > 0 ? this.#runs - this.#idleRuns : 0;
    g.evictIdle(before, this.#maxNodes, latest);
  }

  /** One transaction: everything queued since the last run becomes visible at once. */
  #applyInvalidations(): void {
    const paths = this.#pendingAll ? null : [...this.#pendingPaths];
    const exact = this.#pendingAll ? [] : [...this.#pendingExact];
    this.#pendingAll = false;
    this.#pendingPaths.clear();
    this.#pendingExact.clear();
    this.#epoch++;
    this.#graph.invalidate(paths, exact);
    this.#graph.invalidateTransient();
  }
}
