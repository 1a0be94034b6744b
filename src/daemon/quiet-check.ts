import { changedPaths, RACY_MARGIN_MS, stampPaths } from '../fs/index.js';
import type { Logger } from '../core/index.js';
import type { FileWatcher } from './watcher.js';

export interface QuietCheckOptions {
  /** Absolute build root. */
  readonly root: string;
  readonly watcher: FileWatcher;
  /** The build-root-relative paths the daemon's graphs read (Engine.readPaths of each). */
  readonly paths: () => Iterable<string>;
  readonly logger: Logger;
  /** Off: every run waits for the watcher's sync cookie (daemon_invalidation_globs set, tests). */
  readonly enabled: boolean;
  /** Wall clock in ms, as file timestamps are (tests move it). */
  readonly now?: () => number;
}

/** Why a run waited for the watcher, or that it did not: for the log and the tests. */
export type QuietVerdict = 'quiet' | 'synced';

/**
 * Spares a run the watcher's sync cookie when nothing it could read changed.
 *
 * A run must see every change made before it, so it writes a cookie and waits
 * for the watcher to deliver it (watcher.ts): one event's round trip, and
 * @parcel/watcher's 50 ms debounce when a run follows other events (the last
 * run's cookie and outputs) within half a second — most of a fully cached
 * run through the daemon. Instead, once no run is in progress, the daemon
 * proves in the background that the graph is up to date *as of a moment T*:
 * 1. at T it takes stat stamps of every path its graphs read
 *    (fs/path-stamps.ts, the same racy rule as the kept graph: a path or a
 *    directory holding it changed within RACY_MARGIN_MS of T gets no stamp,
 *    since a later write in the same timestamp tick could leave its stat equal);
 * 2. then it syncs the watcher: every change made before T was delivered,
 *    and invalidated what it touched, once the cookie comes back.
 * A run that finds this proof standing — every path stamped, no batch
 * delivered and no run entered or ended since, and every path's stat still
 * equal to its stamp (a few ms: one lstat per path) — knows any change made
 * since T would show in a stamp, so no change it could read is pending, and
 * starts without a cookie. Anything else waits for a cookie as before. A
 * path not yet stampable at T (written just before) has the proof retried
 * once it is old enough.
 */
export class QuietCheck {
  readonly #o: QuietCheckOptions;
  readonly #now: () => number;
  /** Bumped as a run enters (past its wait) and as one ends: files may have been written. */
  #epoch = 0;
  #active = 0;
  #proof: { readonly stamps: Map<string, string>; readonly epoch: number; readonly deliveries: number } | undefined;
  /** The proof being built (its stamps taken, its cookie awaited). */
  #proving: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
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

  /** Before a run reads anything: returns once every change it could read has been delivered. */
  async beforeRun(): Promise<QuietVerdict> {
    try {
      if (this.#proving) await this.#proving;
      if (this.#standing()) return 'quiet';
      await this.#o.watcher.sync();
      return 'synced';
    } finally {
      this.#proof = undefined;
      this.#epoch++;
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#proof = undefined;
  }

  #standing(): boolean {
    const proof = this.#proof;
    if (proof === undefined || proof.epoch !== this.#epoch || proof.deliveries !== this.#o.watcher.deliveries) return false;
    const t0 = performance.now();
    const changed = changedPaths(this.#o.root, proof.stamps, proof.stamps.keys());
    const ms = (performance.now() - t0).toFixed(1);
    if (changed.size > 0) {
      const first = changed.values().next().value as string;
      this.#o.logger.debug(`watcher: ${changed.size} of ${proof.stamps.size} stamped paths changed (${first}…), syncing (checked in ${ms} ms)`);
      return false;
    }
    this.#o.logger.debug(`watcher: ${proof.stamps.size} stamped paths unchanged since the last sync, no sync needed (checked in ${ms} ms)`);
    return true;
  }

  #prove(): void {
    if (!this.#o.enabled || this.#closed || this.#proving) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const epoch = this.#epoch;
    const startedAt = this.#now();
    const paths = new Set(this.#o.paths());
    const stamps = stampPaths(this.#o.root, paths, startedAt);
    if (stamps.size < paths.size) {
      // Some path changed too recently to be stamped; once it is old enough it will be.
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        if (this.#active === 0 && this.#epoch === epoch) this.#prove();
      }, RACY_MARGIN_MS + 100).unref();
      return;
    }
    this.#proving = this.#o.watcher
      .sync()
      .then((ok) => {
        if (!ok || this.#closed || this.#epoch !== epoch) return;
        this.#proof = { stamps, epoch, deliveries: this.#o.watcher.deliveries };
        this.#o.logger.debug(`watcher: ${stamps.size} paths stamped and synced: the next run waits for no cookie unless one of them changes`);
      })
      .finally(() => {
        this.#proving = undefined;
      });
  }
}
