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
export function storeStateOf(dir: string): string {
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
  return JSON.stringify([generation, damageCount(dir), identity(dir), identity(join(dir, AC_DIR)), identity(join(dir, CAS_DIR))]);
}
