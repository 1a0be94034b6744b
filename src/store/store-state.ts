import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { damageCount } from './damage.js';
import { GENERATION_FILE } from './leases.js';
import { AC_DIR, CAS_DIR } from './store-layout.js';

/**
 * What a memo of the store's contents kept outside this process (a persisted
 * graph naming action results and blobs) must see unchanged to be trusted:
 * the GC generation (a GC that removed entries), the blobs this process
 * found missing or damaged, and the identity (inode, birth time) of the
 * store and its `ac`/`cas` directories, so a store deleted and made again
 * (`rm -rf` of the cache) is another store. Blobs deleted one by one inside
 * it are not seen, as by a daemon: the run that misses one records damage.
 */
export function storeStateOf(dir: string): StoreState {
  let generation = '';
  try {
    generation = readFileSync(join(dir, GENERATION_FILE), 'utf8').trim();
  } catch {
    // No GC has run: the empty generation, as beginStoreUse reads it.
  }
  const identity = (path: string): string => {
    try {
      const st = statSync(path, { bigint: true });
      return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
    } catch {
      return 'none';
    }
  };
  return { generation, damage: damageCount(dir), dirs: [identity(dir), identity(join(dir, AC_DIR)), identity(join(dir, CAS_DIR))] };
}

/**
 * The file a GC rewrites, for a stamp of it (cli/replay-record.ts: a replay
 * stands for a run whose kept graph a GC would have discarded). The store's
 * directories are not stamped: their mtime moves whenever any repo sharing
 * the store adds a shard, and a replay reads nothing from the store.
 */
export function storeGenerationFile(dir: string): string {
  return join(dir, GENERATION_FILE);
}

export interface StoreState {
  readonly generation: string;
  readonly damage: number;
  /** The identities of the store, `ac` and `cas` directories ('none' when missing). */
  readonly dirs: readonly string[];
}

/**
 * Whether memos taken at `before` may name entries gone at `after`: a GC,
 * damage found, or a directory that existed replaced or removed (one made
 * meanwhile is fine: it only adds entries).
 */
export function storeLostEntries(before: StoreState, after: StoreState): boolean {
  if (before.generation !== after.generation || before.damage !== after.damage) return true;
  return before.dirs.some((d, i) => d !== 'none' && d !== after.dirs[i]);
}
