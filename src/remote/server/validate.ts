import { digestString, type Digest } from '../../core/index.js';
import { DigestFunction_Value, fromProtoDigest, type ProtoDigest } from '../../reapi/index.js';
import { invalidArgument, notFound, type RpcError } from './rpc-error.js';

/** What every request is checked against: the one instance this server serves and its limits. */
export interface ServerLimits {
  readonly instanceName: string;
  /** Largest blob the CAS accepts (`--max-blob-size`). */
  readonly maxBlobBytes: number;
  /** `max_batch_total_size_bytes`: the summed blob sizes a batch call may carry (MAX_BATCH_TOTAL_BYTES unless the hidden `--max-batch-size` says less). */
  readonly maxBatchTotalBytes: number;
}

/**
 * A request for another instance is NOT_FOUND: REAPI leaves instance names
 * to the server, and an unknown one is a resource that does not exist here,
 * not a malformed request. The message names both so a typo is obvious.
 */
export function checkInstance(limits: ServerLimits, instanceName: string): void {
  if (instanceName === limits.instanceName) return;
  throw notFound(
    `unknown instance name ${JSON.stringify(instanceName)}: this server serves only ${JSON.stringify(limits.instanceName)}` +
      ' (set the client\'s instance name to match, e.g. remote_instance_name / --remote_instance_name)',
  );
}

/**
 * Requests may name their digest function (REAPI v2.3); SHA-256 may be left
 * UNKNOWN (the server infers it from the hash length). Anything else is not
 * a function this server announces.
 */
export function checkDigestFunction(fn: DigestFunction_Value): void {
  if (fn === DigestFunction_Value.UNKNOWN || fn === DigestFunction_Value.SHA256) return;
  throw invalidArgument(
    `digest function ${DigestFunction_Value[fn] ?? String(fn)} is not supported: this server supports only SHA256 (see GetCapabilities)`,
  );
}

/** A wire Digest as trews' Digest, or INVALID_ARGUMENT naming the field. */
export function requireDigest(p: ProtoDigest | undefined, field: string): Digest {
  const d = fromProtoDigest(p, field);
  if (!d.ok) throw invalidArgument(d.failure.message + (d.failure.hints ? ` (${d.failure.hints.join('; ')})` : ''));
  return d.value;
}

/** The message for a blob over `--max-blob-size`, or undefined. */
export function blobTooLarge(limits: ServerLimits, d: Digest): RpcError | undefined {
  if (d.sizeBytes <= limits.maxBlobBytes) return undefined;
  return invalidArgument(
    `blob ${digestString(d)} is ${d.sizeBytes} bytes, more than this server accepts (${limits.maxBlobBytes} bytes, --max-blob-size)`,
  );
}
