import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAbortError, type Logger } from '../core/index.js';
import { collectGarbage, storeSize, type GcResult, type LocalStore } from '../store/index.js';

/**
 * The automatic bound on the local store (`local_store_max_size`), applied
 * after a run that wrote to it.
 *
 * Scanning the store (a stat per blob) on every run would cost more than
 * many runs do, so the store's size is an estimate kept beside it in
 * `size-estimate.json`: each run adds what it wrote; a run that finds the
 * estimate over the limit collects garbage, which measures the real size;
 * and an estimate older than a day is replaced by a scan, so lost updates
 * (two runs adding at once) and removals by other tools cannot make it
 * drift for long. A collection goes down to 80% of the limit, so that the
 * next runs do not each collect a few blobs.
 */
const ESTIMATE_FILE = 'size-estimate.json';
const RESCAN_AFTER_MS = 24 * 60 * 60 * 1000;
const TARGET_FRACTION = 0.8;

interface Estimate {
  readonly bytes: number;
  readonly scannedAtMs: number;
}

async function readEstimate(path: string): Promise<Estimate | undefined> {
  try {
    const v = JSON.parse(await readFile(path, 'utf8')) as Partial<Estimate>;
    if (typeof v.bytes === 'number' && typeof v.scannedAtMs === 'number' && v.bytes >= 0) return { bytes: v.bytes, scannedAtMs: v.scannedAtMs };
  } catch {
    // missing or unreadable: measure instead
  }
  return undefined;
}

async function writeEstimate(path: string, e: Estimate): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(e)}\n`);
  await rename(tmp, path);
}

/**
 * Keeps the store under `maxBytes` given that this run wrote `writtenBytes`.
 * Returns what a collection removed, or undefined when none was needed.
 * Never fails the run: problems are logged.
 */
export async function boundStoreSize(
  store: LocalStore,
  maxBytes: number,
  writtenBytes: number,
  logger: Logger,
  signal?: AbortSignal,
): Promise<GcResult | undefined> {
  if (writtenBytes <= 0) return undefined;
  const path = join(store.dir, ESTIMATE_FILE);
  try {
    const now = Date.now();
    const old = await readEstimate(path);
    let estimate: Estimate;
    if (old === undefined || now - old.scannedAtMs > RESCAN_AFTER_MS || old.scannedAtMs > now) {
      estimate = { bytes: (await storeSize(store, signal)).bytes, scannedAtMs: now };
    } else {
      estimate = { bytes: old.bytes + writtenBytes, scannedAtMs: old.scannedAtMs };
    }
    let collected: GcResult | undefined;
    if (estimate.bytes > maxBytes) {
      collected = await collectGarbage(store, { maxSizeBytes: Math.floor(maxBytes * TARGET_FRACTION), logger, ...(signal ? { signal } : {}) });
      estimate = { bytes: collected.remainingBytes, scannedAtMs: now };
    }
    await writeEstimate(path, estimate);
    return collected;
  } catch (e) {
    if (isAbortError(e)) return undefined;
    logger.warn(`local store bound: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

/** `1.5 GiB`, `312 KiB`, `17 B`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
