import { digestString, type Digest } from '../../core/index.js';
import type { BlobStore } from '../../store/index.js';

/** Blobs larger than this are not kept: Actions, Commands and Directories are a few hundred bytes. */
const MAX_BLOB_BYTES = 64 * 1024;
/** Bytes kept at most, oldest dropped first. */
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

/**
 * The small blobs clients uploaded lately (BatchUpdateBlobs), kept in
 * memory so that the Execute which follows an upload reads its Action,
 * Command and input Directories without opening the files just written:
 * on a loaded machine each is a file-system round trip on the way to
 * every action (bench/README.md, "2026-12-05, 18:05–…: remote execution").
 *
 * Only what `reader` reads comes from here: the bytes were verified against
 * their digest before they were kept (the CAS refuses anything else), so
 * they are the content of that digest whatever later happens on disk.
 * Presence is never answered from memory — `findMissing` asks the store,
 * whose files are what sandboxes are linked from — and every other reader
 * (ByteStream, BatchReadBlobs, the sandbox runner) uses the store as
 * before: a blob that left the CAS (evicted, or removed after an action
 * wrote to it) is reported MISSING when a run needs its file.
 */
export class RecentBlobs {
  readonly #blobs = new Map<string, Uint8Array>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes = DEFAULT_MAX_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Keeps `data`, which the CAS has just verified and stored as `d`. */
  remember(d: Digest, data: Uint8Array): void {
    if (data.byteLength === 0 || data.byteLength > MAX_BLOB_BYTES || data.byteLength !== d.sizeBytes) return;
    const key = digestString(d);
    if (this.#blobs.has(key)) return;
    // A copy: the request's buffer belongs to gRPC.
    this.#blobs.set(key, Uint8Array.prototype.slice.call(data));
    this.#bytes += data.byteLength;
    for (const [k, v] of this.#blobs) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#blobs.delete(k);
      this.#bytes -= v.byteLength;
    }
  }

  get(d: Digest): Uint8Array | undefined {
    return this.#blobs.get(digestString(d));
  }

  get size(): number {
    return this.#blobs.size;
  }

  /** `store` with reads served from these blobs first; presence still from `store`. */
  reader(store: Pick<BlobStore, 'getBytes' | 'findMissing'>): Pick<BlobStore, 'getBytes' | 'findMissing'> {
    return {
      getBytes: (d, signal) => {
        const kept = this.#blobs.get(digestString(d));
        return kept !== undefined ? Promise.resolve(kept) : store.getBytes(d, signal);
      },
      findMissing: (digests, signal) => store.findMissing(digests, signal),
    };
  }
}
