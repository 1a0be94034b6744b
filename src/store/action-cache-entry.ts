import { createHash } from 'node:crypto';

// An action cache file is MAGIC, then SHA-256 of the payload, then the
// payload (the canonical encoding of the ActionResult). The checksum matters:
// a torn or truncated protobuf often still decodes — as a *different*
// message, e.g. without its exit_code, i.e. a "successful" result. With it, a
// damaged entry is a miss, never a wrong result.
const MAGIC = Buffer.from('trewsAC1', 'latin1');
const HEADER = MAGIC.length + 32;

export function frameActionResult(payload: Uint8Array): Uint8Array {
  const sum = createHash('sha256').update(payload).digest();
  return Buffer.concat([MAGIC, sum, payload]);
}

/** The payload, or undefined when the bytes are not an intact entry. */
export function unframeActionResult(bytes: Uint8Array): Uint8Array | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEADER || !b.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const payload = b.subarray(HEADER);
  const sum = createHash('sha256').update(payload).digest();
  return sum.equals(b.subarray(MAGIC.length, HEADER)) ? payload : undefined;
}
