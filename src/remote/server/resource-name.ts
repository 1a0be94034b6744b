import { isSha256Hex, type Digest } from '../../core/index.js';
import { invalidArgument, notFound } from './rpc-error.js';
import type { ServerLimits } from './validate.js';

/**
 * ByteStream resource names, as REAPI defines them:
 *
 *   read:  {instance}/blobs/{digest_function/}{hash}/{size}
 *   write: {instance}/uploads/{uuid}/blobs/{digest_function/}{hash}/{size}{/optional_metadata}
 *
 * plus `compressed-blobs/{compressor}/…` forms in place of `blobs/…`. The
 * instance may span several segments; it is empty when the name starts with
 * `blobs/` or `uploads/`. The spec forbids instance segments equal to the
 * keywords below, which is what makes the split unambiguous.
 */
const KEYWORDS = new Set(['blobs', 'uploads', 'actions', 'actionResults', 'operations', 'capabilities', 'compressed-blobs']);

/**
 * Digest function names that may appear as a segment. The spec says the
 * segment MUST be omitted for MD5, MURMUR3, SHA1, SHA256, SHA384, SHA512 and
 * VSO (inferred from the hash length), so only newer functions show up; an
 * explicit `sha256` is tolerated since it means what we serve anyway.
 */
const OTHER_DIGEST_FUNCTIONS = new Set(['sha256tree', 'blake3', 'sha1', 'md5', 'sha384', 'sha512', 'vso', 'murmur3']);

export interface ReadResource {
  readonly digest: Digest;
}

export interface WriteResource {
  readonly digest: Digest;
  /** The whole name: uploads are keyed by it (uuid included). */
  readonly name: string;
}

export function parseReadResource(name: string, limits: ServerLimits): ReadResource {
  const { instance, rest } = splitInstance(name, 'read');
  checkResourceInstance(instance, limits, name);
  if (rest[0] === 'uploads') throw malformed(name, 'read', 'an uploads/… name can only be written, not read');
  const { digest, extra } = parseBlobPart(rest, name, 'read');
  if (extra.length > 0) throw malformed(name, 'read', `unexpected trailing segments after the size: ${JSON.stringify(extra.join('/'))}`);
  return { digest };
}

export function parseWriteResource(name: string, limits: ServerLimits): WriteResource {
  const { instance, rest } = splitInstance(name, 'write');
  checkResourceInstance(instance, limits, name);
  if (rest[0] !== 'uploads') throw malformed(name, 'write', 'a write must name {instance}/uploads/{uuid}/blobs/{hash}/{size}');
  const uuid = rest[1];
  if (uuid === undefined || uuid === '' || KEYWORDS.has(uuid)) throw malformed(name, 'write', 'the {uuid} segment after uploads/ is missing');
  // Anything after the size is the client's optional metadata, which servers may ignore.
  const { digest } = parseBlobPart(rest.slice(2), name, 'write');
  return { digest, name };
}

function splitInstance(name: string, kind: 'read' | 'write'): { instance: string; rest: string[] } {
  if (name === '') throw invalidArgument(`resource_name is empty; expected ${expected(kind)}`);
  const segments = name.split('/');
  const at = segments.findIndex((s) => s === 'blobs' || s === 'uploads' || s === 'compressed-blobs');
  if (at < 0) throw malformed(name, kind, 'it has no blobs/, uploads/ or compressed-blobs/ segment');
  return { instance: segments.slice(0, at).join('/'), rest: segments.slice(at) };
}

function checkResourceInstance(instance: string, limits: ServerLimits, name: string): void {
  if (instance === limits.instanceName) return;
  throw notFound(
    `resource ${JSON.stringify(name)} names instance ${JSON.stringify(instance)}, but this server serves only ${JSON.stringify(limits.instanceName)}`,
  );
}

/** `blobs/{fn/}{hash}/{size}…` or `compressed-blobs/{compressor}/{fn/}{hash}/{size}…`. */
function parseBlobPart(rest: readonly string[], name: string, kind: 'read' | 'write'): { digest: Digest; extra: string[] } {
  const head = rest[0];
  if (head === 'compressed-blobs') {
    throw invalidArgument(
      `resource ${JSON.stringify(name)}: compressed-blobs (${rest[1] ?? '?'}) are not supported; this server advertises no compressors, use ${kind === 'read' ? '{instance}/blobs/…' : '{instance}/uploads/{uuid}/blobs/…'}`,
    );
  }
  if (head !== 'blobs') throw malformed(name, kind, `expected blobs/ where it has ${JSON.stringify(head ?? '')}`);
  let i = 1;
  const fn = rest[i];
  if (fn !== undefined && !isSha256Hex(fn) && (OTHER_DIGEST_FUNCTIONS.has(fn) || fn === 'sha256')) {
    if (fn !== 'sha256') {
      throw invalidArgument(`resource ${JSON.stringify(name)}: digest function ${fn} is not supported; this server supports only SHA256`);
    }
    i++;
  }
  const hash = rest[i];
  const size = rest[i + 1];
  if (hash === undefined || !isSha256Hex(hash)) {
    throw malformed(name, kind, `${JSON.stringify(hash ?? '')} is not a SHA-256 hash (64 lower-case hexadecimal digits)`);
  }
  if (size === undefined || !/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw malformed(name, kind, `${JSON.stringify(size ?? '')} is not a size in bytes`);
  }
  return { digest: { hash, sizeBytes: Number(size) }, extra: rest.slice(i + 2) };
}

function expected(kind: 'read' | 'write'): string {
  return kind === 'read' ? '{instance}/blobs/{hash}/{size}' : '{instance}/uploads/{uuid}/blobs/{hash}/{size}';
}

function malformed(name: string, kind: 'read' | 'write', why: string) {
  return invalidArgument(`malformed resource_name ${JSON.stringify(name.slice(0, 200))}: ${why}; expected ${expected(kind)}`);
}
