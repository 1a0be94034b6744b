#!/usr/bin/env node
// The daemon's entry (the client starts it: `node <flags> bin/trewsd.cjs
// --root=ROOT --title-room=... -- <the client's argv>`): the same bundle as the
// in-process runner (dist/trews-main.cjs), loaded through its code cache, so
// that a daemon starts in a fraction of the time hundreds of ES modules take,
// and runs the very code whose digest keys `.trews.d/graph` — a daemon and a
// run without one start from each other's kept graph. dist/src's modules if
// the bundle is missing.
'use strict';
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { runCached } = require('./code-cache.cjs');

const dist = join(__dirname, '..', 'dist');
// Its own cache: the daemon runs with other V8 flags (DAEMON_NODE_FLAGS), under which V8 rejects the client's.
const main = runCached(join(dist, 'trews-main.cjs'), 'daemon.v8cache');
if (main !== undefined) void main.daemonMain(process.argv.slice(2));
else void import(pathToFileURL(join(dist, 'src', 'cli', 'trewsd.js')).href).then((m) => m.daemonMain(process.argv.slice(2)));
