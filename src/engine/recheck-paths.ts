import { deserialize } from 'node:v8';
import { deepEqual } from './deep-equal.js';
import type { PersistedGraph } from './persist.js';
import type { AnyKey, ComputeContext, Key } from './types.js';

/** A path key reads the world, never another key (types.ts `Key.path`): a context it calls is a bug. */
const NO_CONTEXT: ComputeContext = {
  get: () => Promise.reject(new Error('bug: a key with a path read another key')),
  getAll: () => Promise.reject(new Error('bug: a key with a path read another key')),
  slot: () => {
    throw new Error('bug: a key with a path read a run slot');
  },
};

/** How many paths are read again at once: enough to keep the thread pool busy, few enough not to flood it. */
const CONCURRENCY = 16;

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
  const readsAsKept = async (path: string, records: readonly number[]): Promise<boolean> => {
    for (const i of records) {
      const id = graph.ids[i]!;
      const key = rebuild(id, path);
      if (key === undefined || 'readFrom' in key || key.id !== id || (key as Key<unknown>).path !== path) return false;
      const k = key as Key<unknown>;
      let now: unknown;
      try {
        now = await k.compute(NO_CONTEXT, signal);
      } catch {
        return false;
      }
      const start = i === 0 ? 0 : graph.valueEnd[i - 1]!;
      const kept: unknown = deserialize(graph.valueBytes.subarray(start, graph.valueEnd[i]!));
      try {
        if (!(k.equal !== undefined ? k.equal(kept, now) : deepEqual(kept, now))) return false;
      } catch {
        return false;
      }
    }
    return true;
  };
  const queue = [...recordsAt];
  const worker = async (): Promise<void> => {
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      const [path, records] = next;
      if (!(await readsAsKept(path, records))) otherwise.add(path);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  return otherwise;
}
