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
// The launcher (bin/trews, or the native client) set glibc's malloc tunables
// for this process only: what it starts gets the environment the user gave.
if (process.env.TREWS_UNSET_GLIBC_TUNABLES === '1') {
  delete process.env.GLIBC_TUNABLES;
  delete process.env.TREWS_UNSET_GLIBC_TUNABLES;
}
// The native client checked this command line's replay record and it did not
// hold (src/native-client/replay.c): not checked again here, and not seen by the run.
const replayChecked = process.env.TREWS_REPLAY_CHECKED === '1';
delete process.env.TREWS_REPLAY_CHECKED;
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { runCached } = require('./code-cache.cjs');

const dist = join(__dirname, '..', 'dist');

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
  void client.clientMain({ inProcess, daemonScript: join(__dirname, 'trewsd.cjs'), replayChecked });
}
