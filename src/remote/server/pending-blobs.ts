import { digestString, type Digest, type Logger } from '../../core/index.js';
import type { LocalStore } from '../../store/index.js';

interface Pending {
  readonly bytes: Uint8Array;
  /** Settles once the write has ended, written or failed (never rejects). */
  readonly written: Promise<void>;
}

/**
 * Blobs that BatchUpdateBlobs accepted (their bytes already checked
 * against their digest) and whose files are still being written: the
 * answer goes to the client first, and the writes happen while it reads
 * it and sends the Execute that follows, instead of on the way to every
 * step of a chain (~16 small files a step, 2–7 ms on this VM; bench/README.md,
 * "remote execution, the plumbing of a step").
 *
 * Until written, such a blob is present and read from memory (cas-view.ts);
 * whatever needs its file — a sandbox linking it, an action cache lookup
 * checking outputs — waits for the write. A write that fails is logged, the
 * blob is absent again (an Execute needing it gets MISSING and the client
 * sends it again), and from then on blobs are stored before the answer, so
 * the failure reaches the client as the status of its blob.
 */
export class PendingBlobs {
  readonly #store: Pick<LocalStore, 'put'>;
  readonly #log: Logger;
  readonly #entries = new Map<string, Pending>();
  #failed = false;

  constructor(store: Pick<LocalStore, 'put'>, logger: Logger) {
    this.#store = store;
    this.#log = logger;
  }

  /** Stores `bytes`, verified as `d`: held at once, written after the current turn; written before it resolves once a write has failed. */
  async accept(d: Digest, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.#failed) return this.#store.put(d, bytes, signal);
    const key = digestString(d);
    if (this.#entries.has(key)) return;
    // A copy: the request's buffer belongs to gRPC.
    const copy: Uint8Array = Uint8Array.prototype.slice.call(bytes);
    const written = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#store.put(d, copy))
      .then(
        () => void this.#entries.delete(key),
        (e: unknown) => {
          this.#entries.delete(key);
          this.#failed = true;
          this.#log.error(`cannot store blob ${key}, accepted from a client: ${e instanceof Error ? e.message : String(e)}; blobs are now stored before BatchUpdateBlobs answers`);
        },
      );
    this.#entries.set(key, { bytes: copy, written });
  }

  has(d: Digest): boolean {
    return this.#entries.has(digestString(d));
  }

  /** The bytes of a blob being written, else undefined. */
  bytes(d: Digest): Uint8Array | undefined {
    return this.#entries.get(digestString(d))?.bytes;
  }

  /** Resolves once the writes of `digests` (default: every blob accepted so far) have ended, written or failed. */
  async written(digests?: readonly Digest[]): Promise<void> {
    const entries = digests === undefined ? [...this.#entries.values()] : digests.map((d) => this.#entries.get(digestString(d)));
    await Promise.all(entries.map((e) => e?.written));
  }

  get size(): number {
    return this.#entries.size;
  }
}
