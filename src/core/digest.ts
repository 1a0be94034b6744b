import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256. Branded so a random string is never taken for a hash. */
export type Sha256Hex = string & { readonly __brand: 'Sha256Hex' };

/** A REAPI Digest: the SHA-256 of a blob and its length in bytes. */
export interface Digest {
  readonly hash: Sha256Hex;
  readonly sizeBytes: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256Hex(s: string): s is Sha256Hex {
  return HEX64.test(s);
}

export function sha256Hex(data: Uint8Array | string): Sha256Hex {
  return createHash('sha256').update(data).digest('hex') as Sha256Hex;
}

export function digestOf(data: Uint8Array | string): Digest {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { hash: sha256Hex(bytes), sizeBytes: bytes.byteLength };
}

export const EMPTY_DIGEST: Digest = digestOf(new Uint8Array(0));

/** `hash/size`, the form REAPI resource names and our store paths use. */
export function digestString(d: Digest): string {
  return `${d.hash}/${d.sizeBytes}`;
}

export function parseDigestString(s: string): Digest | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const hash = s.slice(0, slash);
  const size = Number(s.slice(slash + 1));
  if (!isSha256Hex(hash) || !Number.isSafeInteger(size) || size < 0 || String(size) !== s.slice(slash + 1)) return undefined;
  return { hash, sizeBytes: size };
}

export function digestEquals(a: Digest, b: Digest): boolean {
  return a.hash === b.hash && a.sizeBytes === b.sizeBytes;
}
