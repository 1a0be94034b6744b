import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { digestOf, type Digest } from '../core/index.js';
import { ActionResultSchema } from '../reapi/index.js';
import { beginStoreUse, collectGarbage, createLocalStore, storeSize } from './index.js';
import { acPath, casPath } from './store-layout.js';
import { bytesOf, makeTempDir, readAll, removeDir } from './test-support.js';

const DAY_S = 24 * 60 * 60;

async function age(path: string, daysAgo: number): Promise<void> {
  const t = Math.floor(Date.now() / 1000) - daysAgo * DAY_S;
  await utimes(path, t, t);
}

describe('collectGarbage', () => {
  it('evicts least recently used entries first and respects the bound', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      const blobs: Digest[] = [];
      for (let i = 0; i < 5; i++) {
        const data = bytesOf(1000, i);
        const d = digestOf(data);
        await store.put(d, data);
        blobs.push(d);
        await age(casPath(dir, d), 10 - i); // blob 0 oldest … blob 4 newest
      }
      const [b0, b1, b2, b3, b4] = blobs as [Digest, Digest, Digest, Digest, Digest];
      // Using blob 0 (from another process: a fresh store) makes it the most recently used.
      assert.ok(await createLocalStore({ dir }).getBytes(b0));
      assert.deepEqual(await storeSize(store), { count: 5, bytes: 5000 });

      const r = await collectGarbage(store, { maxSizeBytes: 3000 });
      assert.equal(r.removedCount, 2);
      assert.equal(r.removedBytes, 2000);
      assert.equal(r.remainingCount, 3);
      assert.equal(r.remainingBytes, 3000);
      const missing = await store.findMissing(blobs);
      assert.deepEqual(new Set(missing.map((d) => d.hash)), new Set([b1.hash, b2.hash]));
      assert.deepEqual(await store.findMissing([b0, b3, b4]), []);

      const again = await collectGarbage(store, { maxSizeBytes: 3000 });
      assert.equal(again.removedCount, 0);
      const all = await collectGarbage(store, { maxSizeBytes: 0 });
      assert.equal(all.remainingBytes, 0);
      assert.deepEqual(await storeSize(store), { count: 0, bytes: 0 });
    } finally {
      await removeDir(dir);
    }
  });

  it('counts action cache entries and evicts them by the same clock', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      const old = digestOf('old action');
      const recent = digestOf('recent action');
      await store.updateActionResult(old, create(ActionResultSchema, { exitCode: 1 }));
      await store.updateActionResult(recent, create(ActionResultSchema, { exitCode: 2 }));
      await age(acPath(dir, old), 30);
      const size = (await stat(acPath(dir, recent))).size;
      const r = await collectGarbage(store, { maxSizeBytes: size });
      assert.equal(r.removedCount, 1);
      assert.equal(await store.getActionResult(old), undefined);
      assert.equal((await store.getActionResult(recent))?.exitCode, 2);
    } finally {
      await removeDir(dir);
    }
  });

  it('removes only abandoned temp files, and ignores files it did not write', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      await store.put(digestOf('x'), Buffer.from('x')); // creates tmp/ and cas/
      const stale = join(dir, 'tmp', 'stale.tmp');
      const live = join(dir, 'tmp', 'live.tmp');
      await writeFile(stale, 'half a blob');
      await writeFile(live, 'being written');
      await age(stale, 1);
      const foreign = join(dir, 'cas', digestOf('x').hash.slice(0, 2), 'README');
      await writeFile(foreign, 'not a blob');
      await age(foreign, 100);
      const r = await collectGarbage(store, { maxSizeBytes: 0 });
      assert.equal(r.removedTempFiles, 1);
      assert.deepEqual(await readdir(join(dir, 'tmp')), ['live.tmp']);
      assert.equal(await readFile(foreign, 'utf8'), 'not a blob');
    } finally {
      await removeDir(dir);
    }
  });

  it('does not break a reader holding the blob open, nor a hard-linked materialization', async () => {
    const dir = await makeTempDir();
    try {
      const data = bytesOf(8 * 1024 * 1024, 7);
      const d = digestOf(data);
      await createLocalStore({ dir }).put(d, data);
      const store = createLocalStore({ dir }); // unverified in this "process": streams through the verifier
      const linked = join(dir, 'linked');
      assert.equal(await store.materializeFile(d, linked, { executable: false, mode: 'hardlink' }), 'hardlink');

      const s = await store.get(d);
      assert.ok(s);
      const chunks: Buffer[] = [];
      const first = await new Promise<Buffer>((resolve) => s.once('data', resolve));
      chunks.push(first);
      s.pause();
      const r = await collectGarbage({ dir }, { maxSizeBytes: 0 });
      assert.ok(r.removedCount >= 1);
      await assert.rejects(stat(casPath(dir, d)));
      chunks.push(await readAll(s));
      assert.deepEqual(digestOf(Buffer.concat(chunks)), d);
      assert.deepEqual(digestOf(await readFile(linked)), d);
      assert.equal(await store.get(d), undefined);
    } finally {
      await removeDir(dir);
    }
  });

  it('a findMissing hit refreshes an entry in the LRU order; an aborted signal stops it', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      const d = digestOf('in use');
      await store.put(d, Buffer.from('in use'));
      await age(casPath(dir, d), 5);
      await assert.rejects(collectGarbage(store, { maxSizeBytes: 0, signal: AbortSignal.abort() }), { name: 'AbortError' });
      assert.deepEqual(await store.findMissing([d]), []); // a use: moves the mtime to now
      const r = await collectGarbage(store, { maxSizeBytes: 1_000_000 });
      assert.equal(r.removedCount, 0);
      assert.equal(r.remainingCount, 1);
    } finally {
      await removeDir(dir);
    }
  });

  it('keeps what live runs have used since their lease began, except from a GC asked for by that run', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      const blobs: Digest[] = [];
      for (let i = 0; i < 3; i++) {
        const data = bytesOf(1000, 20 + i);
        blobs.push(digestOf(data));
        await store.put(digestOf(data), data);
      }
      const [old, recent] = blobs as [Digest, Digest, Digest];
      await age(casPath(dir, old), 2);
      await age(casPath(dir, recent), 0.5);
      // A run relying on the store since a day ago (a daemon's graph): everything used since then, minus the touch interval, is kept.
      const runSignal = new AbortController().signal;
      const run = await beginStoreUse(dir, { sinceMs: Date.now() - 24 * 60 * 60 * 1000, signal: runSignal });
      const generation = await readFile(join(dir, 'gc-generation'), 'utf8').catch(() => '');
      const r = await collectGarbage(store, { maxSizeBytes: 0 });
      assert.equal(r.removedCount, 1, 'only the entry older than the run');
      assert.equal(r.keptForRuns, 2);
      assert.deepEqual(await createLocalStore({ dir }).findMissing(blobs), [old]);
      assert.notEqual(await readFile(join(dir, 'gc-generation'), 'utf8'), generation, 'a GC that removed entries changes the generation');
      // The run applying its own bound at its end is not held back by its own lease.
      const own = await collectGarbage(store, { maxSizeBytes: 0, signal: runSignal });
      assert.equal(own.removedCount, 2);
      await run.release();
      assert.deepEqual(await readdir(join(dir, 'leases')), []);
    } finally {
      await removeDir(dir);
    }
  });

  it('ignores and removes the leases of dead processes', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      const d = digestOf('abandoned');
      await store.put(d, Buffer.from('abandoned'));
      const run = await beginStoreUse(dir, { sinceMs: Date.now() - 60 * 60 * 1000 });
      const [mine] = await readdir(join(dir, 'leases'));
      await run.release();
      // The same lease left behind by a process that died (pid 2^22 + 1 is above Linux's pid_max).
      const dead = mine!.replace(`.${process.pid}.`, `.${2 ** 22 + 1}.`);
      await writeFile(join(dir, 'leases', dead), '');
      const r = await collectGarbage(store, { maxSizeBytes: 0 });
      assert.equal(r.removedCount, 1);
      assert.deepEqual(await readdir(join(dir, 'leases')), []);
    } finally {
      await removeDir(dir);
    }
  });

  it('a run that starts while a GC runs refreshes the LRU time of the blobs it uses', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir });
      const d = digestOf('used during a gc');
      await store.put(d, Buffer.from('used during a gc'));
      await age(casPath(dir, d), 1 / (24 * 60)); // a minute ago: recent enough not to be refreshed normally
      const before = (await stat(casPath(dir, d))).mtimeMs;
      // A GC in progress, registered by a live process (this one).
      await mkdir(join(dir, 'leases'), { recursive: true });
      await writeFile(join(dir, 'leases', `gc.${hostname().replace(/[^A-Za-z0-9-]/g, '_')}.${process.pid}.${Date.now() - 1000}.abcdef`), '');
      const run = await beginStoreUse(dir, { sinceMs: Date.now() });
      assert.ok(run.gcRunningSince !== undefined);
      assert.deepEqual(await createLocalStore({ dir }).findMissing([d]), []);
      assert.ok((await stat(casPath(dir, d))).mtimeMs > before, 'touched, so the GC sees it was used after its scan');
      await run.release();
    } finally {
      await removeDir(dir);
    }
  });
});

