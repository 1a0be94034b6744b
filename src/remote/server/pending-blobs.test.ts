import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, MemoryLogger } from '../../core/index.js';
import { createLocalStore, type LocalStore } from '../../store/index.js';
import { PendingBlobs } from './pending-blobs.js';

describe('PendingBlobs', () => {
  it('holds an accepted blob until its file is written, then lets it go', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-pending-blobs-'));
    try {
      const store = createLocalStore({ dir });
      const pending = new PendingBlobs(store, new MemoryLogger());
      const data = Buffer.from('a Directory, say');
      const d = digestOf(data);
      await pending.accept(d, data);
      // Answered before the write: held, not yet on disk.
      assert.equal(pending.has(d), true);
      assert.deepEqual(await store.findMissing([d]), [d]);
      data.fill(0); // the request's buffer is gRPC's to reuse: a copy is held
      assert.equal(Buffer.from(pending.bytes(d)!).toString(), 'a Directory, say');
      await pending.written([d]);
      assert.deepEqual(await store.findMissing([d]), []);
      assert.equal(pending.has(d), false);
      assert.equal(pending.size, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a write that fails makes the blob absent, is logged, and from then on blobs are stored before the answer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-pending-blobs-'));
    try {
      const real = createLocalStore({ dir });
      let failing = true;
      const store: Pick<LocalStore, 'put'> = {
        put: (d, data, signal) => (failing ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) : real.put(d, data, signal)),
      };
      const log = new MemoryLogger();
      const pending = new PendingBlobs(store, log);
      const first = digestOf('first');
      await pending.accept(first, Buffer.from('first'));
      await pending.written();
      assert.equal(pending.has(first), false, 'absent again: an Execute needing it gets MISSING');
      assert.match(log.lines.join('\n'), /error cannot store blob [0-9a-f]+\/5, accepted from a client: ENOSPC/);
      // The next one is written before accept resolves, so its failure is the client's answer.
      const second = digestOf('second');
      await assert.rejects(pending.accept(second, Buffer.from('second')), /ENOSPC/);
      failing = false;
      await pending.accept(second, Buffer.from('second'));
      assert.equal(pending.has(second), false);
      assert.deepEqual(await real.findMissing([second]), [], 'written before the answer');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
