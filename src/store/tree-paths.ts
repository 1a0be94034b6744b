import { checkPathSegment } from '../reapi/index.js';
import { invalidTreePath } from './tree-failures.js';

/**
 * Splits a relative path inside a tree into its segments, refusing anything
 * that is not plain `a/b/c` (absolute, `.`/`..`, empty segments, NUL): such a
 * path could not be a Directory entry, or would escape the tree when
 * materialized. `''` (the root) is allowed only when `allowRoot`.
 */
export function treePathSegments(path: string, what = 'path', allowRoot = false): string[] {
  if (path === '') {
    if (allowRoot) return [];
    throw invalidTreePath(path, 'is empty', what);
  }
  if (path.startsWith('/')) throw invalidTreePath(path, 'is absolute', what);
  const segments = path.split('/');
  for (const s of segments) {
    if (checkPathSegment(s) !== undefined) {
      throw invalidTreePath(path, s === '' ? 'has an empty segment' : `has an invalid segment ${JSON.stringify(s)}`, what);
    }
  }
  return segments;
}

export function joinTreePath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
