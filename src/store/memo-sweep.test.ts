import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { digestOf } from '../core/index.js';
import { DirectorySchema, toProtoDigest } from '../reapi/index.js';
import { listTree, sweepStoreMemos, treeFromBytes } from './index.js';
import { withStore } from './test-support.js';
import { readDirectory, stageDirectory, storeMemoSizes } from './tree-io.js';

describe('sweepStoreMemos (a daemon run ends)', () => {
  it('forgets the memo entries no recent run used, writes idle staged trees, and what it forgot reads back the same', async () =>
    withStore(async (store) => {
      // Run 0: a tree put into the store (decoded and known-present memos) and a Directory only staged.
      const kept = await treeFromBytes(store, [{ path: 'kept/a.txt', content: 'a' }]);
      const dropped = await treeFromBytes(store, [{ path: 'dropped/b.txt', content: 'b' }]);
      const file = digestOf('staged file');
      await store.put(file, Buffer.from('staged file'));
      const staged = stageDirectory(store, create(DirectorySchema, { files: [{ name: 'f.txt', digest: toProtoDigest(file) }] }));
      assert.deepEqual(storeMemoSizes(store).stagedDirs, 1);
      assert.deepEqual(await store.findMissing([staged]), [staged], 'staged: not in the store yet');
      const listed = { kept: await listTree(store, kept), dropped: await listTree(store, dropped), staged: (await readDirectory(store, staged, 'staged')).files.map((f) => f.name) };
      const first = await sweepStoreMemos(store, 2);
      assert.deepEqual([first.forgotten, first.flushed, first.sizes.stagedDirs], [0, 0, 1]);
      const held = first.sizes.directories + first.sizes.known;
      // Run 1 uses `kept` only; run 2 uses nothing.
      assert.deepEqual(await listTree(store, kept), listed.kept);
      assert.equal((await sweepStoreMemos(store, 2)).forgotten, 0, 'run 0 is still within the last 2 runs');
      const third = await sweepStoreMemos(store, 2);
      assert.ok(third.forgotten > 0, 'what only run 0 used is forgotten');
      assert.equal(third.flushed, 1, 'the staged Directory was written');
      assert.equal(third.sizes.stagedDirs, 0);
      assert.ok(third.sizes.directories + third.sizes.known < held, JSON.stringify(third));
      assert.deepEqual(await store.findMissing([staged]), [], 'written to the store, not dropped');
      // What was forgotten is read again from the store, the same.
      assert.deepEqual(await listTree(store, dropped), listed.dropped);
      assert.deepEqual((await listTree(store, staged)).map((e) => e.path), listed.staged);
      assert.ok((await readDirectory(store, kept, 'kept')).directories.length === 1);
      // Nothing is used any more: after two idle runs the memos are empty.
      await sweepStoreMemos(store, 2);
      await sweepStoreMemos(store, 2);
      const last = await sweepStoreMemos(store, 2);
      assert.deepEqual(last.sizes, { directories: 0, known: 0, results: 0, stagedDirs: 0, stagedFiles: 0 });
      assert.deepEqual(storeMemoSizes(store), last.sizes);
    }));

  it('with a window of 0 ends the run and forgets nothing', async () =>
    withStore(async (store) => {
      await treeFromBytes(store, [{ path: 'x/a.txt', content: 'a' }]);
      const before = storeMemoSizes(store);
      for (let i = 0; i < 5; i++) assert.equal((await sweepStoreMemos(store, 0)).forgotten, 0);
      assert.deepEqual(storeMemoSizes(store), before);
    }));

  it("a local store forgets the verifications no recent run used, and checks those blobs again when asked", async () =>
    withStore(async (store) => {
      const a = digestOf('blob a');
      await store.put(a, Buffer.from('blob a'));
      assert.deepEqual(await store.findMissing([a]), []);
      assert.equal(store.forgetIdle(2), 0, 'the end of the run that verified it');
      assert.equal(store.forgetIdle(2), 0, 'one run without it');
      assert.equal(store.forgetIdle(2), 1, 'the last two runs did not use it');
      assert.equal(store.forgetIdle(2), 0);
      assert.deepEqual(await store.findMissing([a]), []);
      assert.equal(store.stats().corruptBlobs, 0);
    }));
});

