// The V8 code cache of trews' bundles, shared by bin/trews.cjs (the client and
// the in-process runner) and bin/trewsd.cjs (the daemon): each bundle is
// compiled with the cached code kept next to it, which spares compiling it
// again on every start.
'use strict';
const { createHash } = require('node:crypto');
const { closeSync, fstatSync, openSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { basename, dirname } = require('node:path');
const vm = require('node:vm');

// The cache file: MAGIC, the SHA-256 of the source it was made from, the
// source's stat key (see statKey) or zeros, then V8's cached data.
const MAGIC = Buffer.from('trews-v8cache-2\n');
const HASH_AT = MAGIC.length;
const STAT_AT = HASH_AT + 32;
const DATA_AT = STAT_AT + 40;
// A file changed within this long of being looked at may change again with
// the same timestamps (a file system's clock ticks coarsely): its stat key
// is not recorded, as git does with racily clean index entries.
const RACY_MS = 3000;

/** Size, mtime, ctime, inode and device: what changes whenever the file's content is rewritten. */
function statKey(st) {
  // In this machine's byte order: a key is only ever compared on the machine that wrote it.
  return Buffer.from(new BigUint64Array([st.size, st.mtimeNs, st.ctimeNs, st.ino, st.dev].map((v) => BigInt.asUintN(64, v))).buffer);
}

/** The source and its stat key, from one open file (a file renamed over it meanwhile is not mixed in). Undefined when missing. */
function readSource(filename) {
  let fd;
  try {
    fd = openSync(filename, 'r');
  } catch (e) {
    if (e?.code !== 'ENOENT') throw e;
    return undefined;
  }
  try {
    const before = fstatSync(fd, { bigint: true });
    const source = readFileSync(fd, 'utf8');
    const after = fstatSync(fd, { bigint: true });
    // Written to while read: no stat key vouches for what was read.
    const stable = after.mtimeNs === before.mtimeNs && after.ctimeNs === before.ctimeNs && after.size === before.size;
    const racy = Date.now() - Number(after.ctimeNs / 1_000_000n) < RACY_MS;
    return { source, key: stable ? statKey(after) : undefined, racy: !stable || racy };
  } finally {
    closeSync(fd);
  }
}

/**
 * Compiles and runs a bundled CommonJS file with a V8 code cache kept next to
 * it (as v8-compile-cache does): written after a run that had none, or whose
 * cache V8 rejected (a rebuild, a Node upgrade). Undefined when the file is missing.
 */
function runCached(filename, cacheName = 'v8cache') {
  const read = readSource(filename);
  if (read === undefined) return undefined;
  const { source, key, racy } = read;
  const cachePath = `${filename}.${cacheName}`;
  let kept;
  try {
    kept = readFileSync(cachePath);
    if (kept.length <= DATA_AT || !kept.subarray(0, MAGIC.length).equals(MAGIC)) kept = undefined;
  } catch {
    // The first run after a build writes it.
  }
  // V8 accepts cached code for a source of the same length (it checks no
  // content), so a rebuild or upgrade that changed `!0` to `!1` would run the
  // old code. The cache is used only for the source whose SHA-256 it holds.
  // Hashing the runner costs ~4 ms a run, so the cache also holds the
  // source's stat key when it was last hashed: the same key (same size,
  // times, inode, device, none of them recent) is the same content, as for git.
  const vouched = kept !== undefined && key !== undefined && !racy && kept.subarray(STAT_AT, DATA_AT).equals(key);
  const sourceHash = vouched ? Buffer.from(kept.subarray(HASH_AT, STAT_AT)) : createHash('sha256').update(source).digest();
  // What the kept graph is keyed by (src/cli/code-identity.ts): the exact code that made it.
  const digests = (globalThis[Symbol.for('trews.bundle-digests')] ??= {});
  digests[basename(filename)] = sourceHash.toString('hex');
  const cachedData = kept !== undefined && kept.subarray(HASH_AT, STAT_AT).equals(sourceHash) ? kept.subarray(DATA_AT) : undefined;
  // No import() in a vm.Script: scripts/bundle.mjs checks that the bundles use none.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename, cachedData });
  const fresh = cachedData === undefined || script.cachedDataRejected;
  // Kept data whose stat key can now be recorded is written again, once.
  const newKey = key !== undefined && !racy ? key : Buffer.alloc(40);
  if (fresh || !vouched && !newKey.equals(kept.subarray(STAT_AT, DATA_AT))) {
    process.once('exit', () => {
      try {
        const tmp = `${cachePath}.${process.pid}.tmp`;
        writeFileSync(tmp, Buffer.concat([MAGIC, sourceHash, newKey, fresh ? script.createCachedData() : cachedData]));
        renameSync(tmp, cachePath);
      } catch {
        // A read-only install runs without the cache.
      }
    });
  }
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, filename, dirname(filename));
  return mod.exports;
}

module.exports = { runCached };
