import { digestString, type Digest } from '../../core/index.js';

/**
 * Blobs this client knows the server holds, learnt during one run: ones it
 * uploaded, ones FindMissingBlobs said were there, ones the server named in
 * an ActionResult it sent (its own outputs). Uploads for execution skip
 * them without asking.
 *
 * It is a belief, not the server's truth: a server may evict or lose blobs
 * (a restart with an empty CAS). Execute says so with FAILED_PRECONDITION
 * and MISSING violations; the runner then `clear()`s the memo and uploads
 * what was named. A lesson learnt before a clear is dropped (`generation`),
 * so an answer in flight when the server lost blobs cannot bring them
 * back. Cleared at the end of every run, and when it grows past `max`.
 */
export class PresenceMemo {
  readonly #set = new Set<string>();
  readonly #max: number;
  #generation = 0;

  constructor(max = 500_000) {
    this.#max = max;
  }

  /** Changes on every clear: pass the value read before asking the server to `add`. */
  get generation(): number {
    return this.#generation;
  }

  has(d: Digest): boolean {
    return this.#set.has(digestString(d));
  }

  /** Records blobs the server was seen to hold since `generation` was read (ignored when a clear came between). */
  add(digests: Iterable<Digest>, generation: number): void {
    if (generation !== this.#generation) return;
    for (const d of digests) {
      if (this.#set.size >= this.#max) this.#set.clear();
      this.#set.add(digestString(d));
    }
  }

  clear(): void {
    this.#set.clear();
    this.#generation++;
  }
}
