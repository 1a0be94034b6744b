import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { changedPaths, RACY_MARGIN_MS, stampPathsNow } from '../fs/index.js';
import { sha256Hex, type Logger } from '../core/index.js';
import type { FileWatcher } from './watcher.js';

export interface QuietCheckOptions {
  /** Absolute build root. */
  readonly root: string;
  readonly watcher: FileWatcher;
  /** The build-root-relative paths the daemon's graphs read (Engine.readPaths of each). */
  readonly paths: () => Iterable<string>;
  /**
   * Queue the invalidation of the keys at exactly these paths: each path's own
   * stamp moved (a directory's covers its listing), so unlike a watcher's
   * event it stands for neither its parent's listing nor its subtree.
   */
  readonly invalidate: (paths: readonly string[]) => void;
  /**
   * Of the paths whose stamps moved, those the graphs would now read
   * otherwise (Engine.pathsReadingOtherwise): only these are invalidated.
   * Absent: every moved path is. A stamp moves for more than what a graph
   * read there: an entry that came and went (an output directory deleted
   * and written back between two runs), a file rewritten with its bytes.
   */
  readonly readsOtherwise?: (paths: ReadonlySet<string>) => Promise<ReadonlySet<string>>;
  /** Invalidate everything: a covered overflow (coversOverflow) whose proof a run could not use. */
  readonly invalidateAll: () => void;
  readonly logger: Logger;
  /** Off: every run waits for the watcher's sync cookie (daemon_invalidation_globs set, tests). */
  readonly enabled: boolean;
  /** Wall clock in ms, as file timestamps are (tests move it). */
  readonly now?: () => number;
  /** Above this many paths the check would cost more than the cookie it saves (default MAX_STAMPED_PATHS). */
  readonly maxPaths?: number;
  /**
   * Which paths' stamps moved (default fs' changedPaths). Tests replace it to
   * play a file system whose timestamps are too coarse to show an edit.
   */
  readonly changedPaths?: (root: string, stamps: ReadonlyMap<string, string>, paths: Iterable<string>) => Set<string>;
}

/**
 * One lstat is 2–10 µs: at 20,000 paths the check at a run's start costs
 * about what the cookie's wait does (~50 ms), so beyond it runs sync.
 */
export const MAX_STAMPED_PATHS = 20_000;

/** Whether a run waited for the watcher or went on the stamps: for the log and the tests. */
export type QuietVerdict = 'stamped' | 'synced';

/**
 * QuietCheck.nextProof's answer: every path the graphs read, stamped at one
 * moment after the caller asked, with no run begun since, and every change
 * made before that moment delivered by the watcher (its cookie came back).
 */
export interface IdleProof {
  /** Each path's stamp at the proof's moment (fs/path-stamps.ts). */
  readonly stamps: ReadonlyMap<string, string>;
  /** Paths changed within RACY_MARGIN_MS of it: their stamps prove nothing. */
  readonly racy: ReadonlySet<string>;
}

interface Proof {
  /** Every path's stamp at the proof's moment. */
  readonly stamps: Map<string, string>;
  /** Paths changed within RACY_MARGIN_MS of it: an equal stamp later does not prove them unchanged. */
  readonly racy: ReadonlySet<string>;
  /** What each racy path held, read after its stamp and before the cookie (contentOf); absent when it cannot say. */
  readonly contents: ReadonlyMap<string, string>;
  readonly epoch: number;
  /** The watcher's burst (FileWatcher.burst) when the proof's cookie came back. */
  readonly burst: number | undefined;
}

/**
 * A run re-reads at most this many paths whose stamps prove nothing (racy)
 * rather than wait for a cookie: re-reading a directory can re-validate much
 * above it, and a restore leaves hundreds of fresh paths.
 */
export const MAX_RACY_PATHS = 32;

/**
 * A proof reads what at most this many racy paths hold (contentOf), so that
 * a run compares contents instead of re-reading the paths or syncing.
 */
export const MAX_RACY_CONTENTS = 4096;

/** Files up to this size are hashed for contentOf; a bigger racy file is re-read by the run. */
const RACY_FILE_MAX_BYTES = 256 * 1024;

/**
 * What a path holds, as far as a graph's read of it can tell: a directory's
 * entries with their kinds, a file's size, mode and SHA-256, a symlink's
 * target, or absence; undefined for a file too big to hash here, or what
 * cannot be read. Git's racy-clean index entries are settled the same way:
 * a stat that cannot prove a file unchanged is backed by its content.
 */
export function contentOf(root: string, path: string): string | undefined {
  const abs = join(root, path);
  try {
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) return 'absent';
    if (st.isDirectory()) {
      const entries = readdirSync(abs, { withFileTypes: true }).map((d) => `${d.isDirectory() ? 'd' : d.isFile() ? 'f' : d.isSymbolicLink() ? 'l' : 'o'}:${d.name}`);
      return `d:${entries.sort().join('\0')}`;
    }
    if (st.isSymbolicLink()) return `l:${readlinkSync(abs)}`;
    if (!st.isFile() || st.size > RACY_FILE_MAX_BYTES) return undefined;
    const bytes = readFileSync(abs);
    return `f:${st.mode}:${bytes.length}:${sha256Hex(bytes)}`;
  } catch {
    return undefined;
  }
}

/**
 * Spares a run the watcher's sync cookie.
 *
 * A run must see every change made before it, so it writes a cookie and waits
 * for the watcher to deliver it (watcher.ts): one event's round trip, and
 * @parcel/watcher's 50 ms debounce when a run follows other events (the last
 * run's cookie and outputs) within half a second — most of a fully cached
 * run through the daemon. Instead, once no run is in progress, the daemon
 * proves in the background what its graphs saw *as of a moment T*:
 * 1. at T it takes stat stamps of every path its graphs read
 *    (fs/path-stamps.ts stampPathsNow; a path changed within RACY_MARGIN_MS
 *    of T is noted as racy, since a later write in the same timestamp tick
 *    could leave its stat equal);
 * 2. then it syncs the watcher: once the cookie comes back, every change made
 *    before T has been delivered and has invalidated what it touched.
 * A run that finds the proof standing (no run entered or ended since, so the
 * graphs read no path the proof does not cover) compares every path's lstat
 * with its stamp: a change since T shows there (a file created or removed
 * moves its directory's stamp). It queues the keys at exactly the changed
 * paths and the racy ones for invalidation (each path has its own stamp, so
 * none stands for its parent's listing or its subtree, as a watcher's event
 * does) and starts with no cookie — events still on their way invalidate
 * those paths again later, which costs a re-read, never a wrong answer.
 * Without a standing proof, or with more than MAX_RACY_PATHS racy paths whose
 * stamps are still equal (a restore just wrote them), it waits for a cookie
 * as before. A proof with racy paths is taken again once they are old enough.
 */
export class QuietCheck {
  readonly #o: QuietCheckOptions;
  readonly #now: () => number;
  /** Bumped as a run enters (past its wait) and as one ends: the graphs may read new paths. */
  #epoch = 0;
  #active = 0;
  #proof: Proof | undefined;
  /**
   * A burst that may have lost events came after the standing proof: the
   * next run must check its stamps (or invalidate everything), and no newer
   * proof may replace it, since its stamps could take a lost change as seen.
   */
  #overflowPending = false;
  /** The proof being built (its stamps taken, its cookie awaited). */
  #proving: Promise<void> | undefined;
  /** Proves again once paths too recent to stamp are old enough, if still idle. */
  #again: NodeJS.Timeout | undefined;
  /** nextProof's callers, served by the first proof whose stamps are taken after they asked. */
  #proofWaiters: ((proof: IdleProof | undefined) => void)[] = [];
  #closed = false;

  constructor(o: QuietCheckOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** The number of runs in progress changed (DaemonServer's onActivity). */
  activity(active: number): void {
    if (active < this.#active) this.#epoch++;
    this.#active = active;
    if (active === 0) this.#prove();
  }

  /**
   * The next proof taken while no run is in progress (after the run that is
   * ending, whose end starts one: activity(0)): undefined when a run begins
   * before its stamps are taken, or when the check is off, closed, or cannot
   * prove (too many paths, a burst that may have overflowed). A run that
   * arrives while its cookie is out waits for it (beforeRun), and the proof
   * still answers: its stamps came after the ended run and before the new
   * one, so the caller must see for itself whether the graph has moved
   * since (cli/daemon-replay.ts compares the engine's run count).
   */
  nextProof(): Promise<IdleProof | undefined> {
    if (!this.#o.enabled || this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#proofWaiters.push(resolve));
  }

  #answerWaiters(waiters: readonly ((proof: IdleProof | undefined) => void)[], proof: IdleProof | undefined): void {
    for (const w of waiters) w(proof);
  }

  /** Every caller of nextProof waiting now gets no proof. */
  #noProofForWaiters(): void {
    this.#answerWaiters(this.#proofWaiters.splice(0), undefined);
  }

  /** Before a run reads anything: returns once every change it could read has been delivered or found. */
  async beforeRun(): Promise<QuietVerdict> {
    // A proof after this run's start says nothing of what was read before it.
    this.#noProofForWaiters();
    try {
      // A proof standing while a fresher one is built is as good: wait only when there is none.
      if (this.#proof === undefined && this.#proving) await this.#proving;
      if (await this.#useProof()) return 'stamped';
      if (this.#overflowPending) {
        // The cookie delivers no event the kernel dropped.
        this.#o.logger.debug('watcher: the stamps taken before a burst that may have overflowed cannot be used; invalidating everything');
        this.#o.invalidateAll();
      }
      await this.#o.watcher.sync();
      return 'synced';
    } finally {
      this.#proof = undefined;
      this.#overflowPending = false;
      this.#epoch++;
    }
  }

  /**
   * The watcher reports a burst (number `burst`) from which the kernel may
   * have dropped events. Every change since the standing proof's moment shows
   * in its stamps, lost or not, and every change before it was delivered by
   * its cookie — which came back before that burst reached the watcher's
   * limit (FileWatcher.burst): by the watcher's own measure nothing before it
   * was lost. So with such a proof the next
   * run compares the stamps and nothing need be invalidated now: true. False
   * when there is none; the caller invalidates everything.
   */
  coversOverflow(burst: number): boolean {
    const proof = this.#standingProofSyncedBy(burst);
    if (proof === undefined) return false;
    if (!this.#overflowPending) this.#o.logger.debug(`watcher: a burst that may have overflowed came after the last stamps (${proof.stamps.size} paths): the next run checks them instead of invalidating everything`);
    this.#overflowPending = true;
    return true;
  }

  /**
   * The watcher set itself up again to leave out ignored directories made
   * since it began (watcher.ts), and the events of the gap are lost. `gap` is
   * the burst number it started the re-subscription with (ChangeBatch.gapBurst).
   * As with an overflow, a proof whose cookie came back before the gap covers
   * it: every change since its moment shows in its stamps. Unlike an overflow,
   * the loss is over once the new subscription stands, so while idle the
   * check settles the proof at once — it queues what moved, as the next run
   * would — and proves anew, instead of keeping it for the next run (which
   * would leave paths too recent to trust unproven while idle). True when it
   * does: nothing need be invalidated now; false without such a proof, or
   * while a run or a proof is under way.
   */
  coversGap(gap: number): boolean {
    // Its cookie came back before the gap began (the gap's number is newer than any burst before it).
    if (this.#standingProofSyncedBy(gap - 1) === undefined) return false;
    if (this.#overflowPending || this.#active > 0 || this.#proving || this.#closed) return false;
    this.#proving = (async () => {
      if (await this.#useProof('the watch was set up again')) return;
      this.#o.logger.debug('watcher: the stamps taken before the watch was set up again cannot be used; invalidating everything');
      this.#o.invalidateAll();
    })().finally(() => {
      this.#proving = undefined;
      if (this.#active === 0) this.#prove();
    });
    return true;
  }

  /** The proof no run has voided since it was taken, if its cookie came back in burst `burst` or earlier. */
  #standingProofSyncedBy(burst: number): Proof | undefined {
    const proof = this.#proof;
    return proof !== undefined && proof.epoch === this.#epoch && proof.burst !== undefined && proof.burst <= burst ? proof : undefined;
  }

  close(): void {
    this.#closed = true;
    this.#noProofForWaiters();
    clearTimeout(this.#again);
    this.#proof = undefined;
    this.#overflowPending = false;
  }

  /** Queues what changed since the proof's moment; false when there is no proof to go on. `why` heads its log line. */
  async #useProof(why = 'no sync needed'): Promise<boolean> {
    const proof = this.#proof;
    if (proof === undefined || proof.epoch !== this.#epoch) return false;
    // Used up before anything is awaited: a burst that may overflow meanwhile finds no proof to
    // lean on (coversOverflow), so everything is invalidated for it, as without one.
    this.#proof = undefined;
    const t0 = performance.now();
    const changed = (this.#o.changedPaths ?? changedPaths)(this.#o.root, proof.stamps, proof.stamps.keys());
    let unproven = 0;
    let byContent = 0;
    for (const p of proof.racy) {
      if (changed.has(p)) continue;
      // Held the same as when the proof read it (before its cookie): whatever the graph
      // read of it before then was delivered, and nothing changed it since.
      const was = proof.contents.get(p);
      if (was !== undefined && contentOf(this.#o.root, p) === was) {
        byContent++;
        continue;
      }
      unproven++;
      changed.add(p);
    }
    const ms = (performance.now() - t0).toFixed(1);
    const first = changed.size > 0 ? ` (${changed.values().next().value as string}…)` : '';
    if (unproven > MAX_RACY_PATHS) {
      this.#o.logger.debug(`watcher: ${unproven} paths too recent to trust their stamps or contents${first}, syncing (checked in ${ms} ms)`);
      return false;
    }
    // Read now, after every change made before this run: a path whose nodes hold what it reads needs nothing.
    const t1 = performance.now();
    const otherwise = changed.size > 0 && this.#o.readsOtherwise !== undefined ? await this.#o.readsOtherwise(changed) : changed;
    const asHeld = changed.size - otherwise.size;
    if (otherwise.size > 0) this.#o.invalidate([...otherwise]);
    this.#o.logger.debug(
      `watcher: ${why}: ${changed.size} of ${proof.stamps.size} paths changed since the last sync${first}, ${unproven} of them too recent to trust; ${byContent} recent ones unchanged by their contents (checked in ${ms} ms)` +
        (asHeld > 0 ? `; ${asHeld} of the changed read as the graph holds them (${(performance.now() - t1).toFixed(1)} ms), ${otherwise.size} invalidated` : ''),
    );
    return true;
  }

  #prove(): void {
    // One in flight: its end proves again for whoever asked after its stamps (below).
    if (this.#proving) return;
    if (!this.#o.enabled || this.#closed || this.#overflowPending) {
      this.#noProofForWaiters();
      return;
    }
    clearTimeout(this.#again);
    this.#again = undefined;
    const epoch = this.#epoch;
    const waiters = this.#proofWaiters.splice(0);
    const paths = new Set(this.#o.paths());
    if (paths.size > (this.#o.maxPaths ?? MAX_STAMPED_PATHS)) {
      this.#o.logger.debug(`watcher: the graphs read ${paths.size} paths, more than stamping them is worth; runs sync`);
      this.#answerWaiters(waiters, undefined);
      return;
    }
    const { stamps, racy } = stampPathsNow(this.#o.root, paths, this.#now());
    // After the stamps, before the cookie: a change between them is delivered by the cookie.
    const contents = new Map<string, string>();
    if (racy.size <= MAX_RACY_CONTENTS) {
      for (const p of racy) {
        const c = contentOf(this.#o.root, p);
        if (c !== undefined) contents.set(p, c);
      }
    }
    this.#proving = this.#o.watcher
      .sync()
      .then((ok) => {
        // After a covered overflow these stamps may take a dropped change as seen: the older proof stays.
        if (!ok || this.#closed || this.#epoch !== epoch || this.#overflowPending) {
          this.#answerWaiters(waiters, undefined);
          return;
        }
        this.#proof = { stamps, racy, contents, epoch, burst: this.#o.watcher.burst?.() };
        this.#answerWaiters(waiters, { stamps, racy });
        this.#o.logger.debug(`watcher: ${stamps.size} paths stamped (${racy.size} too recent to trust) and synced: the next run needs no sync`);
        if (racy.size > 0) {
          // Each would be re-read by every run until a proof stamps it.
          this.#again = setTimeout(() => {
            this.#again = undefined;
            if (this.#active === 0 && this.#epoch === epoch) this.#prove();
          }, RACY_MARGIN_MS + 100).unref();
        }
      })
      .finally(() => {
        this.#proving = undefined;
        // Asked while these stamps were being proven: they need stamps of their own.
        if (this.#proofWaiters.length > 0 && this.#active === 0) this.#prove();
      });
  }
}
