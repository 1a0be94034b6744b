import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { create, equals } from '@bufbuild/protobuf';
import { digestOf, type Digest } from '../core/index.js';
import {
  ActionResultSchema,
  DirectorySchema,
  TreeSchema,
  digestMessage,
  encodeCanonical,
  toProtoDigest,
  type ActionResult,
} from '../reapi/index.js';
import { createLocalStore, type LocalStore } from './index.js';
import { acPath } from './store-layout.js';
import { makeTempDir, removeDir } from './test-support.js';

const ACTION = digestOf('an encoded Action');

async function withStore(fn: (store: LocalStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir();
  try {
    await fn(createLocalStore({ dir }), dir);
  } finally {
    await removeDir(dir);
  }
}

async function putText(store: LocalStore, text: string): Promise<Digest> {
  const d = digestOf(text);
  await store.put(d, Buffer.from(text));
  return d;
}

describe('LocalStore action cache', () => {
  it('round-trips an ActionResult when its outputs are present', () =>
    withStore(async (store, dir) => {
      const out = await putText(store, 'output file');
      const stdout = await putText(store, 'hello from stdout\n');
      const result = create(ActionResultSchema, {
        outputFiles: [{ path: 'out/a.txt', digest: toProtoDigest(out), isExecutable: true }],
        exitCode: 3,
        stdoutDigest: toProtoDigest(stdout),
        stderrDigest: toProtoDigest(digestOf('')), // the empty blob: always present
        executionMetadata: { worker: 'local' },
      });
      await store.updateActionResult(ACTION, result);
      const got = await store.getActionResult(ACTION);
      assert.ok(got);
      assert.ok(equals(ActionResultSchema, got, result));
      assert.equal(got.exitCode, 3);
      assert.equal((await stat(acPath(dir, ACTION))).isFile(), true);
      assert.equal(await store.getActionResult(digestOf('another action')), undefined);
      assert.equal(store.stats().acHits, 1);
    }));

  it('is a miss while an output file, stdout or stderr blob is missing', () =>
    withStore(async (store) => {
      const out = digestOf('not stored yet');
      const stderr = digestOf('stderr text');
      const result = create(ActionResultSchema, {
        outputFiles: [{ path: 'o', digest: toProtoDigest(out) }],
        stderrDigest: toProtoDigest(stderr),
      });
      await store.updateActionResult(ACTION, result);
      assert.equal(await store.getActionResult(ACTION), undefined);
      await store.put(out, Buffer.from('not stored yet'));
      assert.equal(await store.getActionResult(ACTION), undefined);
      await store.put(stderr, Buffer.from('stderr text'));
      assert.ok(await store.getActionResult(ACTION));
      assert.equal(store.stats().acIncomplete, 2);
    }));

  it('is a miss while an output directory tree, or a file inside it, is missing', () =>
    withStore(async (store) => {
      const inner = digestOf('inside the tree');
      const sub = create(DirectorySchema, { files: [{ name: 'f', digest: toProtoDigest(inner) }] });
      const subDigest = digestMessage(DirectorySchema, sub).digest;
      const tree = create(TreeSchema, {
        root: { directories: [{ name: 'sub', digest: toProtoDigest(subDigest) }] },
        children: [sub],
      });
      const { digest: treeDigest, bytes: treeBytes } = digestMessage(TreeSchema, tree);
      await store.updateActionResult(
        ACTION,
        create(ActionResultSchema, { outputDirectories: [{ path: 'dist', treeDigest: toProtoDigest(treeDigest) }] }),
      );
      assert.equal(await store.getActionResult(ACTION), undefined);
      await store.put(treeDigest, treeBytes);
      assert.equal(await store.getActionResult(ACTION), undefined); // the file inside is still missing
      await store.put(inner, Buffer.from('inside the tree'));
      assert.ok(await store.getActionResult(ACTION));
    }));

  it('follows root_directory_digest through Directory blobs', () =>
    withStore(async (store) => {
      const file = digestOf('deep file');
      const leaf = create(DirectorySchema, { files: [{ name: 'x', digest: toProtoDigest(file) }] });
      const leafD = digestMessage(DirectorySchema, leaf);
      const root = create(DirectorySchema, { directories: [{ name: 'leaf', digest: toProtoDigest(leafD.digest) }] });
      const rootD = digestMessage(DirectorySchema, root);
      await store.updateActionResult(
        ACTION,
        create(ActionResultSchema, { outputDirectories: [{ path: 'o', rootDirectoryDigest: toProtoDigest(rootD.digest) }] }),
      );
      await store.put(rootD.digest, rootD.bytes);
      await store.put(file, Buffer.from('deep file'));
      assert.equal(await store.getActionResult(ACTION), undefined); // leaf Directory missing
      await store.put(leafD.digest, leafD.bytes);
      assert.ok(await store.getActionResult(ACTION));
    }));

  it('a damaged entry is a miss and is deleted, never a different result', () =>
    withStore(async (store, dir) => {
      const result: ActionResult = create(ActionResultSchema, {
        exitCode: 1,
        stdoutRaw: new Uint8Array(200).fill(65),
        executionMetadata: { worker: 'w' },
      });
      await store.updateActionResult(ACTION, result);
      const path = acPath(dir, ACTION);
      const whole = await readFile(path);
      // Cut just before the trailing fields: the protobuf alone would still decode (without exit_code's
      // neighbours); the checksum is what catches it.
      await chmod(path, 0o644);
      await writeFile(path, whole.subarray(0, whole.length - 5));
      assert.equal(await store.getActionResult(ACTION), undefined);
      await assert.rejects(stat(path));

      await store.updateActionResult(ACTION, result);
      await chmod(path, 0o644);
      await writeFile(path, encodeCanonical(ActionResultSchema, result)); // no frame at all
      assert.equal(await store.getActionResult(ACTION), undefined);
      await assert.rejects(stat(path));
    }));

  it('a newer update replaces the entry', () =>
    withStore(async (store) => {
      await store.updateActionResult(ACTION, create(ActionResultSchema, { exitCode: 1 }));
      await store.updateActionResult(ACTION, create(ActionResultSchema, { exitCode: 2 }));
      assert.equal((await store.getActionResult(ACTION))?.exitCode, 2);
    }));
});
