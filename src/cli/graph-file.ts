import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TREWS_VERSION, type Logger } from '../core/index.js';
import { keptCleanValue, keyKindOf, pathsReadingOtherwise, transientReadingAsKept, type Key, type PersistedGraph, type TransientCheck } from '../engine/index.js';
import { changedPaths, dirEntriesId, stampPaths, workDirOf, type DirEntries, type PathStamps } from '../fs/index.js';
import { GLOBAL, type Options } from '../options/index.js';
import { flushAllStaged, storeLostEntries, storeStateOf, type BlobStore, type StoreState } from '../store/index.js';
import type { App } from './app.js';
import { decodeGraphFile, encodeGraphFile, type GraphPayload } from './graph-file-format.js';
import { removeLeftTemporaries } from './left-temporaries.js';

/** `.trews.d/graph`: the graph the last process kept, a run without a daemon or a daemon as it stopped (option `persist_graph`). */
export const GRAPH_FILE = 'graph';

/** The paths a graph's file-system nodes read, each once. */
function pathsOf(graph: PersistedGraph): string[] {
  return [...new Set(graph.paths.filter((p): p is string => p !== null))];
}

/**
 * A graph kept between processes: loaded into a fresh App's engine before
 * its first run; saved, without a daemon, after a run that changed it, and by
 * a daemon as it stops (`save`'s cut-off). Whatever
 * the engine cannot validate by itself (it re-reads every path, re-reads
 * inputs, recomputes transient nodes) is in the fingerprint, and any
 * difference discards the file whole: the code (bundle digest, Node
 * version), what the App was built for (file-system rules, store
 * directory), and the local store's state (storeStateOf: another store, a
 * GC, damage found). A file that is damaged, truncated or foreign is
 * ignored: the run starts from an empty graph, as without one.
 */
/** GraphFile.replayProof's answer. */
export interface ReplayProof {
  /** The stamp of each path the kept graph read that one proves unchanged since before the run. */
  readonly stamps: PathStamps;
  /** Programs outside the root the graph's transient records found (Key.replayProof). */
  readonly programs: readonly string[];
  /** For each directory of `listed` the graph lists: the listing its answer rests on. */
  readonly listings: ReadonlyMap<string, DirEntries>;
}

export class GraphFile {
  readonly #path: string;
  readonly #app: App;
  readonly #storeDir: string;
  readonly #logger: Logger;
  readonly #code: string | undefined;
  /** The store's state when the run started: a GC or damage since then makes the graph unfit to keep. */
  readonly #storeAtStart: StoreState;
  /** When this run started, before it read anything: the stamps' racy cut-off. */
  readonly #startedAtMs = Date.now();
  /** The loaded graph's paths (each once), and how many of them its stamps proved unchanged. */
  #loadedPaths: readonly string[] = [];
  #provenAtLoad = 0;
  /**
   * The loaded stamps that proved their path unchanged at load. Each stays true
   * of the graph this run keeps: the run did not read its path again (its
   * records came back clean), and a change since shows as another stamp to
   * the next run. So a save stamps only the other paths, not all of them again.
   */
  #provenStamps: ReadonlyMap<string, string> = new Map();
  /** What the load saw of the paths it read again, before reading them (fs/path-stamps.ts stampPaths). */
  #observedAtLoad: ReadonlyMap<string, string> = new Map();
  /** The graph as loaded: replayProof reads the listings its answer rests on from it. */
  #kept: PersistedGraph | undefined;
  /** `daemon_graph_idle_runs`: what no run (a process here) used in this many is not kept. */
  #maxAgeRuns = 0;
  /** Whether the load imported a graph. */
  #loaded = false;
  /** The kept graph's transient records as the load computed them again: all read as kept, or not. */
  #transients: { key: Key<unknown>; value: unknown }[] = [];
  #transientsAllAsKept = false;

  /** `code`: the identity of the code that runs (code-identity.ts); undefined keeps nothing. */
  constructor(app: App, storeDir: string, logger: Logger, code: string | undefined) {
    this.#path = join(workDirOf(app.root), GRAPH_FILE);
    this.#app = app;
    this.#storeDir = storeDir;
    this.#logger = logger;
    this.#code = code;
    this.#storeAtStart = storeStateOf(storeDir);
  }

  #fingerprint(store: StoreState): string | undefined {
    if (this.#code === undefined) return undefined;
    // The file's format is its magic (graph-file-format.ts), checked before this.
    return JSON.stringify([TREWS_VERSION, process.version, this.#code, this.#app.identity, store.generation, store.dirs]);
  }

  /**
   * Loads the kept graph into the App's engine (which has not run yet).
   * Returns the nodes loaded. `forReplay`: the run may be recorded, so the
   * loaded graph is held for replayProof (a daemon keeps none: it would
   * hold it for its lifetime).
   */
  async load(options: Options, forReplay = false): Promise<number> {
    this.#maxAgeRuns = options.int(GLOBAL, 'daemon_graph_idle_runs');
    const fingerprint = this.#fingerprint(this.#storeAtStart);
    if (fingerprint === undefined) return 0;
    const t0 = performance.now();
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.#path);
    } catch {
      return 0;
    }
    const payload = this.#decode(bytes, fingerprint);
    if (payload === undefined) return 0;
    const { graph, stamps } = payload;
    const t1 = performance.now();
    const root = this.#app.root;
    const { rebuild } = this.#app.keyRebuilders(options);
    try {
      // The transient memos (tools on PATH) are computed now as the run would, and kept when
      // equal. They wait on the thread pool (stat, the tools' digest index), so they start
      // first and go on while this thread stats the graph's paths.
      const transients: TransientCheck[] = [];
      const freshing = transientReadingAsKept(graph, rebuild, (c) => transients.push(c));
      // Only the paths whose stamps differ (or that have none) are read again.
      const paths = pathsOf(graph);
      const observed = new Map<string, string>();
      let moved: Set<string>;
      try {
        moved = changedPaths(root, stamps, paths, observed);
      } catch (e) {
        await freshing.catch(() => undefined);
        throw e;
      }
      const t2 = performance.now();
      // A moved stamp is not a change until the path reads otherwise (engine/recheck-paths.ts):
      // what depends on a path read again as kept is not dirtied.
      const [changed, fresh] = await Promise.all([pathsReadingOtherwise(graph, rebuild, moved), freshing]);
      const t3 = performance.now();
      const n = this.#app.engine.importGraph(graph, rebuild, changed, fresh);
      const t4 = performance.now();
      this.#loadedPaths = paths;
      this.#provenAtLoad = paths.length - moved.size;
      this.#provenStamps = moved.size === 0 ? stamps : new Map([...stamps].filter(([p]) => !moved.has(p)));
      this.#observedAtLoad = observed;
      if (forReplay) this.#kept = graph;
      this.#loaded = n > 0;
      this.#transientsAllAsKept = transients.every((c) => c.asKept);
      this.#transients = transients.flatMap((c) => (c.asKept ? [{ key: c.key, value: c.value }] : []));
      const some = (set: ReadonlySet<string>): string => (set.size > 0 ? ` (${[...set].slice(0, 5).map((p) => JSON.stringify(p)).join(', ')}${set.size > 5 ? ', …' : ''})` : '');
      this.#logger.debug(
        `graph: loaded ${n} of ${graph.ids.length} nodes from ${this.#path} (read and decode ${(t1 - t0).toFixed(0)} ms, stat ${(t2 - t1).toFixed(0)} ms, read again ${(t3 - t2).toFixed(0)} ms, import ${(t4 - t3).toFixed(0)} ms); ${moved.size} of ${paths.length} paths to read again${some(moved)}, ${changed.size} of them changed${some(changed)}; ${fresh.size} transient nodes computed again as kept`,
      );
      return n;
    } catch (e) {
      // Only a bug can get here (the engine had run): say so in the log, run without it.
      this.#logger.warn(`graph: not loaded from ${this.#path}: ${e instanceof Error ? e.message : String(e)}`);
      return 0;
    }
  }

  /**
   * What proves this run's answer from the kept graph, when the run was a
   * no-op on it: every path the graph read had its stamp at load, every
   * transient record read as kept and names the programs that prove it,
   * and the engine computed, re-validated and changed nothing. Then the same
   * command line gives the same answer while those stamps hold
   * (replay-record.ts). Undefined otherwise.
   *
   * A directory of `listed` (one holding an output directory the run may
   * have written: a restore changes its listing) is proven by the listing
   * the graph's answer rests on instead: the kept graph's listing record
   * of it, as it read at load (by its stamp, or read again and found as
   * kept). The record keeps that listing, and a replay compares it with
   * what is there (replay-record.ts, src/native-client/replay-restore.c).
   */
  async replayProof(listed: ReadonlySet<string> = new Set()): Promise<ReplayProof | undefined> {
    if (!this.#loaded || !this.#transientsAllAsKept) return undefined;
    const stats = this.#app.engine.stats();
    if (stats.computes !== 0 || stats.revalidated !== 0 || stats.changes !== 0) return undefined;
    const programs: string[] = [];
    for (const { key, value } of this.#transients) {
      const proof = key.replayProof === undefined ? undefined : await key.replayProof(value);
      if (proof === undefined) return undefined;
      programs.push(...proof);
    }
    // A path whose stamp had moved was read again at load and read as kept (else the
    // engine would have recomputed): stamped now as a save stamps it, it proves the same.
    const stamps = this.#stampsOf(this.#loadedPaths, this.#startedAtMs);
    const listings = new Map<string, DirEntries>();
    if (listed.size > 0 && this.#kept !== undefined) {
      for (const dir of listed) {
        const kept = keptCleanValue(this.#kept, dirEntriesId(dir))?.value as DirEntries | undefined;
        if (kept?.exists === true) listings.set(dir, kept);
      }
    }
    for (const p of this.#loadedPaths) if (!stamps.has(p) && !listings.has(p)) return undefined;
    return { stamps, programs, listings };
  }

  /**
   * Stamps for `paths`: the loaded stamps that proved their path unchanged at
   * load, and for the others what stampPaths proves since `cutoffMs` (none
   * for a path too recent to prove).
   */
  #stampsOf(paths: readonly string[], cutoffMs: number): Map<string, string> {
    const proven = this.#provenStamps;
    const out = stampPaths(this.#app.root, proven.size === 0 ? paths : paths.filter((p) => !proven.has(p)), cutoffMs, this.#observedAtLoad);
    for (const p of paths) {
      const s = proven.get(p);
      if (s !== undefined) out.set(p, s);
    }
    return out;
  }

  /**
   * The kept nodes that compute on their own but came back without their
   * key as the run reached them (a kind of key without a rebuilder: what
   * depends on one recomputes on every run), by kind, for the tests that
   * make sure there are none.
   */
  #logUnrebuilt(): void {
    const unrebuilt = this.#app.engine.unrebuilt();
    if (unrebuilt.length === 0) return;
    const kinds = new Map<string, { count: number; first: string }>();
    for (const u of unrebuilt) {
      const kind = `${u.as} ${keyKindOf(u.id)}`;
      const k = kinds.get(kind);
      if (k === undefined) kinds.set(kind, { count: 1, first: u.id });
      else k.count++;
    }
    const list = [...kinds].map(([kind, { count, first }]) => `[${kind}] x${count} (${JSON.stringify(first.length > 120 ? `${first.slice(0, 120)}…` : first)})`);
    this.#logger.debug(`graph: ${unrebuilt.length} kept nodes could not be rebuilt from their id, so what depends on them recomputes: ${list.join(', ')}`);
  }

  #decode(bytes: Buffer, fingerprint: string): GraphPayload | undefined {
    const verdict = decodeGraphFile(bytes, fingerprint);
    return verdict.ok ? verdict.payload : this.#ignore(verdict.why);
  }

  #ignore(why: string): undefined {
    this.#logger.info(`graph: ignoring ${this.#path}: ${why}; starting from an empty graph`);
    return undefined;
  }

  /**
   * Writes the engine's graph (atomically: a concurrent run reads the old
   * file or this one, never half of one), unless nothing changed since it
   * was loaded, after writing into `blobs` what the run only staged. A GC
   * or damage found during the run removes the file instead: the graph may
   * name blobs that are gone.
   *
   * `cutoffMs`: every change to a path made before it is reflected in the
   * graph, so a path unchanged since is stamped (fs/path-stamps.ts). Without a
   * daemon that is when the run started; a daemon passes the moment its
   * watcher's last sync began, after applying what that sync delivered.
   */
  async save(loaded: boolean, blobs: BlobStore | undefined, cutoffMs: number = this.#startedAtMs): Promise<void> {
    const engine = this.#app.engine;
    const lost = (): boolean => {
      if (!storeLostEntries(this.#storeAtStart, storeStateOf(this.#storeDir))) return false;
      rmSync(this.#path, { force: true });
      this.#logger.info(`graph: not kept: the local store changed during the run (a GC, or blobs found missing)`);
      return true;
    };
    const stats = engine.stats();
    // What the kept graph spared this run, for the log (and the tests that check it spares what it should).
    this.#logger.debug(`graph: this run computed ${stats.computes} nodes and re-validated ${stats.revalidated}, ${stats.changes} changes; it made ${stats.loaded} nodes of the kept graph`);
    this.#logUnrebuilt();
    try {
      // Checked even when the graph did not change: the kept file may name what a GC just removed.
      if (lost() || this.#code === undefined) return;
      let stamps: Map<string, string> | undefined;
      if (loaded && stats.changes === 0 && stats.computes === 0 && stats.revalidated === 0) {
        // The graph is as loaded; its stamps are worth writing again only if they now prove
        // more paths unchanged (paths that were too fresh to stamp, or were read again).
        // (A node re-validated or recomputed to the same value was dirty as loaded: kept
        // clean, the next run need not check it again.)
        if (this.#provenAtLoad === this.#loadedPaths.length) return;
        stamps = this.#stampsOf(this.#loadedPaths, cutoffMs);
        if (stamps.size <= this.#provenAtLoad) return;
      }
      // The trees this run only staged in memory (store/README.md "Staged writes") are
      // named by the graph's memos: the next process must find them in the store.
      const t0 = performance.now();
      if (blobs !== undefined) await flushAllStaged(blobs);
      if (lost()) return;
      const store = storeStateOf(this.#storeDir);
      const fingerprint = this.#fingerprint(store)!;
      const t1 = performance.now();
      const evictedBefore = engine.stats().evicted;
      const graph = engine.exportGraph({ maxAgeRuns: this.#maxAgeRuns });
      const forgotten = engine.stats().evicted - evictedBefore;
      const t2 = performance.now();
      // Taken after the run, so each proves its path unchanged since the run read it (fs/path-stamps.ts).
      stamps ??= this.#stampsOf(pathsOf(graph), cutoffMs);
      const t3 = performance.now();
      const bytes = encodeGraphFile(fingerprint, { graph, stamps });
      removeLeftGraphTemporaries(dirname(this.#path));
      const tmp = `${this.#path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        writeFileSync(tmp, bytes, { flag: 'wx' });
        renameSync(tmp, this.#path);
      } finally {
        rmSync(tmp, { force: true });
      }
      const t4 = performance.now();
      const ms = (a: number, b: number): string => (b - a).toFixed(0);
      this.#logger.debug(
        `graph: kept ${graph.ids.length} nodes and ${stamps.size} stamps in ${this.#path}${forgotten > 0 ? `, leaving out ${forgotten} no run used in the last ${this.#maxAgeRuns}` : ''} (store the staged trees ${ms(t0, t1)} ms, export ${ms(t1, t2)} ms, stamp ${ms(t2, t3)} ms, write ${ms(t3, t4)} ms)`,
      );
    } catch (e) {
      // Keeping the graph is an optimization: a read-only .trews.d or a full disk costs the next run its speed only.
      this.#logger.warn(`graph: not kept in ${this.#path}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

const TEMPORARY = new RegExp(`^${GRAPH_FILE}\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);

/** Removes the temporary files of saves whose process is gone (each the size of the graph). */
export function removeLeftGraphTemporaries(workDir: string): void {
  removeLeftTemporaries(workDir, TEMPORARY);
}
