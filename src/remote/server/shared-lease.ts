import { beginStoreUse, type StoreUse } from '../../store/index.js';

/**
 * A lease shared by the actions in flight this long at most; a later action
 * starts a new one. While any action holds a lease a GC keeps everything
 * used since its start (less the touch interval), so a server never idle
 * would otherwise pin ever more of the store.
 */
export const SHARED_LEASE_MAX_AGE_MS = 5 * 60 * 1000;
/**
 * How long a lease outlives its last action: the actions of a chain come
 * one step after another (each step's pair after the last one ended), and
 * each step took the lease again.
 */
export const SHARED_LEASE_LINGER_MS = 2000;

export interface SharedStoreLeaseOptions {
  readonly dir: string;
  readonly maxAgeMs?: number;
  /** How long the lease is kept after its last action ends (0: released at once). */
  readonly lingerMs?: number;
  /** A lease could not be written: the action goes on without one (as it did when each took its own). */
  readonly onError: (e: unknown) => void;
  readonly now?: () => number;
}

interface Lease {
  readonly use: Promise<StoreUse | undefined>;
  readonly sinceMs: number;
  users: number;
  /** Set while the lease lingers with no action. */
  linger?: NodeJS.Timeout | undefined;
}

/**
 * One store lease (store/leases.ts) for all the actions a server is
 * running, rather than one each: taking a lease writes a file, lists the
 * lease directory and reads the GC generation, and removing it is another
 * file operation — ~1.5 ms on the way to every Execute, each step of a
 * chain of actions (bench/README.md, "remote execution, the plumbing of a
 * step").
 *
 * Sharing is as safe as a lease of one's own: an action that joins a lease
 * taken earlier is protected from an earlier time than its own start (a GC
 * keeps more, never less), and a GC that began before that lease was
 * written was seen when it was (the store's touch floor then makes every
 * later use refresh what it touches, joiners' uses included). The lease
 * ends SHARED_LEASE_LINGER_MS after its last action, unless another joins
 * it by then, and at close().
 */
export class SharedStoreLease {
  readonly #o: SharedStoreLeaseOptions;
  readonly #maxAgeMs: number;
  readonly #lingerMs: number;
  readonly #now: () => number;
  #current: Lease | undefined;
  /** Leases ended and being removed, for close(). */
  readonly #ending = new Set<Promise<void>>();

  constructor(o: SharedStoreLeaseOptions) {
    this.#o = o;
    this.#maxAgeMs = o.maxAgeMs ?? SHARED_LEASE_MAX_AGE_MS;
    this.#lingerMs = o.lingerMs ?? SHARED_LEASE_LINGER_MS;
    this.#now = o.now ?? Date.now;
  }

  /** Holds the store for one action, once the lease is written; the result ends that hold (never throws; twice is once). */
  async acquire(): Promise<() => Promise<void>> {
    const now = this.#now();
    let lease = this.#current;
    if (lease !== undefined && now - lease.sinceMs > this.#maxAgeMs) {
      // Too old to join: a lingering one ends now, a busy one with its last action.
      if (lease.users === 0) this.#end(lease);
      lease = undefined;
    }
    if (lease === undefined) {
      const fresh: Lease = {
        use: beginStoreUse(this.#o.dir, { sinceMs: now }).catch((e: unknown) => {
          // Not shared: the next action tries again.
          if (this.#current === fresh) this.#current = undefined;
          this.#o.onError(e);
          return undefined;
        }),
        sinceMs: now,
        users: 0,
      };
      lease = this.#current = fresh;
    }
    const held = lease;
    clearTimeout(held.linger);
    held.linger = undefined;
    held.users++;
    await held.use;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      if (this.#current !== held || this.#lingerMs <= 0) return this.#end(held);
      held.linger = setTimeout(() => void this.#end(held), this.#lingerMs);
      held.linger.unref();
    };
  }

  /** Ends the lease no action holds (a lingering one at once); waits for every lease ended to be removed. */
  async close(): Promise<void> {
    const lease = this.#current;
    if (lease !== undefined && lease.users === 0) void this.#end(lease);
    await Promise.all([...this.#ending]);
  }

  #end(lease: Lease): Promise<void> {
    clearTimeout(lease.linger);
    lease.linger = undefined;
    if (this.#current === lease) this.#current = undefined;
    const p = lease.use.then((use) => use?.release());
    this.#ending.add(p);
    void p.finally(() => this.#ending.delete(p));
    return p;
  }

  /** Actions holding the current lease (for tests and logs). */
  get holders(): number {
    return this.#current?.users ?? 0;
  }
}
