import { FailureError, abortError, failure, isAbortError, isFailureError, mapLimit } from '../core/index.js';
import { AwaitGraph } from './await-graph.js';
import { EngineCycleError } from './cycle-error.js';
import { deepEqual } from './deep-equal.js';
import { propagateInvalidation } from './invalidation.js';
import { NO_CONTEXT, RECHECK_CONCURRENCY } from './recheck-paths.js';
import { ImportedRecords } from './lazy-import.js';
import { GraphNode, PENDING_GENERATION, POISONED_GENERATION, sharedGenerations } from './node.js';
import { PathIndex } from './path-index.js';
import { EXACT_UP_TO, Task, Waiter, type Outcome, type Requester } from './task.js';
import { slotValue, type RunScope } from './run-slot.js';
import { serialize } from 'node:v8';
import { FLAG_DIRTY, FLAG_INPUT, FLAG_TRANSIENT, PERSISTED_GRAPH_FORMAT, StubKey, comparableCopy, indexRecords, isPlainData, isStub, type PersistedGraph } from './persist.js';
import type { AnyKey, ComputeContext, Key, RunInputs, RunSlot, UnrebuiltNode } from './types.js';

/** A dependency list this long makes a linear membership test too slow. */
const SET_THRESHOLD = 16;

/**
 * The memoized graph: node table, evaluation (re-validate, then compute),
 * sharing, cancellation and commit. Runs and invalidation batching live in
 * engine.ts; this file is everything that happens between a request and its
 * answer.
 *
 * Two rules keep it correct under concurrency:
 * - A node's memo, generation and edges change only when its *current* task
 *   commits. Abandoned, replaced, stale or failed tasks deliver their result to
 *   whoever waited and leave the node as it was.
 * - Nothing that can chain across many nodes (completion, abort, invalidation)
 *   recurses: completions go through promises or the microtask queue, the rest
 *   uses explicit work lists.
 */
export class Graph {
  readonly #nodes = new Map<string, GraphNode>();
  readonly #paths = new PathIndex();
  readonly #awaits = new AwaitGraph();
  readonly #onCompute: ((key: Key<unknown>) => void) | undefined;
  #walkStamp = 0;
  readonly #startQueue: Task[] = [];
  /** Nodes whose memo is transient (Key.isTransient): the next run recomputes them. */
  readonly #transient = new Set<GraphNode>();
  /** Values imported or exported before: known to be plain data (values are never mutated), not walked again. */
  readonly #plainValues = new WeakSet<object>();
  /** Input nodes: their values are set by runs (setInputs), never computed. */
  readonly #inputs = new Set<GraphNode>();
  /** A kept graph's records not made into nodes yet (lazy-import.ts), and how to rebuild their keys. */
  #imported: ImportedRecords | undefined = undefined;
  #rebuild: (id: string, path: string | undefined) => AnyKey<unknown> | undefined = () => undefined;
  computes = 0;
  revalidated = 0;
  /** Records of an imported graph made into nodes. */
  loaded = 0;
  dirty = 0;
  /** Nodes evicted since the graph was made. */
  evicted = 0;
  /** The engine's run count: what a request stamps on the node it touches (GraphNode.touched). */
  tick = 0;
  /**
   * Changes a persisted copy of the graph would miss: nodes made, evicted, or
   * committed with a new value or new edges, inputs that took a new value.
   * Re-validations and equal recomputations leave it alone.
   */
  changes = 0;
  /** Records of a kept graph that came back without their key where it matters (Engine.unrebuilt). */
  readonly unrebuilt: UnrebuiltNode[] = [];

  constructor(onCompute: ((key: Key<unknown>) => void) | undefined) {
    this.#onCompute = onCompute;
  }

  get size(): number {
    return this.#nodes.size + (this.#imported?.remaining ?? 0);
  }

  /**
   * The paths the graph's file-system nodes read (a path may come twice):
   * those of the nodes made, and of the kept graph's records not made yet,
   * which a daemon's watcher reaches as well (invalidate makes them first).
   */
  *paths(): IterableIterator<string> {
    yield* this.#paths.paths();
    const imported = this.#imported;
    if (imported === undefined) return;
    const { paths } = imported.graph;
    for (let r = 0; r < paths.length; r++) {
      const p = paths[r];
      if (p !== null && p !== undefined && imported.loadable[r] === 1 && imported.nodes[r] === undefined) yield p;
    }
  }

  /**
   * Applies one batch of invalidations: `paths` as a watcher's events (each
   * with its parent's listing and its subtree; `null` means every
   * file-system node), `exact` at those paths only.
   */
  invalidate(paths: Iterable<string> | null, exact: Iterable<string> = []): void {
    this.#materializeAll();
    const roots = paths === null ? this.#paths.all() : this.#paths.affected(paths);
    this.#paths.addExact(exact, roots);
    this.dirty += propagateInvalidation(roots, ++this.#walkStamp);
  }

  /**
   * Of `paths` (whose stamps moved: a daemon's quiet check), those where some
   * clean node would now read otherwise: every node at exactly such a path
   * is computed again, with no other key (a key with a path is a function of
   * what is at its path alone, types.ts), and compared as a recomputation
   * is. A path whose nodes all read as they hold need not be invalidated:
   * this is the early cut-off a run would make, done before the run, so
   * what depends on them is not marked dirty and re-validated (a directory
   * whose ignored `dist/` came and went dirties thousands of nodes above
   * its listing). A node that is not clean, not made, an input, in flight,
   * or that throws or differs keeps its path among the changed.
   */
  async pathsReadingOtherwise(paths: ReadonlySet<string>, signal: AbortSignal): Promise<Set<string>> {
    // Records of a kept graph not made yet are made: each at such a path must be compared too.
    this.#materializeAll();
    const otherwise = new Set<string>();
    await mapLimit([...paths], RECHECK_CONCURRENCY, async (path) => {
      const at = new Set<GraphNode>();
      this.#paths.addExact([path], at);
      for (const node of at) {
        if (!(await this.#readsAsHeld(node, signal))) {
          otherwise.add(path);
          return;
        }
      }
    });
    return otherwise;
  }

  async #readsAsHeld(node: GraphNode, signal: AbortSignal): Promise<boolean> {
    const key = node.key;
    if (node.state !== 'clean' || !node.ok || node.task !== undefined || node.stub || node.evicted || node.input !== undefined || 'readFrom' in key) return false;
    let now: unknown;
    try {
      now = await (key as Key<unknown>).compute(NO_CONTEXT, signal);
    } catch {
      return false;
    }
    // Still the value compared against: nothing recomputed or invalidated it meanwhile.
    return node.state === 'clean' && node.task === undefined && !node.evicted && sameResult(node, true, now);
  }

  get hasTransient(): boolean {
    return this.#transient.size > 0;
  }

  /** Engine.cleanValue. */
  cleanValue(id: string): { readonly value: unknown } | undefined {
    const node = this.#nodes.get(id);
    if (node === undefined || !hasCleanValue(node)) return undefined;
    return { value: node.value };
  }

  /** Engine.transientValues. */
  transientValues(): { key: Key<unknown>; value: unknown }[] {
    const out: { key: Key<unknown>; value: unknown }[] = [];
    for (const n of this.#transient) if (hasCleanValue(n)) out.push({ key: n.key as Key<unknown>, value: n.value });
    return out;
  }

  /** Makes every transient memo recompute on its next request, dirtying what depends on it. */
  invalidateTransient(): void {
    if (this.#transient.size === 0) return;
    this.#materializeAll();
    const nodes = [...this.#transient];
    this.#transient.clear();
    for (const n of nodes) n.forceRecompute = true;
    this.dirty += propagateInvalidation(nodes, ++this.#walkStamp);
  }

  /**
   * Gives every input node its value in `inputs`. An input whose value changed
   * takes a new generation, and what read it is marked dirty, so it
   * re-validates; the input itself stays clean. Only safe when no run that
   * brought other inputs is live (the engine makes sure).
   */
  setInputs(inputs: RunInputs): void {
    // Array-level marking reaches records only: once a run made other nodes, make them all.
    if ((this.#imported?.madeOthers ?? 0) > 0) this.#materializeAll();
    const records = this.#imported;
    const changed: GraphNode[] = [];
    const changedRecords: number[] = [];
    for (const node of this.#inputs) {
      const value = node.input!.readFrom(inputs);
      const imported = node.importedInput;
      node.importedInput = false;
      if (sameResult(node, true, value)) {
        // The kept copy was only fit for this comparison.
        if (imported) node.value = value;
        continue;
      }
      node.generation++;
      node.value = value;
      this.changes++;
      const record = records?.recordOf(node.key.id);
      if (record !== undefined) changedRecords.push(record);
      for (const d of node.dependents()) changed.push(d);
    }
    if (changedRecords.length > 0) this.dirty += records!.markDirty(changedRecords);
    if (changed.length > 0) this.dirty += propagateInvalidation(changed, ++this.#walkStamp);
  }

  /**
   * Whether invalidating `paths` would reach one of `targets`: the same walk as
   * `invalidate`, read-only, stopping at the first hit. Reverse edges may briefly
   * over-approximate (see GraphNode), which can only answer true spuriously.
   */
  reaches(targets: ReadonlySet<GraphNode>, paths: Iterable<string>): boolean {
    if (targets.size === 0) return false;
    this.#materializeAll();
    // An evicted target no longer has the edges the walk needs: "yes" is the safe answer.
    if (this.evicted > 0) for (const t of targets) if (t.evicted) return true;
    const stamp = ++this.#walkStamp;
    const stack: GraphNode[] = [...this.#paths.affected(paths)];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.mark === stamp) continue;
      node.mark = stamp;
      if (targets.has(node)) return true;
      for (const d of node.dependents()) if (d.mark !== stamp) stack.push(d);
    }
    return false;
  }

  /**
   * Evicts the nodes last touched before run `before`, closed upward: a node
   * goes only if every one of its dependents goes too. A kept node therefore
   * never has an edge to an evicted one: it would otherwise compare a recorded
   * generation against a recreated node whose generation restarted (and could
   * match by accident), and an invalidation of the evicted node's path would
   * no longer reach it. A node with an in-flight task is never evicted, nor
   * (by the closure) anything it reads. With `maxNodes` > 0 and the graph
   * still larger, the threshold moves up, least recently touched first, but
   * never to the nodes touched by the latest run (`latest`). Only safe when no
   * run is live (the engine makes sure). Returns how many nodes left.
   */
  evictIdle(before: number, maxNodes: number, latest: number): number {
    this.#materializeAll();
    let victims = this.#victims(before);
    if (maxNodes > 0 && this.#nodes.size - victims.size > maxNodes) victims = this.#victimsToFit(before, maxNodes, latest, victims);
    for (const n of victims) this.#evict(n, victims);
    this.evicted += victims.size;
    this.changes += victims.size;
    return victims.size;
  }

  /**
   * The largest upward-closed set of idle nodes touched before `before`: the
   * complement of what a live node reads, transitively. Found by walking down
   * from the nodes touched since `before` or with a task in flight (along
   * their committed edges and, for a task, the requests it made), so a sweep
   * costs one pass over the nodes and one over the kept edges, with no set
   * of candidates to shrink: in a daemon serving fully memoized runs the runs
   * touch only the nodes at the top, and nearly the whole graph (57,000 nodes
   * at 1,000 packages) is idle but kept.
   */
  #victims(before: number): Set<GraphNode> {
    const stamp = ++this.#walkStamp;
    const stack: GraphNode[] = [];
    let idle = 0;
    for (const n of this.#nodes.values()) {
      if (n.touched < before && n.task === undefined) {
        idle++;
        continue;
      }
      n.mark = stamp;
      stack.push(n);
    }
    // Within the window of a daemon's first runs nothing is idle: no walk.
    if (idle === 0) return new Set();
    while (stack.length > 0) {
      const n = stack.pop()!;
      for (const dep of n.deps) {
        if (dep.mark === stamp) continue;
        dep.mark = stamp;
        stack.push(dep);
      }
      const task = n.task;
      if (task === undefined) continue;
      for (const dep of task.deps) {
        if (dep.mark === stamp) continue;
        dep.mark = stamp;
        stack.push(dep);
      }
    }
    const victims = new Set<GraphNode>();
    for (const n of this.#nodes.values()) if (n.mark !== stamp) victims.add(n);
    return victims;
  }

  /** The victims of the lowest threshold in (before, latest] that brings the graph within `maxNodes`, or of `latest`. */
  #victimsToFit(before: number, maxNodes: number, latest: number, atBefore: Set<GraphNode>): Set<GraphNode> {
    const stamps = new Set<number>();
    for (const n of this.#nodes.values()) if (n.touched >= before && n.touched < latest) stamps.add(n.touched);
    const thresholds = [...stamps].sort((a, b) => a - b).map((t) => t + 1);
    // Victim sets grow with the threshold: binary search for the first that fits.
    let best = atBefore;
    let lo = 0;
    let hi = thresholds.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.#victims(thresholds[mid]!);
      if (v.size > best.size) best = v;
      if (this.#nodes.size - v.size <= maxNodes) {
        best = v;
        hi = mid - 1;
      } else {
        lo = mid + 1;
      }
    }
    return best;
  }

  #evict(node: GraphNode, victims: ReadonlySet<GraphNode>): void {
    node.evicted = true;
    this.#nodes.delete(node.key.id);
    for (const dep of node.deps) if (!victims.has(dep)) dep.removeDependent(node);
    if (node.path !== undefined) this.#paths.remove(node.path, node);
    if (node.input !== undefined) this.#inputs.delete(node);
    this.#transient.delete(node);
    if (node.state === 'dirty') this.dirty--;
  }

  /**
   * The memos worth keeping, as plain data (see PersistedGraph): every node
   * with a memo, no task in flight, a value `isPlainData` accepts (inputs:
   * a comparable copy), and every dependency kept too. Failures are not kept.
   */
  exportNodes(maxAgeRuns = 0): PersistedGraph {
    if (maxAgeRuns > 0) this.#forgetOld(maxAgeRuns);
    // A kept graph's records that no run made go out as they came in (their bytes, their
    // edges): an export after a run that needed a few of them makes none of the rest.
    const imported = this.#imported;
    const recordOut = imported === undefined ? undefined : new Int32Array(imported.nodes.length).fill(-1);
    const index = new Map<GraphNode, number>();
    const excluded = new Set<GraphNode | number>();
    const ids: string[] = [];
    const paths: (string | null)[] = [];
    const flags: number[] = [];
    const generations: number[] = [];
    const values: Uint8Array[] = [];
    const valueEnd: number[] = [];
    let valueBytes = 0;
    const depStart: number[] = [0];
    const deps: number[] = [];
    const depGenerations: number[] = [];
    const plain = (v: unknown): boolean => {
      if (typeof v !== 'object' || v === null) return isPlainData(v);
      if (this.#plainValues.has(v)) return true;
      if (!isPlainData(v)) return false;
      this.#plainValues.add(v);
      return true;
    };
    // A value still in the bytes it was loaded with was plain data when it was kept; so is a record's.
    const keepable = (e: GraphNode | number): boolean =>
      typeof e === 'number' ||
      (e.state !== 'new' && e.task === undefined && e.ok && !e.evicted && (e.input !== undefined || e.serializedValue !== undefined || plain(e.value)));
    /** A record as the node made of it, if any. */
    const entity = (d: number): GraphNode | number => imported!.nodes[d] ?? d;
    /** An entity's dependencies; a node whose edges were never walked still names records. */
    const depsOf = (e: GraphNode | number): readonly (GraphNode | number)[] => {
      const record = typeof e === 'number' ? e : e.lazyRecord;
      if (record < 0 || imported === undefined) return (e as GraphNode).deps;
      return Array.from(imported.depsOf(record).deps, entity);
    };
    const generationsOf = (e: GraphNode | number): ArrayLike<number> => (typeof e === 'number' ? imported!.depsOf(e).generations : e.depGenerations);
    const ages: number[] = [];
    const outOf = (e: GraphNode | number): number | undefined => (typeof e === 'number' ? (recordOut![e]! >= 0 ? recordOut![e] : undefined) : index.get(e));
    /** The value's bytes; undefined for a value that serialization refuses (what isPlainData does not walk: an array's extra properties). */
    const bytesOf = (e: GraphNode | number): Uint8Array | undefined => {
      if (typeof e === 'number') return imported!.valueBytes(e);
      if (e.serializedValue !== undefined) return e.serializedValue;
      try {
        // Each value on its own, so a reader deserializes only the ones it uses.
        return serialize(e.input !== undefined ? comparableCopy(e.value) : e.value);
      } catch {
        return undefined;
      }
    };
    const emit = (e: GraphNode | number, edges: readonly (GraphNode | number)[], bytes: Uint8Array): void => {
      const out = ids.length;
      if (typeof e === 'number') {
        const g = imported!.graph;
        recordOut![e] = out;
        ids.push(g.ids[e]!);
        paths.push(g.paths[e] ?? null);
        flags.push((imported!.dirty[e] === 1 ? FLAG_DIRTY : 0) | (imported!.force[e] === 1 ? FLAG_TRANSIENT : 0));
        generations.push(g.generations[e]!);
      } else {
        index.set(e, out);
        ids.push(e.key.id);
        paths.push(e.path ?? null);
        flags.push((e.state === 'dirty' ? FLAG_DIRTY : 0) | (this.#transient.has(e) || e.forceRecompute ? FLAG_TRANSIENT : 0) | (e.input !== undefined ? FLAG_INPUT : 0));
        generations.push(e.generation);
      }
      values.push(bytes);
      valueBytes += bytes.length;
      valueEnd.push(valueBytes);
      ages.push(this.#ageOf(e, imported));
      const observed = generationsOf(e);
      for (let i = 0; i < edges.length; i++) {
        deps.push(outOf(edges[i]!)!);
        depGenerations.push(observed[i]!);
      }
      depStart.push(deps.length);
    };
    const roots: Array<GraphNode | number> = [...this.#nodes.values()];
    if (imported !== undefined) for (let r = 0; r < imported.nodes.length; r++) if (imported.loadable[r] === 1 && imported.nodes[r] === undefined) roots.push(r);
    // Post-order over the dependency edges, iteratively: dependencies are written first.
    for (const root of roots) {
      if (outOf(root) !== undefined || excluded.has(root)) continue;
      const stack: Array<{ e: GraphNode | number; edges: readonly (GraphNode | number)[] | undefined; next: number }> = [{ e: root, edges: undefined, next: 0 }];
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        if (top.edges === undefined) {
          if (!keepable(top.e)) {
            excluded.add(top.e);
            stack.pop();
            continue;
          }
          top.edges = depsOf(top.e);
        }
        if (top.next < top.edges.length) {
          const dep = top.edges[top.next++]!;
          if (outOf(dep) === undefined && !excluded.has(dep)) stack.push({ e: dep, edges: undefined, next: 0 });
          continue;
        }
        stack.pop();
        const bytes = top.edges.some((d) => outOf(d) === undefined) ? undefined : bytesOf(top.e);
        if (bytes === undefined) {
          excluded.add(top.e);
          continue;
        }
        emit(top.e, top.edges, bytes);
      }
    }
    if (valueBytes > 0xffffffff) throw new Error(`the graph's values take ${valueBytes} bytes, more than a kept graph can hold`);
    const starts = Uint32Array.from(depStart);
    const edges = Uint32Array.from(deps);
    return {
      format: PERSISTED_GRAPH_FORMAT,
      ids,
      paths,
      flags: Uint8Array.from(flags),
      generations: Int32Array.from(generations),
      valueBytes: Buffer.concat(values, valueBytes),
      valueEnd: Uint32Array.from(valueEnd),
      depStart: starts,
      deps: edges,
      depGenerations: Int32Array.from(depGenerations),
      ages: Uint32Array.from(ages),
      ...indexRecords(ids, starts, edges),
    };
  }

  /**
   * How many runs ago a node or a record was last touched, counting each
   * process that kept the graph as one run at least: 0 for what this process
   * touched or made.
   */
  #ageOf(e: GraphNode | number, imported: ImportedRecords | undefined): number {
    return this.tick - (typeof e === 'number' ? -imported!.graph.ages[e]! : e.touched);
  }

  /**
   * Before an export: evicts what no run touched in the last `maxAgeRuns`
   * runs (closed upward, as evictIdle), across the processes that kept the
   * graph, so that a graph kept without a daemon stays bounded as edits make
   * new nodes and leave old ones behind. Done once a good share of the graph
   * is that old, since it makes every record a node first.
   */
  #forgetOld(maxAgeRuns: number): void {
    const imported = this.#imported;
    if (imported === undefined) return;
    const n = imported.nodes.length;
    let old = 0;
    for (let r = 0; r < n; r++) if (imported.loadable[r] === 1 && this.#ageOf(imported.nodes[r] ?? r, imported) > maxAgeRuns) old++;
    if (old === 0 || old < n / 8) return;
    this.#materializeAll();
    this.evictIdle(this.tick - maxAgeRuns, 0, this.tick);
  }

  /**
   * Loads an exported graph into this empty one, lazily (lazy-import.ts):
   * inputs are made now, every other node when a run first names it or walks
   * an edge to it, with the key the run names it by, else the one `rebuild`
   * makes from its id, else a StubKey. An input `rebuild` cannot make is left
   * out, with everything that depends on it. The file-system nodes at
   * `changed` (every one when null), the transient ones and everything above
   * them come back dirty, as if invalidated. Returns the nodes loaded.
   */
  importNodes(
    g: PersistedGraph,
    rebuild: (id: string, path: string | undefined) => AnyKey<unknown> | undefined,
    changed: ReadonlySet<string> | null,
    freshTransients: ReadonlySet<number> = new Set(),
  ): number {
    if (this.#nodes.size > 0 || this.#imported !== undefined) throw new Error('bug: a graph is imported only into an empty engine');
    if (g.format !== PERSISTED_GRAPH_FORMAT) return 0;
    const inputKeys = new Map<number, AnyKey<unknown>>();
    const dropped = new Set<number>();
    const imported = new ImportedRecords(g, (i) => {
      const key = rebuild(g.ids[i]!, undefined);
      if (key === undefined || !('readFrom' in key) || key.id !== g.ids[i]) {
        dropped.add(i);
        return false;
      }
      inputKeys.set(i, key);
      return true;
    });
    for (const i of dropped) this.unrebuilt.push({ id: g.ids[i]!, as: 'input' });
    this.#rebuild = rebuild;
    this.dirty += imported.invalidateAtImport(changed, freshTransients);
    const loaded = imported.remaining;
    if (loaded === 0) return 0;
    this.#imported = imported;
    for (const [i, key] of inputKeys) if (imported.loadable[i] === 1) this.#materialize(i, key);
    return loaded;
  }

  /**
   * Makes record i of the kept graph a node (once): with `key` when a run
   * names it, else the key rebuilt from its id, else a stub. Its
   * dependencies are made when something walks them; its dependents that
   * exist already learn of it, and those made later find it.
   */
  #materialize(i: number, key?: AnyKey<unknown>): GraphNode {
    const imported = this.#imported!;
    const made = imported.nodes[i];
    if (made !== undefined) return made;
    const g = imported.graph;
    const id = g.ids[i]!;
    const path = g.paths[i] ?? undefined;
    const input = (g.flags[i]! & FLAG_INPUT) !== 0;
    const fits = (k: AnyKey<unknown> | undefined): k is AnyKey<unknown> =>
      k !== undefined && ('readFrom' in k) === input && k.id === id && (input || (k as Key<unknown>).path === path);
    let k: AnyKey<unknown> | undefined = key;
    if (!fits(k)) k = input ? undefined : this.#rebuild(id, path);
    if (!fits(k)) {
      k = new StubKey(id, path ?? null);
      // Rule nodes are meant to come back as stubs; these compute on their own, so a stub costs recomputation above it.
      if (imported.force[i] === 1 || path !== undefined) this.unrebuilt.push({ id, as: imported.force[i] === 1 ? 'transient' : 'file-system' });
    }
    const node = new GraphNode(k);
    node.stub = isStub(k);
    node.generation = g.generations[i]!;
    node.setSerializedValue(imported.valueBytes(i));
    node.state = imported.dirty[i] === 1 ? 'dirty' : 'clean';
    node.forceRecompute = imported.force[i] === 1;
    // A transient memo checked fresh before the import comes back clean; the next run that invalidates transients must still reach it.
    if (node.forceRecompute && node.state === 'clean') this.#transient.add(node);
    if (input) node.importedInput = true;
    const { deps, generations } = imported.depsOf(i);
    // A view, not a copy: a build node of a 200-package TypeScript repo has ~1,000 edges, and
    // copying the 117,000 of a fully cached run's 810 nodes (Array.from, through the typed
    // array's iterator) made this function 31 ms of its CPU (9 ms without).
    node.depGenerations = generations;
    // Untouched for `age` runs before this process: as if touched that many runs before its first (see #ageOf).
    node.touched = -g.ages[i]!;
    if (deps.length > 0) {
      node.setLazyDeps(() => {
        const made = new Array<GraphNode>(deps.length);
        for (let j = 0; j < deps.length; j++) made[j] = this.#materializeRecord(imported, deps[j]!);
        return made;
      }, i);
    }
    const dependents: GraphNode[] = [];
    imported.forEachDependent(i, (d) => {
      const n = imported.nodes[d];
      if (n !== undefined) dependents.push(n);
    });
    node.initDependents(dependents);
    let last = -1;
    // Indexed, not `for…of` (a typed array's iterator is slow in the code a short process runs).
    for (let j = 0; j < deps.length; j++) {
      const d = deps[j]!;
      // A dependency listed twice is one reverse edge (addDependent's rule).
      if (d !== last) imported.nodes[d]?.addDependent(node);
      last = d;
    }
    imported.nodes[i] = node;
    this.#nodes.set(id, node);
    if (node.path !== undefined) this.#paths.add(node.path, node);
    if (node.input !== undefined) this.#inputs.add(node);
    imported.remaining--;
    this.loaded++;
    if (!input) imported.madeOthers++;
    return node;
  }

  /** Record d's node, made if need be: an edge walked after the import was released still finds its node. */
  #materializeRecord(imported: ImportedRecords, d: number): GraphNode {
    const made = imported.nodes[d];
    if (made !== undefined) return made;
    if (this.#imported !== imported) throw new Error('bug: an edge of a kept graph was walked after its records were released');
    return this.#materialize(d);
  }

  /** Makes every record of a kept graph a node (a whole-graph operation is next), and forgets the records. */
  #materializeAll(): void {
    const imported = this.#imported;
    if (imported === undefined) return;
    for (let i = 0; i < imported.nodes.length; i++) if (imported.loadable[i] === 1 && imported.nodes[i] === undefined) this.#materialize(i);
    // Every node's lazy edges must resolve before the records go.
    for (const node of imported.nodes) void node?.deps;
    this.#imported = undefined;
  }

  /** Answers one `get`, recording the edge when the requester is a computation. */
  request<V>(requester: Requester, key: AnyKey<V>): Promise<V> {
    const node = this.#nodeFor(key);
    node.touched = this.tick;
    if (node.state === 'new' && node.input !== undefined) this.#initInput(node, requester.scope);
    const from = requester.task;
    let slot = -1;
    if (from === undefined) {
      if (requester.signal.aborted) return rejectAborted('the run was cancelled');
      requester.requested?.add(node);
      if (node.state === 'clean') return memo(node);
    } else {
      if (from.status !== 'running') return rejectAborted('the computation making this request has finished or was cancelled');
      if (from.node.path !== undefined) return Promise.reject(pathKeyGetError(from.node, node));
      slot = from.addDep(node);
      // Added now, not at commit, so an invalidation arriving while `from` runs reaches it.
      node.addDependent(from.node);
      if (node.state === 'clean') {
        from.observe(slot, node.generation);
        return memo(node);
      }
    }
    const task = this.#evaluationFor(node, from, requester.scope);
    if (!(task instanceof Task)) {
      from!.observe(slot, POISONED_GENERATION);
      from!.tainted = true;
      return Promise.reject(new EngineCycleError(cyclePath(task), [...task, task[0]!].map((t) => t.node.key)));
    }
    if (from !== undefined) {
      const waiter = Waiter.forTask(task, from, slot);
      task.addWaiter(waiter);
      from.addPending(waiter);
      return task.promise as Promise<V>;
    }
    const { waiter, promise } = Waiter.forRun(task, requester);
    task.addWaiter(waiter);
    requester.addPending(waiter);
    return promise as Promise<V>;
  }

  /** Withdraws every pending request of `requester` (a run that was cancelled). */
  cancel(requester: Requester): void {
    this.#withdraw(requester.livePending(), abortError('the run was cancelled'));
  }

  #nodeFor(key: AnyKey<unknown>): GraphNode {
    let node = this.#nodes.get(key.id);
    if (node === undefined && this.#imported !== undefined) {
      const record = this.#imported.recordOf(key.id);
      if (record !== undefined) node = this.#materialize(record, key);
    }
    if (node === undefined) {
      node = new GraphNode(key);
      this.#nodes.set(key.id, node);
      if (node.path !== undefined) this.#paths.add(node.path, node);
      if (node.input !== undefined) this.#inputs.add(node);
      this.changes++;
    } else if (node.stub && !isStub(key)) {
      // An imported node named by a run or a computation: from now on it can compute.
      node.key = key;
      node.stub = false;
    }
    return node;
  }

  /**
   * An input's first read takes its value from the requesting run: every live
   * run has the same inputs (the engine makes sure), so any of them would do.
   * Synchronous, so the read that follows finds it clean.
   */
  #initInput(node: GraphNode, scope: RunScope): void {
    const inputs = scope.inputs;
    if (inputs === undefined) {
      throw new Error(`bug: ${node.describe()} is an input, but ${scope.describeScope()} brought no inputs`);
    }
    node.value = node.input!.readFrom(inputs);
    node.ok = true;
    node.generation = 1;
    node.state = 'clean';
  }

  /**
   * The evaluation a request for `node` should wait on, started if there is
   * none; or, if `from` waiting on it would close a cycle, that cycle.
   */
  #evaluationFor(node: GraphNode, from: Task | undefined, scope: RunScope): Task | Task[] {
    let task = node.task;
    if (task !== undefined && task.stale) {
      // It may have read pre-invalidation inputs. It keeps serving its waiters,
      // but newer requests get a fresh evaluation against the current snapshot.
      node.task = undefined;
      task = undefined;
    }
    if (task === undefined) {
      task = new Task(node, this.#awaits.nextOrd(), scope);
      node.task = task;
      this.#schedule(task);
    }
    if (from !== undefined) {
      const cycle = this.#awaits.add(from, task);
      if (cycle !== undefined) return cycle;
    }
    return task;
  }

  /**
   * Never start synchronously: a cold chain of 50,000 nodes would otherwise nest
   * 50,000 compute() calls on one stack. Starts are queued and drained by one
   * microtask; tasks started while draining join the same loop, iteratively.
   */
  #schedule(task: Task): void {
    this.#startQueue.push(task);
    if (this.#startQueue.length === 1) queueMicrotask(this.#drainStartQueue);
  }

  readonly #drainStartQueue = (): void => {
    const queue = this.#startQueue;
    for (let i = 0; i < queue.length; i++) {
      const task = queue[i]!;
      try {
        this.#run(task);
      } catch (e) {
        // A bug here must fail this request, not wedge the queue for every later one.
        this.#finish(task, false, e);
      }
    }
    queue.length = 0;
  };

  #run(task: Task): void {
    if (task.status !== 'running') return;
    const node = task.node;
    if (node.state === 'clean') {
      // A replacement task committed before this one got to start.
      this.#finishUnchanged(task);
    } else if (node.state === 'dirty' && node.path === undefined && !node.forceRecompute) {
      if (node.lazyRecord >= 0) this.#revalidateRecord(task, node.lazyRecord, 0);
      else this.#revalidate(task, node.deps, node.depGenerations, 0);
    } else {
      this.#compute(task);
    }
  }

  /**
   * Early cut-off: walk the previous computation's edges in the order it made
   * them; the first dependency whose generation moved means the node must be
   * recomputed. Order matters, because a later edge may exist only because of an
   * earlier value (and need not be valid any more). Clean dependencies are
   * checked synchronously, so a wide node with few changes stays cheap.
   */
  #revalidate(task: Task, deps: readonly GraphNode[], generations: ArrayLike<number>, start: number): void {
    for (let i = start; i < deps.length; i++) {
      const seen = generations[i]!;
      if (seen < 0) return this.#compute(task);
      const dep = deps[i]!;
      dep.touched = this.tick;
      if (dep.state === 'clean') {
        if (dep.generation !== seen) return this.#compute(task);
        continue;
      }
      const next = i + 1;
      return this.#awaitDep(task, dep, seen, () => this.#revalidate(task, deps, generations, next));
    }
    this.#finishUnchanged(task);
  }

  /**
   * `#revalidate` for a node of a kept graph whose dependencies are not made
   * yet: a dependency that is still a clean record is checked on the arrays,
   * without making it (a cached run re-validates hundreds of nodes through
   * thousands of such edges); the others are made and checked as nodes.
   */
  #revalidateRecord(task: Task, record: number, start: number): void {
    const node = task.node;
    const imported = this.#imported;
    // Made meanwhile (every record is, before a whole-graph operation): the same edges, as nodes.
    if (imported === undefined || node.lazyRecord !== record) return this.#revalidate(task, node.deps, node.depGenerations, start);
    const { deps, generations } = imported.depsOf(record);
    const kept = imported.graph.generations;
    for (let i = start; i < deps.length; i++) {
      const seen = generations[i]!;
      if (seen < 0) return this.#compute(task);
      const d = deps[i]!;
      const dep = imported.nodes[d];
      if (dep === undefined && imported.dirty[d] === 0) {
        if (kept[d] !== seen) return this.#compute(task);
        continue;
      }
      const made = dep ?? this.#materialize(d);
      made.touched = this.tick;
      if (made.state === 'clean') {
        if (made.generation !== seen) return this.#compute(task);
        continue;
      }
      const next = i + 1;
      return this.#awaitDep(task, made, seen, () => this.#revalidateRecord(task, record, next));
    }
    this.#finishUnchanged(task);
  }

  /**
   * A re-validation meets a dependency that is not clean: it waits for that
   * dependency's evaluation, then goes on (`resume`) if its generation is the
   * one `task` saw, or recomputes.
   */
  #awaitDep(task: Task, dep: GraphNode, seen: number, resume: () => void): void {
    const depTask = this.#evaluationFor(dep, task, task.scope);
    // A cycle: let compute() meet it through ctx.get, where it is reported.
    if (!(depTask instanceof Task)) return this.#compute(task);
    const probe = Waiter.forProbe(depTask, task, (outcome) => {
      if (task.status !== 'running') return;
      if (outcome.committed && outcome.generation === seen) resume();
      else this.#compute(task);
    });
    depTask.addWaiter(probe);
    task.addPending(probe);
  }

  /** Every dependency was unchanged: the memo is valid again without computing. */
  #finishUnchanged(task: Task): void {
    task.status = 'done';
    const node = task.node;
    let committed = node.state === 'clean';
    if (!committed && !task.stale && node.task === task) {
      node.state = 'clean';
      this.dirty--;
      this.revalidated++;
      committed = true;
    }
    if (node.task === task) node.task = undefined;
    this.#deliver(task, memoOutcome(node, committed));
  }

  #compute(task: Task): void {
    const node = task.node;
    if (node.stub) {
      // An imported node must recompute before a run named it: it cannot, so
      // it answers "not memoized", and whoever re-validated through it
      // recomputes, naming it with its real key. It stays dirty meanwhile.
      // Through the microtask queue: a chain of stubs must not nest.
      node.forceRecompute = true;
      queueMicrotask(() => {
        if (task.status !== 'running') return;
        // Named meanwhile (a computation joined this task with the real key): compute after all.
        if (!node.stub) this.#compute(task);
        else this.#finish(task, false, STUB_CANNOT_COMPUTE);
      });
      return;
    }
    this.computes++;
    let result: Promise<unknown>;
    try {
      const key = node.key as Key<unknown>;
      this.#onCompute?.(key);
      result = Promise.resolve(key.compute(new TaskContext(this, task), task.signal));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (value) => this.#finish(task, true, value),
      (error: unknown) => this.#finish(task, false, error),
    );
  }

  #finish(task: Task, ok: boolean, result: unknown): void {
    // Abandoned: the node was restored when the last waiter left, and nobody is listening.
    if (task.status !== 'running') return;
    task.status = 'done';
    const orphans = task.livePending();
    if (orphans.length > 0) {
      // Requests compute() made and then stopped waiting for (e.g. getAll after a rejection).
      this.#withdraw(orphans, abortError('the computation that made this request has finished'));
    }
    const node = task.node;
    const memoizable = ok || isMemoizableFailure(result);
    let outcome: Outcome;
    if (memoizable && !task.stale && !task.tainted && node.task === task) {
      this.#commit(task, ok, result);
      outcome = memoOutcome(node, true);
    } else {
      this.#releaseEdges(task);
      outcome = ok
        ? { ok, value: result, error: undefined, committed: false, generation: node.generation }
        : { ok, value: undefined, error: result, committed: false, generation: node.generation };
    }
    if (node.task === task) node.task = undefined;
    this.#deliver(task, outcome);
  }

  #commit(task: Task, ok: boolean, result: unknown): void {
    const node = task.node;
    if (node.state === 'new' || !sameResult(node, ok, result)) {
      this.changes++;
      node.generation++;
      node.ok = ok;
      node.value = ok ? result : undefined;
      node.error = ok ? undefined : (result as FailureError);
    }
    // Else keep the old value object: dependents compared against it, and identity
    // makes the next deepEqual against it instant.
    for (const old of node.deps) if (!task.hasDep(old)) old.removeDependent(node);
    const generations = task.generations;
    for (let i = 0; i < generations.length; i++) {
      if (generations[i] === PENDING_GENERATION) generations[i] = POISONED_GENERATION;
    }
    // The node keeps these for its lifetime: trim the slack long lists grew by push.
    const exact = generations.length <= EXACT_UP_TO;
    if (!sameEdges(node, task.deps, generations)) this.changes++;
    node.deps = exact ? task.deps : task.deps.slice();
    const shared = sharedGenerations(generations);
    node.depGenerations = shared !== generations || exact ? shared : generations.slice();
    if (node.state === 'dirty') this.dirty--;
    node.state = 'clean';
    node.forceRecompute = false;
    // A value that took several runs to arrive is as fresh as the run it arrived in.
    node.touched = this.tick;
    if (ok && isTransient(node, result)) this.#transient.add(node);
    else this.#transient.delete(node);
  }

  /** Drops the reverse edges a non-committing task added that nothing else justifies. */
  #releaseEdges(task: Task): void {
    const node = task.node;
    if (task.deps.length === 0) return;
    const current = node.task !== task ? node.task : undefined;
    const committed = node.deps.length > SET_THRESHOLD ? new Set(node.deps) : undefined;
    for (const dep of task.deps) {
      const kept = committed !== undefined ? committed.has(dep) : node.hasCommittedDep(dep);
      if (!kept && current?.hasDep(dep) !== true) dep.removeDependent(node);
    }
  }

  #deliver(task: Task, outcome: Outcome): void {
    task.deliver(outcome);
  }

  /**
   * Rejects `waiters` with `error` and aborts every evaluation left with nobody
   * waiting, transitively (an abandoned evaluation withdraws its own requests).
   * An abandoned node goes back to what it was: abort is never memoized.
   */
  #withdraw(waiters: readonly Waiter[], error: Error): void {
    const abandoned: Task[] = [];
    const detach = (w: Waiter): void => {
      if (w.done) return;
      w.cancel(error);
      const target = w.target;
      if (--target.liveWaiters === 0 && target.status === 'running') abandoned.push(target);
    };
    for (const w of waiters) detach(w);
    const aborted: Task[] = [];
    while (abandoned.length > 0) {
      const task = abandoned.pop()!;
      if (task.status !== 'running' || task.liveWaiters > 0) continue;
      task.status = 'aborted';
      if (task.node.task === task) task.node.task = undefined;
      this.#releaseEdges(task);
      for (const w of task.livePending()) detach(w);
      aborted.push(task);
    }
    // Last, once the graph is consistent: abort listeners run user code synchronously.
    if (aborted.length > 0) {
      const reason = abortError('no request is waiting for this computation any more');
      for (const t of aborted) t.abort(reason);
    }
  }
}

/** The `ctx` a compute() receives: every read goes through the graph and records an edge. */
class TaskContext implements ComputeContext {
  readonly #graph: Graph;
  readonly #task: Task;

  constructor(graph: Graph, task: Task) {
    this.#graph = graph;
    this.#task = task;
  }

  get<V>(key: AnyKey<V>): Promise<V> {
    return this.#graph.request(this.#task, key);
  }

  getAll<V>(keys: readonly AnyKey<V>[]): Promise<V[]> {
    return Promise.all(keys.map((k) => this.#graph.request(this.#task, k)));
  }

  slot<T>(slot: RunSlot<T>): T {
    return slotValue(this.#task.scope, slot);
  }
}

/**
 * A FailureError is an answer about the inputs, memoized like a value, unless
 * it is tagged `environment`: a blob missing from the store, an I/O error, an
 * unreachable server are facts about the machine at that moment, and
 * memoizing one would fail every later run of a warm daemon the same way
 * after the machine recovered. Those are delivered but not memoized, like
 * any other exception; computations that consumed them are not either.
 */
/** A node whose value is current and held: clean, a success, not evicted (cleanValue, transientValues). */
function hasCleanValue(node: GraphNode): boolean {
  return node.state === 'clean' && node.ok && !node.evicted;
}

function isMemoizableFailure(e: unknown): boolean {
  return isFailureError(e) && !isAbortError(e) && e.failure.tag !== 'environment';
}

/** What an imported node answers when it must recompute before anyone named it: never memoized. */
const STUB_CANNOT_COMPUTE = new Error('an imported node must recompute, and no run has named its key yet');

/** Whether a commit keeps the node's edges (the same dependencies, observed at the same generations). */
function sameEdges(node: GraphNode, deps: readonly GraphNode[], generations: readonly number[]): boolean {
  if (node.deps.length !== deps.length) return false;
  for (let i = 0; i < deps.length; i++) if (node.deps[i] !== deps[i] || node.depGenerations[i] !== generations[i]) return false;
  return true;
}

function memo<V>(node: GraphNode): Promise<V> {
  return node.ok ? Promise.resolve(node.value as V) : Promise.reject(node.error);
}

function memoOutcome(node: GraphNode, committed: boolean): Outcome {
  return { ok: node.ok, value: node.value, error: node.error, committed, generation: node.generation };
}

function sameResult(node: GraphNode, ok: boolean, result: unknown): boolean {
  if (node.ok !== ok) return false;
  if (!ok) return deepEqual(node.error?.failure, (result as FailureError).failure);
  try {
    const equal = node.key.equal;
    return equal !== undefined ? equal.call(node.key, node.value, result) : deepEqual(node.value, result);
  } catch {
    // A throwing equal() can only cost recomputation upstream, never staleness.
    return false;
  }
}

function isTransient(node: GraphNode, value: unknown): boolean {
  try {
    const key = node.key as Key<unknown>;
    return key.isTransient?.(value) === true;
  } catch {
    // Treating a value as transient only costs a recomputation; never staleness.
    return true;
  }
}

function rejectAborted<V>(message: string): Promise<V> {
  return Promise.reject(abortError(message));
}

function cyclePath(tasks: readonly Task[]): string[] {
  const names = tasks.map((t) => t.node.describe());
  names.push(names[0]!);
  return names;
}

function pathKeyGetError(from: GraphNode, dep: GraphNode): FailureError {
  return new FailureError(
    failure(
      'internal',
      'engine-path-key-get',
      `${from.describe()} has a path and must not read other keys, but it asked for ${dep.describe()}`,
    ),
  );
}
