import type { Digest } from '../../core/index.js';

/** gRPC's default largest message (servers in Go, Java, C++ and Node all start here). */
export const GRPC_DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Kept free under any message limit for the request's own fields and framing. */
export const MESSAGE_MARGIN_BYTES = 64 * 1024;
/**
 * Encoded cost of one blob in a batch message beyond its data: the Digest
 * (64-char hash, size varint), the data's tag and length, the entry's tag
 * and length. 128 is above the worst case (~97), so the sum never
 * underestimates.
 */
export const PER_BLOB_OVERHEAD_BYTES = 128;
/** Encoded cost of one digest in FindMissingBlobs (~80 bytes, rounded up). */
const PER_DIGEST_BYTES = 96;
/** Digests per FindMissingBlobs request: a 10,000-file input root is one call; the message stays near 1 MiB. */
export const MAX_DIGESTS_PER_FIND_MISSING = Math.min(10_000, Math.floor((GRPC_DEFAULT_MAX_MESSAGE_BYTES - MESSAGE_MARGIN_BYTES) / PER_DIGEST_BYTES));

/**
 * The largest batch message we send or ask for: under the server's
 * `max_batch_total_size_bytes` (0 = no limit), under
 * `remote_store_batch_api_size_limit`, and under gRPC's default 4 MiB
 * message limit with a margin, since a server may advertise more than its
 * transport accepts. Never below what one small blob needs.
 */
export function effectiveBatchLimit(serverMaxBytes: number, optionLimitBytes: number): number {
  let limit = GRPC_DEFAULT_MAX_MESSAGE_BYTES - MESSAGE_MARGIN_BYTES;
  if (serverMaxBytes > 0) limit = Math.min(limit, serverMaxBytes - Math.min(MESSAGE_MARGIN_BYTES, Math.floor(serverMaxBytes / 8)));
  limit = Math.min(limit, optionLimitBytes);
  return Math.max(limit, PER_BLOB_OVERHEAD_BYTES + 1);
}

/** True when a blob of this size fits in a batch message of `limit` on its own. */
export function fitsInBatch(sizeBytes: number, limit: number): boolean {
  return sizeBytes + PER_BLOB_OVERHEAD_BYTES <= limit;
}

export interface BatchPlan<T> {
  /** Groups whose encoded size stays within the limit. */
  readonly batches: T[][];
  /** Blobs too large for any batch: they go through ByteStream. */
  readonly streamed: T[];
}

/**
 * Packs blobs into batches of at most `limit` encoded bytes (first fit, in
 * the given order, so results are deterministic) and sets aside those too
 * large for a batch.
 */
export function planBatches<T extends { readonly digest: Digest }>(items: readonly T[], limit: number): BatchPlan<T> {
  const batches: T[][] = [];
  const streamed: T[] = [];
  let current: T[] = [];
  let used = 0;
  for (const item of items) {
    const cost = item.digest.sizeBytes + PER_BLOB_OVERHEAD_BYTES;
    if (cost > limit) {
      streamed.push(item);
      continue;
    }
    if (used + cost > limit && current.length > 0) {
      batches.push(current);
      current = [];
      used = 0;
    }
    current.push(item);
    used += cost;
  }
  if (current.length > 0) batches.push(current);
  return { batches, streamed };
}

/** Splits a list into pieces of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
