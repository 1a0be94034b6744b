import assert from 'node:assert/strict';
import { appendFile, chmod, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf } from '../core/index.js';
import { checkLinkedInputs, createLocalStore, damageOf, materializeTree, treeFromBytes } from './index.js';
import { casPath } from './store-layout.js';
import { makeTempDir, removeDir } from './test-support.js';

describe('checkLinkedInputs', () => {
  it('reports the hard-linked inputs that were written to and removes them from the store', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir: join(dir, 'store') });
      const root = await treeFromBytes(store, [
        { path: 'a.txt', content: 'a\n' },
        { path: 'sub/b.txt', content: 'b\n' },
        { path: 'run.sh', content: 'echo hi\n', isExecutable: true },
      ]);
      const dest = join(dir, 'sandbox');
      const m = await materializeTree(store, root, dest, { mode: 'hardlink' });
      assert.deepEqual(m.linked.map((l) => l.path).sort(), ['a.txt', 'run.sh', 'sub/b.txt']);
      assert.deepEqual(await checkLinkedInputs(store, dest, m.linked), [], 'nothing changed');

      await chmod(join(dest, 'sub/b.txt'), 0o644);
      await appendFile(join(dest, 'sub/b.txt'), 'poison\n');
      await chmod(join(dest, 'run.sh'), 0o777);
      const modified = await checkLinkedInputs(store, dest, m.linked);
      assert.deepEqual(modified.map((x) => x.path).sort(), ['run.sh', 'sub/b.txt']);
      assert.deepEqual(await store.findMissing([digestOf('b\n'), digestOf('a\n')]), [digestOf('b\n')]);
      assert.equal(damageOf(store.dir, digestOf('b\n')), 'modified');
    } finally {
      await removeDir(dir);
    }
  });

  it('does not mistake an LRU refresh by another process for a modification', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir: join(dir, 'store') });
      const root = await treeFromBytes(store, [{ path: 'a.txt', content: 'a\n' }]);
      const dest = join(dir, 'sandbox');
      const m = await materializeTree(store, root, dest, { mode: 'hardlink' });
      // What another trews process's #touch does to an old blob while the process runs.
      const t = Math.floor(Date.now() / 1000) + 5;
      await utimes(casPath(store.dir, digestOf('a\n')), t, t);
      assert.deepEqual(await checkLinkedInputs(store, dest, m.linked), []);
      assert.deepEqual(await store.findMissing([digestOf('a\n')]), []);
    } finally {
      await removeDir(dir);
    }
  });

  it('leaves alone a good copy stored under the name after the modified inode was removed', async () => {
    const dir = await makeTempDir();
    try {
      const store = createLocalStore({ dir: join(dir, 'store') });
      const root = await treeFromBytes(store, [{ path: 'a.txt', content: 'a\n' }]);
      const first = join(dir, 'first');
      const second = join(dir, 'second');
      const m1 = await materializeTree(store, root, first, { mode: 'hardlink' });
      const m2 = await materializeTree(store, root, second, { mode: 'hardlink' });
      await chmod(join(first, 'a.txt'), 0o644);
      await appendFile(join(first, 'a.txt'), 'poison\n');
      assert.equal((await checkLinkedInputs(store, first, m1.linked)).length, 1);
      await store.put(digestOf('a\n'), Buffer.from('a\n'));
      const good = (await stat(casPath(store.dir, digestOf('a\n')))).ino;
      // The second sandbox shared the modified inode: it is reported, the new file stays.
      assert.equal((await checkLinkedInputs(store, second, m2.linked)).length, 1);
      assert.equal((await stat(casPath(store.dir, digestOf('a\n')))).ino, good);
    } finally {
      await removeDir(dir);
    }
  });
});
