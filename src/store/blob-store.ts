import type { Readable } from 'node:stream';
import type { Digest } from '../core/index.js';
import type { ActionResult } from '../reapi/index.js';

/**
 * Content-addressed blobs, keyed by REAPI Digest. Implemented by the local
 * disk store and by the remote client, and served by the gRPC server; all
 * of them pass blobStoreContract().
 *
 * The empty blob is always present, whether or not it was ever put.
 */
export interface BlobStore {
  /**
   * The digests (deduplicated) that are not stored. The local store checks
   * content, not only size: a blob whose stored bytes do not match its
   * digest is deleted and reported missing, so the caller stores it again.
   */
  findMissing(digests: readonly Digest[], signal?: AbortSignal): Promise<Digest[]>;
  /** Streams the blob; undefined when absent. The stream errors if the content turns out not to match. */
  get(digest: Digest, signal?: AbortSignal): Promise<Readable | undefined>;
  /** Convenience for small blobs: refuses blobs above a bound (an internal failure, reason `blob-too-large`). */
  getBytes(digest: Digest, signal?: AbortSignal): Promise<Uint8Array | undefined>;
  /**
   * Stores data claimed to have `digest`, after checking it: a mismatch
   * rejects with a FailureError (reason `digest-mismatch`) and stores
   * nothing. The store takes ownership of a stream (it may destroy it
   * unread when the blob is already present).
   */
  put(digest: Digest, data: Readable | Uint8Array, signal?: AbortSignal): Promise<void>;
}

/** Action digest → ActionResult. */
export interface ActionCache {
  getActionResult(actionDigest: Digest, signal?: AbortSignal): Promise<ActionResult | undefined>;
  updateActionResult(actionDigest: Digest, result: ActionResult, signal?: AbortSignal): Promise<void>;
}
