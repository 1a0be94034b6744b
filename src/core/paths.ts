import { posix } from 'node:path';

/**
 * A path relative to the build root, in posix form, normalized, never escaping the
 * root. The root itself is the empty string.
 */
export type RelPath = string & { readonly __brand: 'RelPath' };
/** An absolute path on this machine. */
export type AbsPath = string & { readonly __brand: 'AbsPath' };

export const ROOT: RelPath = '' as RelPath;

/** Normalizes `p` as a build-root-relative path, or returns undefined if it escapes the root or is absolute. */
export function toRelPath(p: string): RelPath | undefined {
  if (p.startsWith('/')) return undefined;
  const n = posix.normalize(p.replace(/\\/g, '/'));
  if (n === '.' || n === './' || n === '') return ROOT;
  const trimmed = n.endsWith('/') ? n.slice(0, -1) : n;
  if (trimmed === '..' || trimmed.startsWith('../')) return undefined;
  return trimmed as RelPath;
}

export function joinRel(dir: RelPath | string, name: string): RelPath {
  return (dir === '' ? name : `${dir}/${name}`) as RelPath;
}

export function dirnameRel(p: RelPath | string): RelPath {
  const i = p.lastIndexOf('/');
  return (i < 0 ? '' : p.slice(0, i)) as RelPath;
}

export function basenameRel(p: RelPath | string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

/** True when `p` is `dir` or inside it. */
export function isWithin(p: string, dir: string): boolean {
  return dir === '' || p === dir || (p.startsWith(dir) && p.charCodeAt(dir.length) === 47 /* / */);
}

/** All ancestors of `p` from the root down, excluding `p`: `a/b/c` → ['', 'a', 'a/b']. */
export function ancestorsRel(p: RelPath | string): RelPath[] {
  const out: RelPath[] = [ROOT];
  let i = p.indexOf('/');
  while (i >= 0) {
    out.push(p.slice(0, i) as RelPath);
    i = p.indexOf('/', i + 1);
  }
  return p === '' ? [] : out;
}
