import { fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { decodeDirectory } from './decode-directory.js';
import { encodeDirectory } from './encode-directory.js';
import { DirectorySchema, type Directory } from './schemas.js';
import { digestOf, err, failure, ok, type Digest, type Result } from '../core/index.js';

/**
 * The canonical binary encoding REAPI hashes: fields in field-number order
 * (protobuf-es writes in that order whatever the declaration order), each
 * once, default values omitted, and no unknown fields — those are dropped on
 * purpose, because a message decoded from a newer peer must not hash
 * differently from the same message built by us.
 *
 * It does not sort repeated fields: bring the message to its canonical form
 * first (canonicalDirectory, canonicalCommand, canonicalPlatform).
 */
export function encodeCanonical<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Uint8Array {
  // The one message encoded per directory of every snapshot and merge: by hand.
  if (schema.typeName === DirectorySchema.typeName) return encodeDirectory(message as unknown as Directory);
  return toBinary(schema, message, { writeUnknownFields: false });
}

/** The encoding of `message` and its REAPI digest (the key it has in a CAS). */
export function digestMessage<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): { digest: Digest; bytes: Uint8Array } {
  const bytes = encodeCanonical(schema, message);
  return { digest: digestOf(bytes), bytes };
}

/**
 * Decodes bytes that came from a store or a peer. Malformed input is an
 * expected failure (a truncated blob, a wrong digest), not a crash.
 */
export function decodeMessage<Desc extends DescMessage>(
  schema: Desc,
  bytes: Uint8Array,
): Result<MessageShape<Desc>> {
  // The one message read in every tree walk: by hand when it is plain (decode-directory.ts).
  if (schema.typeName === DirectorySchema.typeName) {
    const dir = decodeDirectory(bytes);
    if (dir !== undefined) return ok(dir as unknown as MessageShape<Desc>);
  }
  try {
    return ok(fromBinary(schema, bytes));
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err(failure('input', 'malformed-message', `cannot decode ${schema.typeName}: ${why}`));
  }
}
