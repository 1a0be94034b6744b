import { posix } from 'node:path';

/**
 * The directory vitest and jest write `lcov.info` into, for a caller's `coverageFile`: its
 * own directory, unless that is the package directory itself, which a coverage tool must
 * not own (vitest deletes `<dir>/.tmp`, and all of `<dir>` unless `clean` is off).
 */
export function coverageDirFor(coverageFile: string): string {
  const dir = posix.normalize(posix.dirname(coverageFile));
  return dir === '.' || dir === '' || dir === '/' ? '.trews-coverage' : dir;
}
