#!/usr/bin/env node
// The Node entry point (bin/trews, the launcher, execs it; so does the native
// client for what it does not serve): the thin client, bundled into one CommonJS file by
// `npm run build` (scripts/bundle.mjs). It runs the command through the daemon,
// or in this process with --no-daemon, without a build root, or as a fallback.
//
// Start-up is the client's whole cost. This file is CommonJS (bin/package.json
// says so), which Node loads faster than an ES module, and the bundles are
// compiled with a V8 code cache each, which spares compiling their code again
// on every run.
'use strict';
const { createHash } = require('node:crypto');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { basename, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const vm = require('node:vm');

const dist = join(__dirname, '..', 'dist');

/**
 * Compiles and runs a bundled CommonJS file with a V8 code cache kept next to
 * it (as v8-compile-cache does): written after a run that had none, or whose
 * cache V8 rejected (a rebuild, a Node upgrade). Undefined when the file is missing.
 */
function runCached(filename) {
  let source;
  try {
    source = readFileSync(filename, 'utf8');
  } catch (e) {
    if (e?.code !== 'ENOENT') throw e;
    return undefined;
  }
  // V8 accepts cached code for a source of the same length (it checks no
  // content), so a rebuild or upgrade that changed `!0` to `!1` would run the
  // old code. The cache starts with the SHA-256 of the source it was made
  // from (~2 ms for the runner) and is used only for exactly that source.
  const sourceHash = createHash('sha256').update(source).digest();
  // What the run's persisted state is keyed by (src/cli/graph-file.ts): the exact code that made it.
  const digests = (globalThis[Symbol.for('trews.bundle-digests')] ??= {});
  digests[basename(filename)] = sourceHash.toString('hex');
  const cachePath = `${filename}.v8cache`;
  let cachedData;
  try {
    const kept = readFileSync(cachePath);
    if (kept.length > sourceHash.length && kept.subarray(0, sourceHash.length).equals(sourceHash)) cachedData = kept.subarray(sourceHash.length);
  } catch {
    // The first run after a build writes it.
  }
  // No import() in a vm.Script: scripts/bundle.mjs checks that the bundles use none.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        const tmp = `${cachePath}.${process.pid}.tmp`;
        writeFileSync(tmp, Buffer.concat([sourceHash, script.createCachedData()]));
        renameSync(tmp, cachePath);
      } catch {
        // A read-only install runs without the cache.
      }
    });
  }
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, filename, dist);
  return mod.exports;
}

// In this process (--no-daemon, CI): the bundled runner, one file instead of
// hundreds of ES modules (dist/src's if the bundle is missing).
const inProcess = async () => {
  const main = runCached(join(dist, 'trews-main.cjs')) ?? (await import(pathToFileURL(join(dist, 'src', 'cli', 'main.js')).href));
  return main.main();
};

const client = runCached(join(dist, 'trews-client.cjs'));
if (client === undefined) {
  process.stderr.write('trews: dist/trews-client.cjs is missing (npm run build makes it); running without the daemon\n');
  void inProcess();
} else {
  void client.clientMain({ inProcess, daemonScript: join(dist, 'src', 'cli', 'trewsd.js') });
}
