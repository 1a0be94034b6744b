import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, digestString, isFailureError, type Digest } from '../core/index.js';
import {
  ActionResultSchema,
  DirectorySchema,
  TreeSchema,
  decodeMessage,
  digestMessage,
  fromProtoDigest,
  type ProtoDigest,
  type Tree,
} from '../reapi/index.js';
import {
  captureDirectory,
  captureOutputs,
  createLocalStore,
  listTree,
  materializeTree,
  outputRootOf,
  treeFromBytes,
  treeMessageOf,
  type LocalStore,
} from './index.js';
import { makeTempDir, removeDir } from './test-support.js';

interface Env {
  readonly store: LocalStore;
  readonly work: string;
  readonly tmp: string;
  write(path: string, content: string, mode?: number): Promise<void>;
}

async function withWorkDir(fn: (env: Env) => Promise<void>): Promise<void> {
  const dir = await makeTempDir();
  const tmp = await makeTempDir('trews-capture-');
  const work = join(tmp, 'work');
  await mkdir(work);
  const store = createLocalStore({ dir });
  const write = async (path: string, content: string, mode = 0o644): Promise<void> => {
    await mkdir(dirname(join(work, path)), { recursive: true });
    await writeFile(join(work, path), content);
    await chmod(join(work, path), mode);
  };
  try {
    await fn({ store, work, tmp, write });
  } finally {
    await store.close();
    await removeDir(dir);
    await removeDir(tmp);
  }
}

function d(p: ProtoDigest | undefined): Digest {
  const r = fromProtoDigest(p);
  assert.ok(r.ok);
  return r.value;
}

async function readTree(store: LocalStore, digest: Digest): Promise<Tree> {
  const bytes = await store.getBytes(digest);
  assert.ok(bytes, 'the Tree blob is stored');
  const tree = decodeMessage(TreeSchema, bytes);
  assert.ok(tree.ok);
  return tree.value;
}

function reasonOf(e: unknown): string | undefined {
  return isFailureError(e) ? e.failure.reason : undefined;
}

describe('captureOutputs', () => {
  it('captures files, directories and nested directories, and leaves missing outputs out', async () => {
    await withWorkDir(async ({ store, work, write }) => {
      await write('out/app.js', 'app');
      await write('out/tool', '#!/bin/sh\n', 0o755);
      await write('dist/index.html', 'html');
      await write('dist/assets/a/x.css', 'css');
      await write('dist/assets/b/x.css', 'css'); // b is identical to a: one child in the Tree
      await write('dist/assets/a/deeper/y.png', 'png');
      await write('not-an-output.txt', 'ignored');
      const captured = await captureOutputs(store, work, ['out/tool', 'out/app.js', 'missing.txt', 'gone/deep.txt'], ['dist', 'no-such-dir']);

      assert.deepEqual(
        captured.outputFiles.map((f) => [f.path, d(f.digest), f.isExecutable]),
        [
          ['out/app.js', digestOf('app'), false],
          ['out/tool', digestOf('#!/bin/sh\n'), true],
        ],
      );
      assert.deepEqual(captured.outputSymlinks, []);
      assert.equal(captured.outputDirectories.length, 1);
      const od = captured.outputDirectories[0]!;
      assert.equal(od.path, 'dist');
      assert.equal(od.isTopologicallySorted, true);
      assert.deepEqual(d(od.rootDirectoryDigest), await captureDirectory(store, join(work, 'dist')));

      assert.deepEqual(
        (await listTree(store, captured.outputRoot)).map((e) => e.path),
        ['dist/assets/a/deeper/y.png', 'dist/assets/a/x.css', 'dist/assets/b/x.css', 'dist/index.html', 'out/app.js', 'out/tool'],
      );
      assert.deepEqual(await store.findMissing([digestOf('app'), digestOf('css'), digestOf('png')]), []);
    });
  });

  it('writes a Tree with the root and every distinct child directory exactly once, parents first', async () => {
    await withWorkDir(async ({ store, work, write }) => {
      await write('dist/index.html', 'html');
      await write('dist/assets/a/x.css', 'css');
      await write('dist/assets/a/deeper/y.png', 'png');
      await write('dist/assets/a/shared/x.css', 'css');
      // The same Directory as assets/a/shared, nearer the root: listed once, after both of its parents.
      await write('dist/c/x.css', 'css');
      const { outputDirectories } = await captureOutputs(store, work, [], ['dist']);
      const od = outputDirectories[0]!;
      const tree = await readTree(store, d(od.treeDigest));
      assert.ok(tree.root);
      assert.deepEqual(digestMessage(DirectorySchema, tree.root).digest, d(od.rootDirectoryDigest));

      // Expected children: every Directory reachable from the root, by digest, once.
      const reachable = new Map<string, number>();
      const walk = async (digest: Digest): Promise<void> => {
        for (const node of (await readDirectoryFromStore(store, digest)).directories) {
          const k = digestString(d(node.digest));
          reachable.set(k, (reachable.get(k) ?? 0) + 1);
          await walk(d(node.digest));
        }
      };
      await walk(d(od.rootDirectoryDigest));
      const childKeys = tree.children.map((c) => digestString(digestMessage(DirectorySchema, c).digest));
      assert.equal(new Set(childKeys).size, childKeys.length, 'no child twice');
      assert.deepEqual([...childKeys].sort(), [...reachable.keys()].sort(), 'every child, nothing else');
      assert.equal(childKeys.length, 4, 'assets, assets/a, assets/a/deeper, and assets/a/shared = c (one Directory)');
      // Topological: a directory comes after every directory that names it.
      const position = new Map(childKeys.map((k, i) => [k, i]));
      for (const [i, c] of tree.children.entries()) {
        for (const node of c.directories) assert.ok(position.get(digestString(d(node.digest)))! > i, 'child after its parent');
      }
      // treeMessageOf rebuilds the same Tree from the stored Directories.
      assert.deepEqual(digestMessage(TreeSchema, await treeMessageOf(store, d(od.rootDirectoryDigest))).digest, d(od.treeDigest));
    });
  });

  it('reports declared outputs that are symlinks as output symlinks', async () => {
    await withWorkDir(async ({ store, work, write }) => {
      await write('real.txt', 'real');
      await symlink('real.txt', join(work, 'link.txt'));
      await mkdir(join(work, 'realdir'));
      await symlink('realdir', join(work, 'linkdir'));
      const captured = await captureOutputs(store, work, ['link.txt'], ['linkdir']);
      assert.deepEqual(
        captured.outputSymlinks.map((s) => [s.path, s.target]),
        [
          ['link.txt', 'real.txt'],
          ['linkdir', 'realdir'],
        ],
      );
      assert.deepEqual(await listTree(store, captured.outputRoot), [
        { kind: 'symlink', path: 'link.txt', target: 'real.txt' },
        { kind: 'symlink', path: 'linkdir', target: 'realdir' },
      ]);
    });
  });

  it('refuses an output file that is a directory and an output directory that is a file', async () => {
    await withWorkDir(async ({ store, work, write }) => {
      await write('dir/inside.txt', 'x');
      await write('file.txt', 'x');
      const a = await captureOutputs(store, work, ['dir'], []).catch((e: unknown) => e);
      assert.ok(isFailureError(a));
      assert.equal(a.failure.reason, 'output-type-mismatch');
      assert.equal(a.failure.message, 'output file `dir` is a directory');
      assert.deepEqual(a.failure.hints, ['declare it as an output directory instead']);
      const b = await captureOutputs(store, work, [], ['file.txt']).catch((e: unknown) => e);
      assert.equal(reasonOf(b), 'output-type-mismatch');
    });
  });

  it('refuses an output reached through a symlink out of the working directory', async () => {
    await withWorkDir(async ({ store, work, tmp }) => {
      await mkdir(join(tmp, 'outside'));
      await writeFile(join(tmp, 'outside/secret'), 'secret');
      await symlink(join(tmp, 'outside'), join(work, 'escape'));
      const e = await captureOutputs(store, work, ['escape/secret'], []).catch((x: unknown) => x);
      assert.equal(reasonOf(e), 'output-outside-workdir');
      assert.deepEqual(await store.findMissing([digestOf('secret')]), [digestOf('secret')], 'nothing stored');
    });
  });

  it('captures the whole working directory as the output directory ``', async () => {
    await withWorkDir(async ({ store, work, write }) => {
      await write('a.txt', 'a');
      await write('sub/b.txt', 'b');
      const captured = await captureOutputs(store, work, [], ['']);
      assert.deepEqual(captured.outputRoot, await captureDirectory(store, work));
      assert.deepEqual(captured.outputRoot, d(captured.outputDirectories[0]!.rootDirectoryDigest));
    });
  });

  it('accepts an output file inside an output directory when both agree', async () => {
    await withWorkDir(async ({ store, work, write }) => {
      await write('out/a.txt', 'a');
      const captured = await captureOutputs(store, work, ['out/a.txt'], ['out']);
      assert.deepEqual((await listTree(store, captured.outputRoot)).map((e) => e.path), ['out/a.txt']);
    });
  });
  it('copies many files at once without piling listeners onto the caller\'s signal, and stops when it is aborted', async () => {
    await withWorkDir(async ({ store, work, write }) => {
      // Large enough to be streamed (each stream pipeline listens to the signal).
      for (let i = 0; i < 24; i++) await write(`many/f${i}.bin`, `${i}`.repeat(300 * 1024));
      for (let i = 0; i < 56; i++) await write(`many/f${i}.txt`, `file ${i}`);
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.name);
      process.on('warning', onWarning);
      try {
        const ac = new AbortController();
        const captured = await captureOutputs(store, work, [], ['many'], { signal: ac.signal });
        assert.equal((await listTree(store, captured.outputRoot)).length, 80);
        await new Promise((r) => setImmediate(r)); // warnings are emitted on a later tick
        assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
        ac.abort();
        await assert.rejects(captureOutputs(store, work, [], ['many'], { signal: ac.signal }), (e: unknown) => (e as Error).name === 'AbortError');
      } finally {
        process.off('warning', onWarning);
      }
    });
  });
});

describe('outputRootOf', () => {
  it('rebuilds the outputRoot of captureOutputs from the ActionResult', async () => {
    await withWorkDir(async ({ store, work, write }) => {
      await write('bin/app', 'app', 0o755);
      await write('gen/a/x.ts', 'x');
      await write('gen/b/y.ts', 'y');
      await write('gen/empty/.keep', '');
      await symlink('app', join(work, 'bin/alias'));
      const captured = await captureOutputs(store, work, ['bin/app', 'bin/alias'], ['gen']);
      const result = create(ActionResultSchema, {
        outputFiles: captured.outputFiles,
        outputDirectories: captured.outputDirectories,
        outputSymlinks: captured.outputSymlinks,
      });
      assert.deepEqual(await outputRootOf(store, result), captured.outputRoot);
      // Also through the v2.0 symlink field, and without root_directory_digest (servers that send only the Tree).
      const legacy = create(ActionResultSchema, {
        outputFiles: captured.outputFiles,
        outputDirectories: captured.outputDirectories.map((od) => ({ ...od, rootDirectoryDigest: undefined })),
        outputFileSymlinks: captured.outputSymlinks,
      });
      assert.deepEqual(await outputRootOf(store, legacy), captured.outputRoot);
    });
  });

  it('stores the Tree\'s Directories, so a result from a cache can be materialized from a store that had only the Tree', async () => {
    await withWorkDir(async ({ store, work, tmp, write }) => {
      await write('out/nested/deep/f.txt', 'f');
      await write('out/g.txt', 'g');
      const captured = await captureOutputs(store, work, [], ['out']);
      const od = captured.outputDirectories[0]!;
      // A second store holding only the blobs a remote cache hit would bring: the Tree and the file contents.
      const otherDir = await makeTempDir();
      const other = createLocalStore({ dir: otherDir });
      try {
        const treeBytes = (await store.getBytes(d(od.treeDigest)))!;
        await other.put(d(od.treeDigest), treeBytes);
        for (const text of ['f', 'g']) await other.put(digestOf(text), Buffer.from(text));
        assert.equal((await other.findMissing([d(od.rootDirectoryDigest)])).length, 1);
        const root = await outputRootOf(other, create(ActionResultSchema, { outputDirectories: [od] }));
        assert.deepEqual(root, captured.outputRoot);
        const dest = join(tmp, 'restored');
        await materializeTree(other, root, dest, { mode: 'copy' });
        assert.deepEqual(await captureDirectory(other, dest), root);
      } finally {
        await other.close();
        await removeDir(otherDir);
      }
    });
  });

  it('fails with missing-blob when the Tree is absent and malformed-tree when it is not a Tree', async () => {
    await withWorkDir(async ({ store }) => {
      const absent = digestOf('no such tree');
      const result = create(ActionResultSchema, { outputDirectories: [{ path: 'o', treeDigest: { hash: absent.hash, sizeBytes: BigInt(absent.sizeBytes) } }] });
      assert.equal(reasonOf(await outputRootOf(store, result).catch((e: unknown) => e)), 'missing-blob');
      // A Tree whose root names a child it does not carry.
      const child = await treeFromBytes(store, [{ path: 'c', content: 'c' }]);
      const root = create(DirectorySchema, { directories: [{ name: 'sub', digest: { hash: child.hash, sizeBytes: BigInt(child.sizeBytes) } }] });
      const bad = digestMessage(TreeSchema, create(TreeSchema, { root, children: [] }));
      await store.put(bad.digest, bad.bytes);
      const withBad = create(ActionResultSchema, { outputDirectories: [{ path: 'o', treeDigest: { hash: bad.digest.hash, sizeBytes: BigInt(bad.digest.sizeBytes) } }] });
      const e = await outputRootOf(store, withBad).catch((x: unknown) => x);
      assert.equal(reasonOf(e), 'malformed-tree');
      assert.match((e as Error).message, /"sub"/);
    });
  });
});

async function readDirectoryFromStore(store: LocalStore, digest: Digest): Promise<ReturnType<typeof create<typeof DirectorySchema>>> {
  const bytes = await store.getBytes(digest);
  assert.ok(bytes);
  const dir = decodeMessage(DirectorySchema, bytes);
  assert.ok(dir.ok);
  return dir.value;
}
