import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_DIGEST, digestOf, digestString, isFailureError, type Digest } from '../core/index.js';
import { create } from '@bufbuild/protobuf';
import { DirectorySchema, decodeMessage, digestMessage } from '../reapi/index.js';
import {
  EMPTY_TREE_DIGEST,
  addPrefix,
  createLocalStore,
  flushTree,
  listTree,
  mergeTrees,
  stripPrefix,
  subsetTree,
  treeFromBytes,
  treeFromFiles,
  type BytesFileSpec,
  type LocalStore,
} from './index.js';
import { withStore } from './test-support.js';
import { casPath } from './store-layout.js';
import { readDirectory } from './tree-io.js';
import { chmod, readFile, writeFile } from 'node:fs/promises';

function reasonOf(e: unknown): string | undefined {
  return isFailureError(e) ? e.failure.reason : undefined;
}

async function failureOf(p: Promise<unknown>): Promise<{ reason: string; message: string; tag: string }> {
  const e = await p.then(
    () => assert.fail('expected a failure'),
    (x: unknown) => x,
  );
  assert.ok(isFailureError(e), `expected a FailureError, got ${String(e)}`);
  return e.failure;
}

const files = (spec: Record<string, string>): BytesFileSpec[] => Object.entries(spec).map(([path, content]) => ({ path, content }));

describe('tree operations', () => {
  it('EMPTY_TREE_DIGEST is the digest of the empty Directory: the empty blob', () => {
    assert.deepEqual(EMPTY_TREE_DIGEST, EMPTY_DIGEST);
    // Computed by the encoder, not assumed (tree-io.ts states it as a constant so no schema is used at load).
    assert.deepEqual(digestMessage(DirectorySchema, create(DirectorySchema)).digest, EMPTY_TREE_DIGEST);
  });

  it('treeFromBytes and listTree round-trip paths, contents and executable bits, sorted by path', async () => {
    await withStore(async (store) => {
      const d = await treeFromBytes(store, [
        { path: 'z.txt', content: 'z' },
        { path: 'a/b/run.sh', content: '#!/bin/sh\n', isExecutable: true },
        { path: 'a.txt', content: new Uint8Array([1, 2, 3]) },
        { path: 'a/b/c.txt', content: 'c' },
      ]);
      assert.deepEqual(await listTree(store, d), [
        { kind: 'file', path: 'a.txt', digest: digestOf(new Uint8Array([1, 2, 3])), isExecutable: false },
        { kind: 'file', path: 'a/b/c.txt', digest: digestOf('c'), isExecutable: false },
        { kind: 'file', path: 'a/b/run.sh', digest: digestOf('#!/bin/sh\n'), isExecutable: true },
        { kind: 'file', path: 'z.txt', digest: digestOf('z'), isExecutable: false },
      ]);
      assert.deepEqual(await store.findMissing([digestOf('c'), digestOf('z')]), [], 'contents are stored');
      // Order of the input does not matter: the tree is canonical.
      const again = await treeFromBytes(store, files({ 'a/b/c.txt': 'c', 'z.txt': 'z', 'a.txt': '\x01\x02\x03' }).concat({ path: 'a/b/run.sh', content: '#!/bin/sh\n', isExecutable: true }));
      assert.deepEqual(again, d);
      // listTree output feeds treeFromFiles back to the same tree.
      assert.deepEqual(await treeFromFiles(store, await listTree(store, d)), d);
    });
  });

  it('treeFromFiles keeps symlinks, which listTree reports as such', async () => {
    await withStore(async (store) => {
      const d = await treeFromFiles(store, [
        { path: 'bin/tool', digest: digestOf('t'), isExecutable: true },
        { kind: 'symlink', path: 'bin/alias', target: 'tool' },
      ]);
      assert.deepEqual(await listTree(store, d), [
        { kind: 'symlink', path: 'bin/alias', target: 'tool' },
        { kind: 'file', path: 'bin/tool', digest: digestOf('t'), isExecutable: true },
      ]);
    });
  });

  it('treeFromFiles refuses the same path with two contents, a file under a file, and malformed paths', async () => {
    await withStore(async (store) => {
      const twice = await failureOf(
        treeFromFiles(store, [
          { path: 'x', digest: digestOf('1'), isExecutable: false },
          { path: 'x', digest: digestOf('2'), isExecutable: false },
        ]),
      );
      assert.equal(twice.reason, 'snapshot-conflict');
      assert.equal(twice.message, `conflicting contents at \`x\`: file ${digestString(digestOf('1'))} vs file ${digestString(digestOf('2'))}`);
      // The same entry twice is not a conflict.
      const same = { path: 'x', digest: digestOf('1'), isExecutable: false };
      assert.deepEqual(await treeFromFiles(store, [same, same]), await treeFromFiles(store, [same]));
      const under = await failureOf(treeFromBytes(store, files({ a: 'file', 'a/b': 'under it' })));
      assert.equal(under.reason, 'snapshot-conflict');
      assert.match(under.message, /`a`/);
      for (const bad of ['', '/abs', '../up', 'a/../b', 'a//b', 'a/./b', 'trailing/']) {
        assert.equal((await failureOf(treeFromBytes(store, [{ path: bad, content: '' }]))).reason, 'invalid-path', JSON.stringify(bad));
      }
    });
  });

  it('mergeTrees takes the union, sharing identical subtrees and accepting identical files', async () => {
    await withStore(async (store) => {
      const a = await treeFromBytes(store, files({ 'src/a.ts': 'a', 'shared/x': 'x', 'same.txt': 's' }));
      const b = await treeFromBytes(store, files({ 'src/b.ts': 'b', 'shared/x': 'x', 'same.txt': 's', 'deep/er/f': 'f' }));
      const merged = await mergeTrees(store, [a, b]);
      const expected = await treeFromBytes(store, files({ 'src/a.ts': 'a', 'src/b.ts': 'b', 'shared/x': 'x', 'same.txt': 's', 'deep/er/f': 'f' }));
      assert.deepEqual(merged, expected);
      assert.deepEqual(await mergeTrees(store, [b, a]), expected, 'order does not matter');
      assert.deepEqual(await mergeTrees(store, [a, a, EMPTY_TREE_DIGEST]), a);
      assert.deepEqual(await mergeTrees(store, []), EMPTY_TREE_DIGEST);
      assert.deepEqual(await mergeTrees(store, [EMPTY_TREE_DIGEST, b]), b);
    });
  });

  it('mergeTrees names the path and both digests when contents differ', async () => {
    await withStore(async (store) => {
      const a = await treeFromBytes(store, files({ 'src/main.ts': 'one', 'ok.txt': 'k' }));
      const b = await treeFromBytes(store, files({ 'src/main.ts': 'two' }));
      const f = await failureOf(mergeTrees(store, [a, b]));
      assert.equal(f.tag, 'input');
      assert.equal(f.reason, 'snapshot-conflict');
      assert.equal(
        f.message,
        `conflicting contents at \`src/main.ts\`: file ${digestString(digestOf('one'))} vs file ${digestString(digestOf('two'))}`,
      );
      const exe = await treeFromBytes(store, [{ path: 'src/main.ts', content: 'one', isExecutable: true }]);
      assert.match((await failureOf(mergeTrees(store, [a, exe]))).message, /file .* vs executable file /);
    });
  });

  it('mergeTrees refuses a file where another tree has a directory', async () => {
    await withStore(async (store) => {
      const a = await treeFromBytes(store, files({ 'out/x': 'file' }));
      const b = await treeFromBytes(store, files({ 'out/x/y': 'dir' }));
      const f = await failureOf(mergeTrees(store, [a, b]));
      assert.equal(f.reason, 'snapshot-conflict');
      assert.match(f.message, /^conflicting contents at `out\/x`: file [0-9a-f]{64}\/4 vs directory [0-9a-f]{64}\/\d+$/);
    });
  });

  it('addPrefix and stripPrefix are inverses', async () => {
    await withStore(async (store) => {
      const d = await treeFromBytes(store, files({ 'a.txt': 'a', 'b/c.txt': 'c' }));
      const prefixed = await addPrefix(store, d, 'x/y');
      assert.deepEqual(prefixed, await treeFromBytes(store, files({ 'x/y/a.txt': 'a', 'x/y/b/c.txt': 'c' })));
      assert.deepEqual(await stripPrefix(store, prefixed, 'x/y'), d);
      assert.deepEqual(await stripPrefix(store, prefixed, 'x'), await addPrefix(store, d, 'y'));
      assert.deepEqual(await addPrefix(store, d, ''), d);
      assert.deepEqual(await stripPrefix(store, d, ''), d);
      assert.equal((await listTree(store, await addPrefix(store, EMPTY_TREE_DIGEST, 'p'))).length, 0);
      assert.equal(reasonOf(await addPrefix(store, d, '../up').catch((e: unknown) => e)), 'invalid-path');
    });
  });

  it('stripPrefix refuses a tree with anything outside the prefix, naming it', async () => {
    await withStore(async (store) => {
      const d = await treeFromBytes(store, files({ 'x/y/in.txt': 'in', 'x/stray.txt': 'out' }));
      const f = await failureOf(stripPrefix(store, d, 'x/y'));
      assert.equal(f.reason, 'outside-prefix');
      assert.equal(f.message, 'cannot strip the prefix `x/y`: `x/stray.txt` lies outside it');
      const fileAtPrefix = await treeFromBytes(store, files({ x: 'a file, not a directory' }));
      assert.match((await failureOf(stripPrefix(store, fileAtPrefix, 'x'))).message, /`x` lies outside it/);
      assert.deepEqual(await stripPrefix(store, EMPTY_TREE_DIGEST, 'x'), EMPTY_TREE_DIGEST);
    });
  });

  it('subsetTree keeps what the globs match, minus the excludes', async () => {
    await withStore(async (store) => {
      const d = await treeFromBytes(
        store,
        files({
          'src/a.ts': 'a',
          'src/a.test.ts': 't',
          'src/deep/b.ts': 'b',
          'src/deep/b.js': 'j',
          'docs/readme.md': 'r',
          '.hidden/x.ts': 'h',
          'gen/out.ts': 'g',
        }),
      );
      const subset = async (globs: string[]): Promise<string[]> => (await listTree(store, await subsetTree(store, d, globs))).map((e) => e.path);
      assert.deepEqual(await subset(['**/*.ts', '!**/*.test.ts', '!gen/**']), ['.hidden/x.ts', 'src/a.ts', 'src/deep/b.ts']);
      assert.deepEqual(await subset(['src/*.ts']), ['src/a.test.ts', 'src/a.ts']);
      assert.deepEqual(await subset(['docs/readme.md']), ['docs/readme.md']);
      // A glob that matches a directory keeps all of it, except what is excluded.
      assert.deepEqual(await subset(['src', '!src/deep/*.js']), ['src/a.test.ts', 'src/a.ts', 'src/deep/b.ts']);
      assert.deepEqual(await subset(['nothing/**']), []);
      assert.deepEqual(await subsetTree(store, d, ['**']), d, 'everything: the same digest');
      assert.deepEqual(await subsetTree(store, d, ['!src/**']), EMPTY_TREE_DIGEST, 'only excludes: nothing');
      // The result equals the tree built directly from the kept files.
      assert.deepEqual(
        await subsetTree(store, d, ['src/deep/**']),
        await treeFromBytes(store, files({ 'src/deep/b.ts': 'b', 'src/deep/b.js': 'j' })),
      );
    });
  });

  it('subsetTree keeps an untouched subtree as it is, without rewriting it', async () => {
    await withStore(async (store) => {
      const d = await treeFromBytes(store, files({ 'keep/a': 'a', 'keep/sub/b': 'b', 'drop/c': 'c' }));
      const before = store.stats().blobsWritten;
      const s = await subsetTree(store, d, ['keep/**']);
      assert.equal(store.stats().blobsWritten - before, 0, 'staged, not written');
      await flushTree(store, s);
      assert.equal(store.stats().blobsWritten - before, 1, 'only the new root Directory');
      assert.deepEqual(await stripPrefix(store, s, 'keep'), await treeFromBytes(store, files({ a: 'a', 'sub/b': 'b' })));
    });
  });

  it('fails with missing-blob for a tree the store does not have', async () => {
    await withStore(async (store) => {
      const unknown: Digest = digestOf('not a directory that was ever stored');
      const f = await failureOf(listTree(store, unknown));
      assert.equal(f.tag, 'environment');
      assert.equal(f.reason, 'missing-blob');
      assert.match(f.message, new RegExp(unknown.hash));
    });
  });

  it('fails with malformed-tree for a blob that is not a Directory', async () => {
    await withStore(async (store) => {
      const bytes = new Uint8Array([0xff, 0xff, 0xff]);
      await store.put(digestOf(bytes), bytes);
      assert.equal(decodeMessage(DirectorySchema, bytes).ok, false);
      assert.equal(reasonOf(await listTree(store, digestOf(bytes)).catch((e: unknown) => e)), 'malformed-tree');
    });
  });

  it('merged trees are staged: another store object (another process) finds them only once flushed, each Directory after its children', async () => {
    await withStore(async (store) => {
      const a = await treeFromBytes(store, files({ 'x/a': 'a' }));
      const b = await treeFromBytes(store, files({ 'x/b': 'b', 'y/c': 'c' }));
      const merged = await addPrefix(store, await mergeTrees(store, [a, b]), 'top');
      // Readable here at once, from memory.
      assert.deepEqual((await listTreeUnflushed(store, merged)).sort(), ['top/x/a', 'top/x/b', 'top/y/c']);
      const other = createLocalStore({ dir: store.dir });
      try {
        assert.equal((await other.findMissing([merged])).length, 1);
        await flushTree(store, merged);
        assert.deepEqual((await listTree(other, merged)).map((e) => e.path), ['top/x/a', 'top/x/b', 'top/y/c']);
      } finally {
        await other.close();
      }
    });
  });

  it('a flush repairs a corrupt copy of a staged Directory already in the store', async () => {
    await withStore(async (store) => {
      const a = await treeFromBytes(store, files({ 'p/a': 'a' }));
      const b = await treeFromBytes(store, files({ 'q/b': 'b' }));
      const first = createLocalStore({ dir: store.dir });
      const merged = await mergeTrees(first, [a, b]);
      await flushTree(first, merged);
      await first.close();
      // Damage the stored copy, keeping its size, then stage the same tree in a fresh process and flush it.
      const path = casPath(store.dir, merged);
      const bytes = await readFile(path);
      bytes[0] = bytes[0]! ^ 0xff;
      await chmod(path, 0o644);
      await writeFile(path, bytes);
      const again = await mergeTrees(store, [a, b]);
      assert.deepEqual(again, merged);
      await flushTree(store, again);
      const fresh = createLocalStore({ dir: store.dir });
      try {
        assert.deepEqual((await listTree(fresh, merged)).map((e) => e.path), ['p/a', 'q/b']);
      } finally {
        await fresh.close();
      }
    });
  });
});

/** The paths of a tree read through this process's memo, without flushing it (what rules see). */
async function listTreeUnflushed(store: LocalStore, d: Digest): Promise<string[]> {
  const out: string[] = [];
  const walk = async (digest: Digest, at: string): Promise<void> => {
    const dir = await readDirectory(store, digest, 'tree');
    const name = (n: string): string => (at === '' ? n : `${at}/${n}`);
    for (const f of dir.files) out.push(name(f.name));
    for (const c of dir.directories) await walk({ hash: c.digest!.hash, sizeBytes: Number(c.digest!.sizeBytes) } as Digest, name(c.name));
  };
  await walk(d, '');
  return out;
}

