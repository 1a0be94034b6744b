import { create } from '@bufbuild/protobuf';
import { err, failure, isSha256Hex, ok, type Digest, type Result } from '../core/index.js';
import { DigestSchema, type Digest as ProtoDigest } from './schemas.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function toProtoDigest(d: Digest): ProtoDigest {
  return create(DigestSchema, { hash: d.hash, sizeBytes: BigInt(d.sizeBytes) });
}

/**
 * Converts a wire Digest into trews' Digest, rejecting anything a peer could
 * send that we must not use as a store key: a missing digest, a hash that is
 * not 64 lower-case hex digits (the only digest function trews speaks is
 * SHA-256), a negative size, or one too large to be a JavaScript number.
 * `what` names the field in the message, e.g. `action_digest`.
 */
export function fromProtoDigest(p: ProtoDigest | undefined, what = 'digest'): Result<Digest> {
  if (p === undefined) return err(failure('input', 'invalid-digest', `${what} is missing`));
  if (!isSha256Hex(p.hash)) {
    return err(
      failure('input', 'invalid-digest', `${what} has a malformed hash ${JSON.stringify(p.hash.slice(0, 80))}`, {
        hints: ['trews expects SHA-256 digests: 64 lower-case hexadecimal digits'],
      }),
    );
  }
  if (p.sizeBytes < 0n || p.sizeBytes > MAX_SAFE) {
    return err(failure('input', 'invalid-digest', `${what} has an invalid size ${p.sizeBytes}`));
  }
  return ok({ hash: p.hash, sizeBytes: Number(p.sizeBytes) });
}
