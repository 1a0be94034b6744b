import { deserialize } from 'node:v8';
import { mapLimit } from '../core/index.js';
import { deepEqual } from './deep-equal.js';
import { FLAG_DIRTY, FLAG_INPUT, FLAG_TRANSIENT, recordValueBytes, type PersistedGraph } from './persist.js';
import type { AnyKey, ComputeContext, Key } from './types.js';

/**
 * The context of a key computed on its own, outside a run (before a kept
 * graph's import, or for a live graph's moved paths: Graph.pathsReadingOtherwise):
 * a path key reads the world, never another key (types.ts `Key.path`); a
 * transient key that asks another is not one transientReadingAsKept can
 * check, and is left dirty.
 */
export const NO_CONTEXT: ComputeContext = {
  get: () => Promise.reject(new Error('computed on its own: no other key can be read')),
  getAll: () => Promise.reject(new Error('computed on its own: no other key can be read')),
  slot: () => {
    throw new Error('computed on its own: no run slot');
  },
};

/** How many paths are read again at once: enough to keep the thread pool busy, few enough not to flood it. */
export const RECHECK_CONCURRENCY = 16;

/**
 * Past this many moved paths none is read again here: they are all changed,
 * as before. The reads are eager, where a run reads only what it reaches (a
 * `list ::` never hashes a source file), so after a checkout that moved
 * thousands of files this would read and hash them all up front.
 */
export const MAX_PATHS_READ_AGAIN = 512;

/**
 * Of the `changed` paths of a kept graph (those whose stamps no longer
 * prove them unchanged, fs/path-stamps.ts), the ones whose file-system
 * records now read otherwise. Every record at such a path is computed
 * again with its real key (`rebuild`) and compared with its kept value as
 * the engine compares a recomputation (the key's `equal`, else deepEqual);
 * a path whose records all read as kept is left out, so the import does not
 * mark what depends on it dirty.
 *
 * Why this is worth it: a stamp moves for more than the contents a record
 * reads — a directory whose entry came and went (an output deleted and
 * written back), a file rewritten with the same bytes, a directory touched
 * by the run that kept the graph — and a record marked dirty at import
 * dirties everything above it, which the run must then make and re-validate
 * (thousands of nodes for the root's listing). This is early cut-off done
 * before the import instead of during the run, and is as exact: a key with
 * a path is a function of what is at its path alone.
 *
 * A record whose key cannot be rebuilt, or whose compute throws (a failure
 * is never kept, so it differs), keeps its path changed; so does every path
 * when more than `maxPaths` moved.
 */
export async function pathsReadingOtherwise(
  graph: PersistedGraph,
  rebuild: (id: string, path: string | undefined) => AnyKey<unknown> | undefined,
  changed: ReadonlySet<string>,
  maxPaths = MAX_PATHS_READ_AGAIN,
): Promise<Set<string>> {
  if (changed.size > maxPaths) return new Set(changed);
  const recordsAt = new Map<string, number[]>();
  const { paths } = graph;
  if (changed.size > 0) {
    for (let i = 0; i < paths.length; i++) {
      const p = paths[i];
      if (p === null || p === undefined || !changed.has(p)) continue;
      let rs = recordsAt.get(p);
      if (rs === undefined) recordsAt.set(p, (rs = []));
      rs.push(i);
    }
  }
  const otherwise = new Set<string>();
  // A changed path no record reads is left as changed: the import ignores it anyway.
  for (const p of changed) if (!recordsAt.has(p)) otherwise.add(p);
  const signal = new AbortController().signal;
  const pathReadsAsKept = async (records: readonly number[]): Promise<boolean> => {
    for (const i of records) if (!(await readsAsKept(graph, i, rebuild, signal)).asKept) return false;
    return true;
  };
  await mapLimit([...recordsAt], RECHECK_CONCURRENCY, async ([path, records]) => {
    if (!(await pathReadsAsKept(records))) otherwise.add(path);
  });
  return otherwise;
}

/**
 * The transient records of a kept graph (a tool looked up on PATH, a
 * program's digest: the machine, which no stamp covers) that compute on
 * their own — without asking another key — and compute now to what was
 * kept: record indexes for Engine.importGraph's `freshTransients`. Each is
 * computed here, before the import, exactly as the run would compute it on
 * its first request; one that reads as kept need not dirty the records
 * above it (every process that runs a tool: 400–800 re-validations a run
 * in the 200-package repos). One that asks another key, cannot be rebuilt,
 * throws or differs is left out, and recomputes as before.
 */
export async function transientReadingAsKept(
  graph: PersistedGraph,
  rebuild: (id: string, path: string | undefined) => AnyKey<unknown> | undefined,
  checked?: (check: TransientCheck) => void,
): Promise<Set<number>> {
  const candidates: number[] = [];
  for (let i = 0; i < graph.flags.length; i++) {
    const f = graph.flags[i]!;
    if ((f & FLAG_TRANSIENT) !== 0 && (f & (FLAG_INPUT | FLAG_DIRTY)) === 0) candidates.push(i);
  }
  const fresh = new Set<number>();
  const signal = new AbortController().signal;
  await Promise.all(
    candidates.map(async (i) => {
      const check = await readsAsKept(graph, i, rebuild, signal);
      if (check.asKept) fresh.add(i);
      checked?.(check);
    }),
  );
  return fresh;
}

/** What transientReadingAsKept found of one transient record: its key and value now when it read as kept. */
export type TransientCheck = { readonly asKept: true; readonly key: Key<unknown>; readonly value: unknown } | { readonly asKept: false };

const NOT_AS_KEPT: TransientCheck = { asKept: false };

/**
 * Whether record `i`, rebuilt as its real key and computed now without any
 * other key, equals its kept value (as the engine compares). Not when it
 * cannot be rebuilt, is an input, or throws.
 */
async function readsAsKept(
  graph: PersistedGraph,
  i: number,
  rebuild: (id: string, path: string | undefined) => AnyKey<unknown> | undefined,
  signal: AbortSignal,
): Promise<TransientCheck> {
  const id = graph.ids[i]!;
  const path = graph.paths[i] ?? undefined;
  const key = rebuild(id, path);
  if (key === undefined || 'readFrom' in key || key.id !== id || (key as Key<unknown>).path !== path) return NOT_AS_KEPT;
  const k = key as Key<unknown>;
  let now: unknown;
  try {
    now = await k.compute(NO_CONTEXT, signal);
  } catch {
    return NOT_AS_KEPT;
  }
  const kept: unknown = deserialize(recordValueBytes(graph, i));
  try {
    return (k.equal !== undefined ? k.equal(kept, now) : deepEqual(kept, now)) ? { asKept: true, key: k, value: now } : NOT_AS_KEPT;
  } catch {
    return NOT_AS_KEPT;
  }
}
