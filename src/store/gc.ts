import type { Dirent } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { abortError, nullLogger, type Logger, mapLimit } from '../core/index.js';
import { TOUCH_INTERVAL_MS, beginGc, bumpGcGeneration, type LiveRuns } from './leases.js';
import { errnoCode, storeIoError } from './store-failures.js';
import { AC_DIR, AC_NAME, CAS_DIR, CAS_NAME, TMP_DIR } from './store-layout.js';

/** Where a store lives; a LocalStore is one, and so is a bare `{ dir }` (GC needs nothing else). */
export interface StoreLocation {
  readonly dir: string;
}

export interface GcOptions {
  /** Evict least recently used entries until CAS + action cache take at most this many bytes. */
  readonly maxSizeBytes: number;
  /**
   * Also identifies the caller: leases taken with this signal (the run
   * applying its own size bound at its end, or the `gc` goal's run) do not
   * protect anything from this collection.
   */
  readonly signal?: AbortSignal;
  /** Temp files untouched for this long belong to a writer that died (default: 1 hour). */
  readonly tmpMaxAgeMs?: number;
  readonly logger?: Logger;
}

export interface GcResult {
  readonly removedCount: number;
  readonly removedBytes: number;
  readonly remainingCount: number;
  readonly remainingBytes: number;
  /** Entries that would have been evicted but were used while the GC ran. */
  readonly keptInUse: number;
  /** Entries that would have been evicted but were used since a running trews process started (see leases.ts). */
  readonly keptForRuns: number;
  readonly removedTempFiles: number;
}

export interface StoreSize {
  readonly count: number;
  readonly bytes: number;
}

interface Entry {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

const DEFAULT_TMP_MAX_AGE_MS = 60 * 60 * 1000;
const STAT_CONCURRENCY = 32;

/**
 * Evicts least-recently-used CAS blobs and action cache entries until the
 * store fits in `maxSizeBytes`, and removes abandoned temp files.
 *
 * "Used" is the file's mtime, which the store moves forward on every read,
 * findMissing hit and put of an existing blob (at most every few minutes per
 * file). It is safe to run while other processes use the store:
 * - a run in progress holds a lease (leases.ts) saying since when it has
 *   relied on the store; nothing used since then (minus the touch interval)
 *   is removed, so no run loses a blob it checked, stored or remembers;
 * - a run that starts while this GC runs sees its registration and refreshes
 *   the mtime of every blob it uses, and a file touched after the scan is
 *   kept (checked again just before unlinking);
 * - a reader holding an open descriptor keeps reading the unlinked inode, and
 *   a hard link materialized into a sandbox is a separate name for it;
 * - before removing anything it changes the store's GC generation, so a
 *   daemon whose graph predates this starts its next run from a fresh one;
 * - temp files are removed only when untouched for `tmpMaxAgeMs`: a live
 *   writer keeps writing (moving its mtime) until it renames the file.
 * Two GCs at once are harmless, only redundant.
 */
export async function collectGarbage(store: StoreLocation, options: GcOptions): Promise<GcResult> {
  const { maxSizeBytes, signal } = options;
  const log = options.logger ?? nullLogger;
  const tmpMaxAge = options.tmpMaxAgeMs ?? DEFAULT_TMP_MAX_AGE_MS;
  if (signal?.aborted) throw abortError();

  const gc = await beginGc(store.dir, signal);
  try {
    return await collect(store.dir, maxSizeBytes, tmpMaxAge, gc.runs, log, signal);
  } finally {
    await gc.end();
  }
}

async function collect(dir: string, maxSizeBytes: number, tmpMaxAge: number, runs: LiveRuns, log: Logger, signal: AbortSignal | undefined): Promise<GcResult> {
  // Everything a live run used since it started has an mtime at least this recent.
  const protectedFrom = runs.sinceMs === undefined ? Number.POSITIVE_INFINITY : runs.sinceMs - TOUCH_INTERVAL_MS;
  const removedTempFiles = await removeStaleTemp(dir, tmpMaxAge, signal);
  const entries = await scan(dir, signal);
  // Oldest first; the path breaks ties so that runs are reproducible.
  entries.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  let total = entries.reduce((n, e) => n + e.size, 0);
  let count = entries.length;
  let removedCount = 0;
  let removedBytes = 0;
  let keptInUse = 0;
  let keptForRuns = 0;
  let generationBumped = false;
  for (const e of entries) {
    if (total <= maxSizeBytes) break;
    if (signal?.aborted) throw abortError();
    if (e.mtimeMs >= protectedFrom) {
      keptForRuns++;
      continue;
    }
    let now;
    try {
      now = await lstat(e.path);
    } catch {
      total -= e.size; // someone else removed it
      count--;
      continue;
    }
    if (now.mtimeMs > e.mtimeMs) {
      keptInUse++;
      continue;
    }
    if (!generationBumped) {
      await bumpGcGeneration(dir);
      generationBumped = true;
    }
    try {
      await rm(e.path, { force: true });
    } catch (err) {
      throw storeIoError(err, `removing ${e.path}`);
    }
    total -= e.size;
    count--;
    removedCount++;
    removedBytes += e.size;
  }
  log.info(
    `local store gc: removed ${removedCount} entries (${removedBytes} bytes), ${removedTempFiles} temp files; ${count} entries (${total} bytes) remain` +
      (keptForRuns > 0 ? `; ${keptForRuns} kept for ${runs.count} running trews process(es)` : ''),
  );
  return { removedCount, removedBytes, remainingCount: count, remainingBytes: total, keptInUse, keptForRuns, removedTempFiles };
}

/** Entries and bytes in the CAS and action cache (temp files excluded). */
export async function storeSize(store: StoreLocation, signal?: AbortSignal): Promise<StoreSize> {
  const entries = await scan(store.dir, signal);
  return { count: entries.length, bytes: entries.reduce((n, e) => n + e.size, 0) };
}

async function listDir(path: string): Promise<Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw storeIoError(e, `listing ${path}`);
  }
}

async function scan(dir: string, signal?: AbortSignal): Promise<Entry[]> {
  const paths: string[] = [];
  for (const [sub, pattern] of [
    [CAS_DIR, CAS_NAME],
    [AC_DIR, AC_NAME],
  ] as const) {
    for (const fan of await listDir(join(dir, sub))) {
      if (!fan.isDirectory() || !/^[0-9a-f]{2}$/.test(fan.name)) continue;
      if (signal?.aborted) throw abortError();
      for (const f of await listDir(join(dir, sub, fan.name))) {
        // Only names the store writes: anything else in there is not ours to delete.
        if (f.isFile() && pattern.test(f.name) && f.name.startsWith(fan.name)) paths.push(join(dir, sub, fan.name, f.name));
      }
    }
  }
  const stats = await mapLimit(
    paths,
    STAT_CONCURRENCY,
    async (path): Promise<Entry | undefined> => {
      try {
        const st = await lstat(path);
        return { path, size: st.size, mtimeMs: st.mtimeMs };
      } catch {
        return undefined; // removed since the listing
      }
    },
    signal,
  );
  return stats.filter((e): e is Entry => e !== undefined);
}

async function removeStaleTemp(dir: string, maxAgeMs: number, signal?: AbortSignal): Promise<number> {
  const tmp = join(dir, TMP_DIR);
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const f of await listDir(tmp)) {
    if (signal?.aborted) throw abortError();
    if (!f.isFile() || !f.name.endsWith('.tmp')) continue;
    const path = join(tmp, f.name);
    try {
      const st = await lstat(path);
      if (st.mtimeMs >= cutoff) continue;
      await rm(path, { force: true });
      removed++;
    } catch {
      // finished (renamed) or removed meanwhile
    }
  }
  return removed;
}
