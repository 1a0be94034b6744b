import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pidExists } from '../core/index.js';
import { errnoCode, storeIoError } from './store-failures.js';
import { TMP_DIR } from './store-layout.js';

/**
 * Who is using a store directory right now, so that a GC never removes a
 * blob a run in progress needs (see README "Garbage collection").
 *
 *   leases/run.<host>.<pid>.<sinceMs>.<random>   a run (a CLI run, a daemon run, a remote-server action)
 *   leases/gc.<host>.<pid>.<startMs>.<random>    a GC in progress
 *   gc-generation                                changes each time a GC starts removing entries
 *
 * `sinceMs` is when the run's knowledge of the store begins: its own start,
 * or for a daemon, when its graph (whose memos name blobs) was created. A GC
 * keeps every entry used since `sinceMs - TOUCH_INTERVAL_MS` of any live run
 * (a use moves a file's mtime unless it is more recent than that interval).
 *
 * Both sides write their own entry first and list the others' second, so at
 * least one of them sees the other: a GC that does not see a run's lease
 * was already running when the run listed the leases, and the run then
 * refreshes the LRU time of every blob it uses (`raiseTouchFloor`), which the
 * GC notices before it removes a file. The run also learns that its memos
 * (a daemon's graph) may be going stale.
 */
const LEASE_DIR = 'leases';
export const GENERATION_FILE = 'gc-generation';

/**
 * A use refreshes a file's mtime (the GC's LRU clock) only when it is older
 * than this: one utimes per blob per interval, not per read.
 */
export const TOUCH_INTERVAL_MS = 10 * 60 * 1000;
/** An entry of another host is believed for this long (its pid cannot be checked from here). */
const FOREIGN_ENTRY_MAX_AGE_MS = 24 * 60 * 60 * 1000;

const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'host';

/** Per directory: blobs last touched before this are touched again on their next use (0: none). */
const touchFloors = new Map<string, number>();
/** Leases this process took for each run signal: a GC asked for by that run does not protect against itself. */
const bySignal = new WeakMap<AbortSignal, Set<string>>();
const leaseDirsMade = new Set<string>();

export function touchFloor(dir: string): number {
  return touchFloors.get(dir) ?? 0;
}

/** Makes every store object on `dir` refresh the LRU time of a blob older than `ms` on its next use. */
export function raiseTouchFloor(dir: string, ms: number): void {
  if (ms > touchFloor(dir)) touchFloors.set(dir, ms);
}

export interface StoreUse {
  /** Changes whenever a GC starts removing entries: memos older than that may name removed blobs. */
  readonly gcGeneration: string;
  /**
   * When the earliest GC still running started (undefined: none was): it may
   * be removing blobs that memos from before then name. Uses from now on are
   * safe from it (they refresh the LRU time it checks).
   */
  readonly gcRunningSince: number | undefined;
  /** Ends the lease. Never throws. */
  release(): Promise<void>;
}

/**
 * Takes a lease on `dir` for a run that relies on what it learnt of the
 * store since `sinceMs`. Call before the run's first use of the store; end
 * it with `release()` when the run is over. `signal` is the run's: a
 * `collectGarbage` given the same signal (the automatic bound at the end of
 * that run) ignores this lease.
 */
export async function beginStoreUse(dir: string, o: { readonly sinceMs: number; readonly signal?: AbortSignal }): Promise<StoreUse> {
  const name = `run.${HOST}.${process.pid}.${Math.floor(o.sinceMs)}.${randomBytes(6).toString('hex')}`;
  const path = await writeEntry(dir, name);
  if (o.signal !== undefined) {
    let names = bySignal.get(o.signal);
    if (names === undefined) bySignal.set(o.signal, (names = new Set()));
    names.add(name);
  }
  let gcRunningSince: number | undefined;
  for (const e of await listEntries(dir)) {
    if (e.kind === 'gc' && e.live) gcRunningSince = Math.min(gcRunningSince ?? e.sinceMs, e.sinceMs);
  }
  if (gcRunningSince !== undefined) raiseTouchFloor(dir, Date.now());
  let released = false;
  return {
    gcGeneration: await readGeneration(dir),
    gcRunningSince,
    async release() {
      if (released) return;
      released = true;
      if (o.signal !== undefined) bySignal.get(o.signal)?.delete(name);
      await rm(path, { force: true }).catch(() => undefined);
    },
  };
}

export interface LiveRuns {
  /** The earliest `sinceMs` of the runs whose leases protect entries; undefined when none. */
  readonly sinceMs: number | undefined;
  readonly count: number;
}

/**
 * For a GC: registers it (so runs starting now touch what they use), then
 * lists the live runs, except the ones that took their lease with
 * `ownSignal`, and removes the entries of dead processes of this host.
 */
export async function beginGc(dir: string, ownSignal: AbortSignal | undefined): Promise<{ runs: LiveRuns; end(): Promise<void> }> {
  const path = await writeEntry(dir, `gc.${HOST}.${process.pid}.${Date.now()}.${randomBytes(6).toString('hex')}`);
  const own = ownSignal === undefined ? undefined : bySignal.get(ownSignal);
  let sinceMs: number | undefined;
  let count = 0;
  for (const e of await listEntries(dir)) {
    if (!e.live) {
      await rm(join(dir, LEASE_DIR, e.name), { force: true }).catch(() => undefined);
      continue;
    }
    if (e.kind !== 'run' || own?.has(e.name) === true) continue;
    count++;
    sinceMs = sinceMs === undefined ? e.sinceMs : Math.min(sinceMs, e.sinceMs);
  }
  return {
    runs: { sinceMs, count },
    end: () => rm(path, { force: true }).catch(() => undefined),
  };
}

/** Marks the store as changed by a GC: daemons whose memos predate this start from a fresh graph. Before the first removal. */
export async function bumpGcGeneration(dir: string): Promise<void> {
  // In tmp/, where a GC removes what a crash leaves behind.
  const tmp = join(dir, TMP_DIR, `${randomBytes(12).toString('hex')}.tmp`);
  try {
    await mkdir(join(dir, TMP_DIR), { recursive: true });
    await writeFile(tmp, `${Date.now()}.${randomBytes(6).toString('hex')}\n`);
    await rename(tmp, join(dir, GENERATION_FILE));
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw storeIoError(e, `writing ${join(dir, GENERATION_FILE)}`);
  }
}

async function readGeneration(dir: string): Promise<string> {
  try {
    return (await readFile(join(dir, GENERATION_FILE), 'utf8')).trim();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return '';
    throw storeIoError(e, `reading ${join(dir, GENERATION_FILE)}`);
  }
}

async function writeEntry(dir: string, name: string): Promise<string> {
  const leases = join(dir, LEASE_DIR);
  const path = join(leases, name);
  try {
    if (!leaseDirsMade.has(leases)) {
      await mkdir(leases, { recursive: true });
      leaseDirsMade.add(leases);
    }
    try {
      await writeFile(path, '', { flag: 'wx' });
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      // The store was wiped under us: make the directory again.
      await mkdir(leases, { recursive: true });
      await writeFile(path, '', { flag: 'wx' });
    }
  } catch (e) {
    throw storeIoError(e, `registering in ${leases}`);
  }
  return path;
}

interface Entry {
  readonly name: string;
  readonly kind: 'run' | 'gc';
  readonly sinceMs: number;
  readonly live: boolean;
}

async function listEntries(dir: string): Promise<Entry[]> {
  let names: string[];
  try {
    names = await readdir(join(dir, LEASE_DIR));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw storeIoError(e, `listing ${join(dir, LEASE_DIR)}`);
  }
  const out: Entry[] = [];
  const now = Date.now();
  for (const name of names) {
    const m = /^(run|gc)\.([^.]+)\.(\d+)\.(\d+)\.[0-9a-f]+$/.exec(name);
    if (m === null) continue; // not ours
    const [, kind, host, pid, since] = m as unknown as [string, 'run' | 'gc', string, string, string];
    const sinceMs = Number(since);
    const live = host === HOST ? pidExists(Number(pid)) : now - sinceMs < FOREIGN_ENTRY_MAX_AGE_MS;
    out.push({ name, kind, sinceMs, live });
  }
  return out;
}
