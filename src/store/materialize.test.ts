import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, isFailureError } from '../core/index.js';
import { createLocalStore } from './index.js';
import { casExecutablePath, casPath } from './store-layout.js';
import { makeTempDir, removeDir } from './test-support.js';

const isRoot = process.getuid?.() === 0;

describe('LocalStore.materializeFile', () => {
  it('hard-links read-only files, with a separate executable inode', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      const data = Buffer.from('#!/bin/sh\necho hi\n');
      const d = digestOf(data);
      await store.put(d, data);

      const plain = join(dir, 'plain');
      assert.equal(await store.materializeFile(d, plain, { executable: false, mode: 'hardlink' }), 'hardlink');
      const st = await stat(plain);
      assert.equal(st.mode & 0o777, 0o444);
      assert.equal(st.ino, (await stat(casPath(dir, d))).ino);
      assert.ok(st.nlink >= 2);
      if (!isRoot) await assert.rejects(writeFile(plain, 'overwrite'), { code: 'EACCES' });

      const exe = join(dir, 'exe');
      assert.equal(await store.materializeFile(d, exe, { executable: true, mode: 'hardlink' }), 'hardlink');
      const xs = await stat(exe);
      assert.equal(xs.mode & 0o777, 0o555);
      assert.equal(xs.ino, (await stat(casExecutablePath(dir, d))).ino);
      assert.equal((await stat(casPath(dir, d))).mode & 0o777, 0o444, 'the plain blob keeps its mode');
      assert.deepEqual(await readFile(exe), data);
      // The executable variant is not a separate blob as far as the CAS is concerned.
      assert.deepEqual(await store.findMissing([d]), []);
    } finally {
      await removeDir(dir);
    }
  });

  it('copies when asked, as a private writable file', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      const d = digestOf('copy me');
      await store.put(d, Buffer.from('copy me'));
      const a = join(dir, 'a');
      const b = join(dir, 'b');
      assert.equal(await store.materializeFile(d, a, { executable: false, mode: 'copy' }), 'copy');
      assert.equal(await store.materializeFile(d, b, { executable: true, mode: 'copy' }), 'copy');
      assert.equal((await stat(a)).mode & 0o777, 0o644);
      assert.equal((await stat(a)).nlink, 1);
      assert.equal((await stat(b)).mode & 0o777, 0o755);
      assert.equal(await readFile(a, 'utf8'), 'copy me');
      await writeFile(a, 'mine now');
      assert.equal((await store.getBytes(d))?.length, 7);
    } finally {
      await removeDir(dir);
    }
  });

  it('falls back to a read-only copy across devices', async (t) => {
    // /dev/shm is a tmpfs on Linux: a different device from the temp dir, so link() fails with EXDEV.
    if (!existsSync('/dev/shm')) return t.skip('no /dev/shm');
    const dir = await makeTempDir();
    if (statSync('/dev/shm').dev === statSync(dir).dev) {
      await removeDir(dir);
      return t.skip('/dev/shm is on the same device');
    }
    const other = await mkdtemp('/dev/shm/trews-materialize-');
    try {
      const store = createLocalStore({ dir });
      const d = digestOf('across devices');
      await store.put(d, Buffer.from('across devices'));
      const dest = join(other, 'f');
      assert.equal(await store.materializeFile(d, dest, { executable: true, mode: 'hardlink' }), 'copy');
      assert.equal((await stat(dest)).mode & 0o777, 0o555);
      assert.equal(await readFile(dest, 'utf8'), 'across devices');
    } finally {
      await rm(other, { recursive: true, force: true });
      await removeDir(dir);
    }
  });

  it('returns undefined for an absent or corrupt blob, creates empty files, refuses to overwrite', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      assert.equal(await store.materializeFile(digestOf('absent'), join(dir, 'x'), { executable: false, mode: 'hardlink' }), undefined);
      assert.equal(existsSync(join(dir, 'x')), false);

      const empty = join(dir, 'empty');
      assert.ok(await store.materializeFile(digestOf(''), empty, { executable: true, mode: 'hardlink' }));
      assert.equal((await stat(empty)).size, 0);
      assert.equal((await stat(empty)).mode & 0o777, 0o555);

      const d = digestOf('soon corrupt');
      await store.put(d, Buffer.from('soon corrupt'));
      const fresh = createLocalStore({ dir });
      await rm(casPath(dir, d));
      await writeFile(casPath(dir, d), 'SOON CORRUPT');
      assert.equal(await fresh.materializeFile(d, join(dir, 'y'), { executable: false, mode: 'hardlink' }), undefined);
      assert.equal(existsSync(casPath(dir, d)), false);

      const e = digestOf('exists');
      await store.put(e, Buffer.from('exists'));
      await writeFile(join(dir, 'taken'), 'already here');
      await assert.rejects(
        store.materializeFile(e, join(dir, 'taken'), { executable: false, mode: 'hardlink' }),
        (err) => isFailureError(err) && err.failure.reason === 'store-io-error',
      );
    } finally {
      await removeDir(dir);
    }
  });
});
