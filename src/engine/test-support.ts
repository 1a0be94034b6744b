/**
 * Fixtures for the engine's own tests (*.test.ts): an in-memory "file system"
 * whose keys carry paths, derived keys built from closures, and a compute log.
 * Not part of the public API.
 */
import { createEngine } from './engine.js';
import type { ComputeContext, Engine, Key } from './types.js';

export class World {
  readonly files = new Map<string, string>();
  /** Ids of the keys whose compute() started, in order. */
  readonly log: string[] = [];
  readonly engine: Engine;

  constructor(files: Record<string, string> = {}) {
    for (const [p, c] of Object.entries(files)) this.files.set(p, c);
    this.engine = createEngine({ onCompute: (k) => this.log.push(k.id) });
  }

  /** How many times `id` was computed since the last `reset()`. */
  count(id: string): number {
    return this.log.filter((x) => x === id).length;
  }

  reset(): void {
    this.log.length = 0;
  }

  /** Content of a file, or null when it does not exist. */
  file(path: string): Key<string | null> {
    return {
      id: `file:${path}`,
      path,
      compute: async () => this.files.get(path) ?? null,
    };
  }

  /** Names directly inside `dir`, sorted. */
  listing(dir: string): Key<string[]> {
    return {
      id: `dir:${dir}`,
      path: dir,
      compute: async () => {
        const prefix = dir === '' ? '' : `${dir}/`;
        const names = new Set<string>();
        for (const p of this.files.keys()) {
          if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]!);
        }
        return [...names].sort();
      },
    };
  }
}

export function derived<V>(
  id: string,
  compute: (ctx: ComputeContext, signal: AbortSignal) => Promise<V>,
  extra: Partial<Pick<Key<V>, 'equal' | 'describe'>> = {},
): Key<V> {
  return { id, compute, ...extra };
}

/** A promise with its resolvers, for tests that pace a computation by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued microtask and promise reaction run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
