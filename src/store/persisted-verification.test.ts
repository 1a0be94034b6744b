// Attacks on the verifications a build root keeps for the next process
// (`.trews.d/store-verified`, LocalStoreOptions.verifiedIndex). Each
// "process" is a fresh LocalStore over the same directory with the index
// opened again from its file, as a `--no-daemon` run is.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, MemoryLogger, type Digest } from '../core/index.js';
import { openStatIndex } from '../fs/index.js';
import { createLocalStore, type LocalStore } from './index.js';
import { casPath } from './store-layout.js';
import { makeTempDir, removeDir } from './test-support.js';

const HOUR_AGO_S = Date.now() / 1000 - 3600;
/** An hour on: blobs written a moment ago are old enough to record (the racy rule is file-digest-index.test.ts's). */
const LATER = Date.now() + 3_600_000;

interface Proc {
  readonly store: LocalStore;
  readonly log: MemoryLogger;
  save(): void;
}

function proc(dir: string, scope = dir): Proc {
  const log = new MemoryLogger('debug');
  const verifiedIndex = openStatIndex(join(dir, 'store-verified'), scope, 'store-verified', { logger: log, now: () => LATER });
  return { store: createLocalStore({ dir, logger: log, verifiedIndex }), log, save: () => verifiedIndex.save() };
}

/** A blob stored and verified by a first process, which saves the index. */
async function stored(dir: string, text: string): Promise<Digest> {
  const d = digestOf(text);
  const p = proc(dir);
  await p.store.put(d, Buffer.from(text));
  assert.deepEqual(await p.store.findMissing([d]), []);
  p.save();
  return d;
}

/** Overwrites the blob in place with other bytes of its size and puts its mtime back: only ctime tells. */
async function rot(path: string): Promise<void> {
  const st = await stat(path, { bigint: true });
  await chmod(path, 0o644);
  await writeFile(path, Buffer.alloc(Number(st.size), 0x58));
  await chmod(path, 0o444);
  // To the nanosecond (utimes() takes a double).
  execFileSync('touch', ['-m', '-d', `@${st.mtimeNs / 1_000_000_000n}.${(st.mtimeNs % 1_000_000_000n).toString().padStart(9, '0')}`, path]);
  assert.equal((await stat(path, { bigint: true })).mtimeNs, st.mtimeNs);
}

/** Rewrites the index so the blob's current stat is recorded as verified (what a stale or forged entry would say). */
async function forge(dir: string, d: Digest): Promise<void> {
  const file = join(dir, 'store-verified');
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  const v = JSON.parse(lines.slice(2).join('\n')) as { root: string; entries: [string, string, string][] };
  const st = await stat(casPath(dir, d));
  const row = v.entries.find((e) => e[2] === d.hash);
  assert.ok(row, 'the blob was recorded');
  row[1] = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  const payload = JSON.stringify(v);
  await writeFile(file, `${lines[0]}\n${createHash('sha256').update(payload).digest('hex')}\n${payload}`);
}

describe('verifications kept for the next process', () => {
  it('are used: a blob whose stat is recorded is not read again (a forged entry shows it)', async () => {
    const dir = await makeTempDir();
    try {
      const d = await stored(dir, 'precious content');
      await rot(casPath(dir, d));
      await forge(dir, d);
      const p = proc(dir);
      assert.deepEqual(await p.store.findMissing([d]), [], 'trusted without reading: the index is consulted');
    } finally {
      await removeDir(dir);
    }
  });

  it('a blob rotted in place with its size and mtime restored is read again: a miss, and deleted', async () => {
    const dir = await makeTempDir();
    try {
      const d = await stored(dir, 'precious content');
      await rot(casPath(dir, d));
      const p = proc(dir);
      assert.deepEqual(await p.store.findMissing([d]), [d]);
      assert.equal(await p.store.getBytes(d), undefined);
      assert.equal(p.store.stats().corruptBlobs, 1);
    } finally {
      await removeDir(dir);
    }
  });

  it('a blob replaced (rename) by other bytes of the same size and mtime is read again', async () => {
    const dir = await makeTempDir();
    try {
      const d = await stored(dir, 'precious content');
      const path = casPath(dir, d);
      const st = await stat(path);
      await writeFile(`${path}.new`, Buffer.alloc(st.size, 0x58));
      await utimes(`${path}.new`, HOUR_AGO_S, HOUR_AGO_S);
      await utimes(path, HOUR_AGO_S, HOUR_AGO_S);
      const p0 = proc(dir);
      assert.deepEqual(await p0.store.findMissing([d]), []);
      p0.save();
      await rename(`${path}.new`, path);
      const p = proc(dir);
      assert.equal(await p.store.getBytes(d), undefined);
      assert.equal(p.store.stats().corruptBlobs, 1);
    } finally {
      await removeDir(dir);
    }
  });

  it("another store directory's index is ignored (with a debug line)", async () => {
    const dir = await makeTempDir();
    try {
      const d = await stored(dir, 'precious content');
      await rot(casPath(dir, d));
      await forge(dir, d);
      const p = proc(dir, '/another/store');
      assert.deepEqual(await p.store.findMissing([d]), [d]);
      assert.match(p.log.lines.join('\n'), /store verified index: ignoring .*store-verified \(written for "[^"]+", not this one\)/);
    } finally {
      await removeDir(dir);
    }
  });
});
