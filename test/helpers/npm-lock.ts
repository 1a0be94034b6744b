import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo.js';

interface LockedPackage {
  readonly version: string;
  readonly integrity: string;
}

/**
 * The `node_modules/semver` entry of a package-lock.json, pinned to the semver
 * trews itself locks: the npm cache of any machine that ran `npm ci` here holds
 * its tarball, so a test workspace that depends on it installs offline.
 */
export function lockedSemverEntry(): Record<string, unknown> & LockedPackage {
  const lock = JSON.parse(readFileSync(join(repoRoot(), 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage | undefined> };
  const e = lock.packages['node_modules/semver'];
  if (e === undefined) throw new Error("trews' package-lock.json no longer locks semver: pick another package for the test workspaces");
  return {
    version: e.version,
    resolved: `https://registry.npmjs.org/semver/-/semver-${e.version}.tgz`,
    integrity: e.integrity,
    license: 'ISC',
    bin: { semver: 'bin/semver.js' },
    engines: { node: '>=10' },
  };
}
