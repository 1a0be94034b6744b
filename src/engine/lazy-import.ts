import type { GraphNode } from './node.js';
import { FLAG_DIRTY, FLAG_INPUT, FLAG_TRANSIENT, recordIndexOf, recordValueBytes, type PersistedGraph } from './persist.js';

/**
 * A kept graph as it was read back, before its nodes are made: records in
 * arrays, turned into GraphNodes one at a time when a run names them (Graph
 * materializes them), so a run that needs a few hundred nodes of a graph of
 * ten thousand makes and deserializes a few hundred.
 *
 * What the import must decide for every record is decided here, on the
 * arrays, before any node exists: which records can come back (their whole
 * closure can), which are dirty (a changed path, a transient memo, a
 * changed input, and everything above them, as propagateInvalidation would
 * mark them), and which must recompute rather than re-validate (transient
 * memos). A whole-graph operation that needs every node (an invalidation
 * after the run started, eviction, export) makes the rest first.
 */
export class ImportedRecords {
  readonly graph: PersistedGraph;
  /** 1 when the record's whole closure comes back. */
  readonly loadable: Uint8Array;
  readonly dirty: Uint8Array;
  /** 1 for a transient memo: recomputed by the next run, never re-validated. */
  readonly force: Uint8Array;
  readonly nodes: (GraphNode | undefined)[];
  /** Loadable records not made yet. */
  remaining = 0;
  /** Records made that are not inputs: once there are any, array-level invalidation is no longer enough. */
  madeOthers = 0;

  constructor(graph: PersistedGraph, inputOk: (i: number) => boolean) {
    this.graph = graph;
    const n = graph.ids.length;
    this.loadable = new Uint8Array(n);
    this.dirty = new Uint8Array(n);
    this.force = new Uint8Array(n);
    this.nodes = new Array<GraphNode | undefined>(n);
    const { depStart, deps, flags } = graph;
    let inputsOk = true;
    for (let i = 0; i < n; i++) if ((flags[i]! & FLAG_INPUT) !== 0 && !inputOk(i)) inputsOk = false;
    if (inputsOk) {
      // The usual case: every input came back, so every record does.
      this.loadable.fill(1);
      this.remaining = n;
      return;
    }
    for (let i = 0; i < n; i++) {
      let ok = (flags[i]! & FLAG_INPUT) === 0 || inputOk(i);
      for (let j = depStart[i]!; ok && j < depStart[i + 1]!; j++) if (this.loadable[deps[j]!] === 0) ok = false;
      if (!ok) continue;
      this.loadable[i] = 1;
      this.remaining++;
    }
  }

  /** The loadable record of `id`, if any. */
  recordOf(id: string): number | undefined {
    const r = recordIndexOf(this.graph, id);
    return r !== undefined && this.loadable[r] === 1 ? r : undefined;
  }

  /** Record i's value, v8-serialized. */
  valueBytes(i: number): Uint8Array {
    return recordValueBytes(this.graph, i);
  }

  /** Record i's dependencies (record indices) and the generations they were observed at. */
  depsOf(i: number): { readonly deps: Uint32Array; readonly generations: Int32Array } {
    const from = this.graph.depStart[i]!;
    const to = this.graph.depStart[i + 1]!;
    return { deps: this.graph.deps.subarray(from, to), generations: this.graph.depGenerations.subarray(from, to) };
  }

  /** Visits the loadable records that depend on record i. */
  forEachDependent(i: number, fn: (d: number) => void): void {
    const { revStart, rev } = this.graph;
    for (let j = revStart[i]!; j < revStart[i + 1]!; j++) {
      const d = rev[j]!;
      if (this.loadable[d] === 1) fn(d);
    }
  }

  /**
   * Marks the records dirty that the import's invalidations reach: those
   * flagged dirty when kept, the file-system records at exactly the
   * `changed` paths (all of them when null: nobody checked), and the
   * transient memos, which also recompute. Exactly: the caller checked every
   * path on its own (fs/path-stamps.ts), so a changed directory does not
   * stand for what is inside it, as a watcher's event does (PathIndex.affected):
   * a directory removed or renamed changes the stamp of each path under it.
   * A transient record in `fresh` was computed again before the import and
   * read as kept (recheck-paths.ts transientReadingAsKept): it stays transient
   * (recomputed by the next run that invalidates transients, flagged so when
   * kept again) but dirties nothing. Returns how many records are dirty.
   */
  invalidateAtImport(changed: ReadonlySet<string> | null, fresh: ReadonlySet<number> = new Set()): number {
    const { flags, paths } = this.graph;
    const n = flags.length;
    const roots: number[] = [];
    const affected = (path: string): boolean => changed === null || changed.has(path);
    for (let i = 0; i < n; i++) {
      if (this.loadable[i] === 0) continue;
      const f = flags[i]!;
      const path = paths[i];
      const transient = (f & FLAG_TRANSIENT) !== 0 && (f & FLAG_INPUT) === 0;
      if (transient) this.force[i] = 1;
      if ((f & FLAG_DIRTY) !== 0 || (transient && !fresh.has(i)) || (path !== null && path !== undefined && affected(path))) roots.push(i);
    }
    return this.markDirty(roots);
  }

  /** Marks `roots` and every loadable record above them dirty (inputs never are). Returns how many became dirty. */
  markDirty(roots: Iterable<number>): number {
    const { flags } = this.graph;
    const seen = new Uint8Array(flags.length);
    const stack = [...roots];
    let dirtied = 0;
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (seen[i] === 1) continue;
      seen[i] = 1;
      if ((flags[i]! & FLAG_INPUT) === 0 && this.dirty[i] === 0) {
        this.dirty[i] = 1;
        dirtied++;
      }
      this.forEachDependent(i, (d) => {
        if (seen[d] === 0) stack.push(d);
      });
    }
    return dirtied;
  }
}
