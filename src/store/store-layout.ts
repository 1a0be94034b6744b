import { join } from 'node:path';
import type { Digest } from '../core/index.js';

// On disk, under the store directory:
//   cas/ab/<hash>        a blob, named by its SHA-256 (fan-out by the first two hex digits);
//                        its size is the file's size. Mode 0444: it may be hard-linked into sandboxes.
//   cas/ab/<hash>.x      the same bytes with mode 0555, made on demand for executable hard links
//                        (a hard link shares its inode's mode, so one inode cannot serve both).
//   ac/ab/<hash>-<size>  an action cache entry: the framed ActionResult of that Action digest.
//   tmp/                 files being written; renamed into place when complete.
//   leases/, gc-generation  who uses the store now, and a token GCs change (leases.ts).

export const CAS_DIR = 'cas';
export const AC_DIR = 'ac';
export const TMP_DIR = 'tmp';

export const CAS_NAME = /^[0-9a-f]{64}(\.x)?$/;
export const AC_NAME = /^[0-9a-f]{64}-(0|[1-9][0-9]*)$/;

export function casPath(dir: string, d: Digest): string {
  return join(dir, CAS_DIR, d.hash.slice(0, 2), d.hash);
}

export function casExecutablePath(dir: string, d: Digest): string {
  return `${casPath(dir, d)}.x`;
}

export function acPath(dir: string, actionDigest: Digest): string {
  return join(dir, AC_DIR, actionDigest.hash.slice(0, 2), `${actionDigest.hash}-${actionDigest.sizeBytes}`);
}
