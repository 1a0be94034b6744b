import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf } from '../../core/index.js';
import { collectGarbage, createLocalStore } from '../../store/index.js';
import { SharedStoreLease } from './shared-lease.js';

const leasesIn = async (dir: string): Promise<string[]> => (await readdir(join(dir, 'leases')).catch(() => [])).filter((n) => n.startsWith('run.'));

describe('SharedStoreLease', () => {
  it('writes one lease for the actions in flight, ends it with the last, and starts a new one once it is old', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-shared-lease-'));
    let now = 1_000_000;
    const errors: unknown[] = [];
    try {
      const leases = new SharedStoreLease({ dir, maxAgeMs: 60_000, lingerMs: 0, onError: (e) => errors.push(e), now: () => now });
      const a = await leases.acquire();
      const b = await leases.acquire();
      assert.equal((await leasesIn(dir)).length, 1, 'two actions, one lease');
      assert.equal(leases.holders, 2);
      await a();
      await a(); // twice is once
      assert.equal((await leasesIn(dir)).length, 1, 'held while an action runs');
      now += 61_000;
      const c = await leases.acquire();
      assert.equal((await leasesIn(dir)).length, 2, 'an action after the age limit takes a new lease');
      await b();
      assert.equal((await leasesIn(dir)).length, 1, 'the old lease ends with its last action');
      await c();
      assert.deepEqual(await leasesIn(dir), []);
      const d = await leases.acquire();
      assert.equal((await leasesIn(dir)).length, 1, 'after the last ended, the next action takes a lease again');
      await d();
      assert.deepEqual(errors, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('protects what the actions use from a GC as a lease of its own did', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-shared-lease-'));
    try {
      const store = createLocalStore({ dir });
      const leases = new SharedStoreLease({ dir, lingerMs: 0, onError: (e) => assert.fail(String(e)) });
      const first = await leases.acquire();
      const data = Buffer.from('an input of the second action');
      const d = digestOf(data);
      const second = await leases.acquire();
      await store.put(d, data);
      await first();
      const r = await collectGarbage(store, { maxSizeBytes: 0 });
      assert.equal(r.removedCount, 0, 'the lease the second action joined is still live');
      assert.deepEqual(await store.findMissing([d]), []);
      await second();
      assert.equal((await collectGarbage(store, { maxSizeBytes: 0 })).removedCount, 1, 'once no action holds it, the blob can go');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('outlives its last action a moment, so the next step of a chain joins it; close() ends it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-shared-lease-'));
    let now = 1_000_000;
    try {
      const leases = new SharedStoreLease({ dir, maxAgeMs: 60_000, lingerMs: 60_000, onError: (e) => assert.fail(String(e)), now: () => now });
      const a = await leases.acquire();
      await a();
      const [first] = await leasesIn(dir);
      assert.ok(first !== undefined, 'still held after its last action');
      const b = await leases.acquire();
      assert.deepEqual(await leasesIn(dir), [first], 'the next action joined it');
      await b();
      // Too old to join once it lingers: a new action ends it and takes a new one.
      now += 61_000;
      const c = await leases.acquire();
      assert.ok((await leasesIn(dir)).some((n) => n !== first), 'a new lease');
      await c();
      await leases.close();
      assert.deepEqual(await leasesIn(dir), [], 'close() ends a lingering lease, and waits for the old one’s removal');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not share a lease it could not write: the next action tries again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-shared-lease-'));
    const errors: unknown[] = [];
    try {
      // A file where the lease directory goes: the lease cannot be written.
      await writeFile(join(dir, 'leases'), '');
      const leases = new SharedStoreLease({ dir, lingerMs: 0, onError: (e) => errors.push(e) });
      const a = await leases.acquire();
      assert.equal(errors.length, 1);
      await rm(join(dir, 'leases'));
      const b = await leases.acquire();
      assert.equal((await leasesIn(dir)).length, 1, 'a fresh lease, not the failed one');
      await a();
      assert.equal((await leasesIn(dir)).length, 1, 'the failed hold ending leaves the good lease alone');
      await b();
      assert.deepEqual(await leasesIn(dir), []);
      assert.equal(errors.length, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
