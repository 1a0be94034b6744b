import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Digest, Sha256Hex } from '../../core/index.js';
import { createLocalStore } from '../../store/index.js';
import { RecentBlobs } from './recent-blobs.js';

const blob = (text: string): { digest: Digest; data: Uint8Array } => {
  const data = Buffer.from(text);
  return { digest: { hash: createHash('sha256').update(data).digest('hex') as Sha256Hex, sizeBytes: data.byteLength }, data };
};

describe('RecentBlobs', () => {
  it('keeps a copy of small blobs, drops the oldest past its bound, and skips empty, large and mis-sized ones', () => {
    const recent = new RecentBlobs(10);
    const a = blob('aaaa');
    const b = blob('bbbbbb');
    const c = blob('cc');
    recent.remember(a.digest, a.data);
    a.data.fill(0x78); // the caller's buffer is reused: the kept copy is not
    assert.equal(Buffer.from(recent.get(a.digest)!).toString(), 'aaaa');
    recent.remember(b.digest, b.data);
    assert.equal(recent.size, 2);
    recent.remember(c.digest, c.data); // 12 bytes: the oldest goes
    assert.equal(recent.get(a.digest), undefined);
    assert.equal(Buffer.from(recent.get(b.digest)!).toString(), 'bbbbbb');
    assert.equal(Buffer.from(recent.get(c.digest)!).toString(), 'cc');

    const roomy = new RecentBlobs();
    const empty = blob('');
    roomy.remember(empty.digest, empty.data);
    const large = blob('x'.repeat(64 * 1024 + 1));
    roomy.remember(large.digest, large.data);
    const d = blob('dd');
    roomy.remember({ ...d.digest, sizeBytes: 3 }, d.data);
    assert.equal(roomy.size, 0);
  });

  it('reads through it first, but asks the store whether a blob is present', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trews-recent-blobs-'));
    try {
      const store = createLocalStore({ dir: join(dir, 'store') });
      const recent = new RecentBlobs();
      const onDisk = blob('on disk');
      await store.put(onDisk.digest, onDisk.data);
      const onlyInMemory = blob('only in memory');
      recent.remember(onlyInMemory.digest, onlyInMemory.data);
      const reader = recent.reader(store);
      assert.equal(Buffer.from((await reader.getBytes(onlyInMemory.digest))!).toString(), 'only in memory');
      assert.equal(Buffer.from((await reader.getBytes(onDisk.digest))!).toString(), 'on disk');
      // Presence is the store's: sandboxes are linked from its files.
      assert.deepEqual(await reader.findMissing([onDisk.digest, onlyInMemory.digest]), [onlyInMemory.digest]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
