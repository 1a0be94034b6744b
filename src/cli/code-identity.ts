import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What a kept graph's memos are only as good as: the exact code that computed
 * them (a rebuild keeps TREWS_VERSION). A graph made by other code is
 * discarded whole (graph-file.ts).
 *
 * A process without a daemon and a daemon both run the bundle
 * dist/trews-main.cjs, whose digest bin/code-cache.cjs records as it loads
 * it. Undefined when trews was not started from the bundle (bin/trews.cjs,
 * bin/trewsd.cjs): see moduleTreeDigest.
 */
export function bundleCodeDigest(): string | undefined {
  const digests = (globalThis as Record<symbol, unknown>)[Symbol.for('trews.bundle-digests')] as Record<string, string> | undefined;
  const d = digests?.['trews-main.cjs'];
  return d === undefined ? undefined : `bundle:${d}`;
}

/**
 * The files of trews' own code a replay record stamps (replay-record.ts):
 * bin/trews.cjs and bin/code-cache.cjs beside the entry this process was
 * started from (bin/trews.cjs, or bin/trewsd.cjs for a daemon), `alsoInBin`
 * there, and the bundles in ../dist. Undefined when trews was not started
 * from the bundle, or its entry cannot be resolved.
 */
export function bundleCodeFiles(alsoInBin: readonly string[] = []): string[] | undefined {
  if (bundleCodeDigest() === undefined) return undefined;
  let bin: string;
  try {
    bin = dirname(realpathSync(process.argv[1] ?? ''));
  } catch {
    return undefined;
  }
  const dist = join(bin, '..', 'dist');
  return [...['trews.cjs', 'code-cache.cjs', ...alsoInBin].map((f) => join(bin, f)), join(dist, 'trews-client.cjs'), join(dist, 'trews-main.cjs')];
}

/**
 * A daemon started from the ES modules of dist/src (no bundle to run): its
 * code is those modules (tests left out) and the versions of the packages
 * they import. `npx tsc` alone rebuilds dist/src and not the bundle, so the
 * two are never taken for one another. Reads every module once (~2.5 MB, a
 * few tens of ms), as such a daemon starts.
 */
export function moduleTreeDigest(srcDir: string = defaultSrcDir()): string {
  const h = createHash('sha256');
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.js') && !e.name.endsWith('.test.js')) files.push(p);
    }
  };
  walk(srcDir);
  files.sort();
  for (const f of files) {
    const bytes = readFileSync(f);
    h.update(`${relative(srcDir, f)}\0${bytes.length}\0`);
    h.update(bytes);
  }
  // The packages the modules import, found as Node finds them from here.
  const packageRoot = join(srcDir, '..', '..');
  let deps: string[] = [];
  try {
    deps = Object.keys((JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}).sort();
  } catch {
    h.update('no package.json\0');
  }
  const req = createRequire(join(srcDir, 'index.js'));
  for (const dep of deps) {
    let version = 'not found';
    try {
      version = (JSON.parse(readFileSync(req.resolve(`${dep}/package.json`), 'utf8')) as { version?: string }).version ?? 'no version';
    } catch {
      // A package whose exports hide package.json: found by walking up from its entry point.
      version = versionByEntry(req, dep);
    }
    h.update(`${dep}@${version}\0`);
  }
  return `modules:${h.digest('hex')}`;
}

function versionByEntry(req: NodeJS.Require, dep: string): string {
  try {
    let dir = dirname(req.resolve(dep));
    for (let i = 0; i < 8; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === dep) return pkg.version ?? 'no version';
      } catch {
        // Not here: one level up.
      }
      dir = dirname(dir);
    }
  } catch {
    // Not installed: the daemon would fail on it anyway.
  }
  return 'not found';
}

function defaultSrcDir(): string {
  // This module is dist/src/cli/code-identity.js.
  return join(dirname(fileURLToPath(import.meta.url)), '..');
}
