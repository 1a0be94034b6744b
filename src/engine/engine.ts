import { toRelPath } from '../core/index.js';
import { Graph } from './graph.js';
import { EngineRun } from './run.js';
import type { Engine, EngineOptions, EngineStats, Run } from './types.js';

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
  #pendingAll = false;
  #epoch = 0;

  constructor(options: EngineOptions) {
    this.#graph = new Graph(options.onCompute);
  }

  startRun(signal?: AbortSignal): Run {
    if (this.hasPendingInvalidations() || this.#graph.hasTransient) this.#applyInvalidations();
    return new EngineRun(this.#graph, this.#epoch, signal);
  }

  invalidatePaths(paths: Iterable<string>): void {
    for (const p of paths) {
      // A path that escapes the root cannot match a key; nothing to invalidate.
      const rel = toRelPath(p);
      if (rel !== undefined) this.#pendingPaths.add(rel);
    }
  }

  invalidateAll(): void {
    this.#pendingAll = true;
  }

  hasPendingInvalidations(): boolean {
    return this.#pendingAll || this.#pendingPaths.size > 0;
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

  stats(): EngineStats {
    const g = this.#graph;
    return { nodes: g.size, dirty: g.dirty, computes: g.computes, revalidated: g.revalidated, epoch: this.#epoch };
  }

  /** One transaction: everything queued since the last run becomes visible at once. */
  #applyInvalidations(): void {
    const paths = this.#pendingAll ? null : [...this.#pendingPaths];
    this.#pendingAll = false;
    this.#pendingPaths.clear();
    this.#epoch++;
    this.#graph.invalidate(paths);
    this.#graph.invalidateTransient();
  }
}
