import { deserialize } from 'node:v8';
import type { AnyKey, ComputeContext, Key } from './types.js';

/**
 * A graph's memos as plain data, for `Engine.exportGraph`/`importGraph`: what
 * a process without a daemon keeps between runs (v8.serialize-able as is).
 * Records are in dependency order (every dependency before its dependents),
 * so an import decides in one pass whether a node's whole closure came back.
 *
 * Numbers are typed arrays and each value is serialized on its own, so that
 * reading the file back costs little more than a copy: a run that loads a
 * graph of ten thousand nodes and needs a few hundred deserializes those only
 * (see lazy-import.ts).
 */
export interface PersistedGraph {
  readonly format: typeof PERSISTED_GRAPH_FORMAT;
  readonly ids: readonly string[];
  /** Per record: the node's path (file-system keys), or null. */
  readonly paths: readonly (string | null)[];
  /** Per record: FLAG_* bits. */
  readonly flags: Uint8Array;
  readonly generations: Int32Array;
  /** Record i's value, v8-serialized, is `valueBytes[valueEnd[i-1] .. valueEnd[i])` (from 0 for record 0). */
  readonly valueBytes: Uint8Array;
  readonly valueEnd: Uint32Array;
  /** Record i's dependencies are `deps[depStart[i] .. depStart[i+1])` (record indices), observed at `depGenerations`. */
  readonly depStart: Uint32Array;
  readonly deps: Uint32Array;
  readonly depGenerations: Int32Array;
  /** How many runs (a process without a daemon is one) ago each record was last touched. */
  readonly ages: Uint32Array;
  /** Record i's dependents are `rev[revStart[i] .. revStart[i+1])` (each once). */
  readonly revStart: Uint32Array;
  readonly rev: Uint32Array;
  /** Record indices sorted by id (UTF-16 code units, as `<` compares): a loader finds an id without a map of them all. */
  readonly byId: Uint32Array;
}

/** The reverse edges and the id order of a graph's records, which `exportGraph` writes so that a loader need not build them. */
export function indexRecords(ids: readonly string[], depStart: Uint32Array, deps: Uint32Array): Pick<PersistedGraph, 'revStart' | 'rev' | 'byId'> {
  const n = ids.length;
  const revStart = new Uint32Array(n + 1);
  const each = (fn: (dependent: number, dep: number) => void): void => {
    for (let i = 0; i < n; i++) {
      let last = -1;
      for (let j = depStart[i]!; j < depStart[i + 1]!; j++) {
        const d = deps[j]!;
        // A dependency listed twice is one reverse edge (addDependent's rule).
        if (d !== last) fn(i, d);
        last = d;
      }
    }
  };
  each((_, d) => revStart[d + 1]!++);
  for (let i = 0; i < n; i++) revStart[i + 1]! += revStart[i]!;
  const rev = new Uint32Array(revStart[n]!);
  const fill = revStart.slice();
  each((i, d) => {
    rev[fill[d]!++] = i;
  });
  const byId = Uint32Array.from(ids.keys()).sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
  return { revStart, rev, byId };
}

/** Record i's value, v8-serialized (see PersistedGraph.valueBytes). */
export function recordValueBytes(g: PersistedGraph, i: number): Uint8Array {
  return g.valueBytes.subarray(i === 0 ? 0 : g.valueEnd[i - 1]!, g.valueEnd[i]!);
}

/** The record of `id`, if the graph has one: a binary search of the records sorted by id (`byId`). */
export function recordIndexOf(g: PersistedGraph, id: string): number | undefined {
  let lo = 0;
  let hi = g.byId.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const i = g.byId[mid]!;
    const at = g.ids[i]!;
    if (at === id) return i;
    if (at < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** The kept value of the record `id`, when the graph holds one that is not dirty (deserialized); undefined otherwise. */
export function keptCleanValue(g: PersistedGraph, id: string): { readonly value: unknown } | undefined {
  const i = recordIndexOf(g, id);
  return i === undefined || (g.flags[i]! & FLAG_DIRTY) !== 0 ? undefined : { value: deserialize(recordValueBytes(g, i)) };
}

export const PERSISTED_GRAPH_FORMAT = 4;
export const FLAG_DIRTY = 1;
export const FLAG_TRANSIENT = 2;
export const FLAG_INPUT = 4;

/**
 * What an imported node carries until a run names it with its real key: the
 * id (and path) only. It can be re-validated — its edges and memo are there —
 * but not computed; a stub whose dependencies moved tells whoever
 * re-validates through it to recompute, and the real key arrives with that
 * recomputation's `ctx.get`.
 */
export class StubKey implements Key<unknown> {
  readonly id: string;
  readonly path?: string;
  constructor(id: string, path: string | null) {
    this.id = id;
    if (path !== null) this.path = path;
  }
  compute(_ctx: ComputeContext): Promise<unknown> {
    return Promise.reject(new Error(`bug: the imported node ${this.id} was computed without its key`));
  }
}

export function isStub(key: AnyKey<unknown>): key is StubKey {
  return key instanceof StubKey;
}

/**
 * How many objects a walk of one value visits before it starts remembering
 * what it has seen: a value is almost always a tree, and a Set of every
 * object walked was two thirds of the check's cost (a cold N=1000 `list ::`
 * keeps 400,000 objects). A cycle or a much-shared part runs into the budget,
 * and the walk starts again with the Set.
 */
const UNGUARDED_OBJECTS = 1 << 18;

/**
 * Whether `value` survives v8.serialize/deserialize as the same thing: only
 * plain objects, arrays, Maps, Sets, Dates, byte arrays and primitives. A
 * class instance would come back as a plain object without its methods (or
 * `instanceof`), a symbol-keyed property would be dropped, a function would
 * throw: such values are not persisted.
 */
export function isPlainData(value: unknown): boolean {
  const verdict = walkPlainData(value, undefined);
  return verdict === 'over-budget' ? walkPlainData(value, new Set()) === true : verdict;
}

function walkPlainData(value: unknown, seen: Set<object> | undefined): boolean | 'over-budget' {
  const stack: unknown[] = [value];
  let objects = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object') {
      const t = typeof v;
      if (t === 'string' || t === 'number' || t === 'boolean' || t === 'undefined' || t === 'bigint') continue;
      return false;
    }
    if (v === null) continue;
    if (seen === undefined) {
      if (++objects > UNGUARDED_OBJECTS) return 'over-budget';
    } else {
      if (seen.has(v)) continue;
      seen.add(v);
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Array.prototype) {
      const a = v as unknown[];
      // By index: Object.keys of an array makes a string per element.
      for (let i = 0; i < a.length; i++) stack.push(a[i]);
    } else if (proto === Object.prototype || proto === null) {
      // One array of keys, symbols last: a symbol-keyed property would be dropped.
      const o = v as Record<string | symbol, unknown>;
      for (const k of Reflect.ownKeys(o)) {
        if (typeof k === 'symbol') return false;
        stack.push(o[k]);
      }
    } else if (proto === Map.prototype) {
      for (const [k, x] of v as Map<unknown, unknown>) stack.push(k, x);
    } else if (proto === Set.prototype) {
      for (const x of v as Set<unknown>) stack.push(x);
    } else if (proto !== Uint8Array.prototype && proto !== Buffer.prototype && proto !== Date.prototype) {
      return false;
    }
  }
  return true;
}

/**
 * An input's value as it is kept: only ever compared (by the input's
 * `equal`) with the next run's value, which then replaces it, so functions
 * (an options view's getters) are dropped and class instances flattened.
 */
export function comparableCopy(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (depth > 64) return undefined;
  if (Array.isArray(value)) return value.map((x) => comparableCopy(x, depth + 1));
  if (value instanceof Uint8Array || value instanceof Date) return value;
  if (value instanceof Map) return new Map([...value].map(([k, x]) => [k, comparableCopy(x, depth + 1)]));
  if (value instanceof Set) return new Set([...value].map((x) => comparableCopy(x, depth + 1)));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const x = (value as Record<string, unknown>)[k];
    if (typeof x !== 'function') out[k] = comparableCopy(x, depth + 1);
  }
  return out;
}
