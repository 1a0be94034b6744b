import { create, toBinary } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, isFailureError, type AbsPath, type Digest } from '../core/index.js';
import { createEngine, type Engine } from '../engine/index.js';
import type { Workspace } from '../fs/index.js';
import { DirectoryNodeSchema, DirectorySchema, FileNodeSchema, type Directory } from '../reapi/index.js';
import { EMPTY_TREE_DIGEST, SnapshotKey, createLocalStore, flushAllStaged, flushTree, listTree, materializeTree, mergeTrees, type LocalStore } from './index.js';
import { endMemoPeriod, nothingStaged } from './tree-io.js';
import { makeTempDir, removeDir } from './test-support.js';

interface Fixture {
  readonly ws: Workspace;
  readonly store: LocalStore;
  readonly engine: Engine;
  /** Ids of computed keys since the last reset. */
  readonly log: string[];
  write(path: string, content: string, mode?: number): Promise<void>;
  /** A snapshot, written to the store (as before a process runs on it). */
  snapshot(paths: readonly string[]): Promise<{ digest: Digest; files: readonly string[] }>;
  /** A snapshot as the rules get it: staged in memory, not written. */
  stage(paths: readonly string[]): Promise<{ digest: Digest; files: readonly string[] }>;
  dispose(): Promise<void>;
}

async function fixture(files: Record<string, string | { content: string; mode: number }>): Promise<Fixture> {
  const root = await makeTempDir('trews-snap-ws-');
  const storeDir = await makeTempDir('trews-snap-store-');
  const ws: Workspace = { root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: false } };
  const store = createLocalStore({ dir: storeDir });
  const log: string[] = [];
  const engine = createEngine({ onCompute: (k) => log.push(k.id) });
  const write = async (path: string, content: string, mode = 0o644): Promise<void> => {
    const abs = join(root, path);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, content);
    await chmod(abs, mode);
  };
  for (const [p, c] of Object.entries(files)) {
    if (typeof c === 'string') await write(p, c);
    else await write(p, c.content, c.mode);
  }
  return {
    ws,
    store,
    engine,
    log,
    write,
    snapshot: async (paths) => {
      const s = await engine.startRun().get(new SnapshotKey(ws, store, paths));
      await flushTree(store, s.digest);
      return s;
    },
    stage: (paths) => engine.startRun().get(new SnapshotKey(ws, store, paths)),
    dispose: async () => {
      await store.close();
      await removeDir(root);
      await removeDir(storeDir);
    },
  };
}

/** Digest of a Directory encoded here, without the store's helpers. */
function digestOfDirectory(dir: Directory): Digest {
  const bytes = toBinary(DirectorySchema, dir);
  return { hash: createHash('sha256').update(bytes).digest('hex') as Digest['hash'], sizeBytes: bytes.byteLength };
}

function protoDigest(d: Digest): { hash: string; sizeBytes: bigint } {
  return { hash: d.hash, sizeBytes: BigInt(d.sizeBytes) };
}

const fileDigestComputes = (log: readonly string[]): string[] => log.filter((id) => id.startsWith('file-digest:'));
const dirComputes = (log: readonly string[]): string[] => log.filter((id) => id.startsWith('dir-snapshot:'));

describe('SnapshotKey', () => {
  it('builds the Directory tree REAPI defines for the files, executable bit included', async () => {
    const f = await fixture({
      'a.txt': 'hello',
      'bin/run.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'bin/lib/x': 'x',
      'not-in-snapshot.txt': 'ignored',
    });
    try {
      const snap = await f.snapshot(['bin/run.sh', 'a.txt', 'bin/lib/x']);
      const lib = create(DirectorySchema, {
        files: [create(FileNodeSchema, { name: 'x', digest: protoDigest(digestOf('x')) })],
      });
      const bin = create(DirectorySchema, {
        files: [create(FileNodeSchema, { name: 'run.sh', digest: protoDigest(digestOf('#!/bin/sh\necho hi\n')), isExecutable: true })],
        directories: [create(DirectoryNodeSchema, { name: 'lib', digest: protoDigest(digestOfDirectory(lib)) })],
      });
      const root = create(DirectorySchema, {
        files: [create(FileNodeSchema, { name: 'a.txt', digest: protoDigest(digestOf('hello')) })],
        directories: [create(DirectoryNodeSchema, { name: 'bin', digest: protoDigest(digestOfDirectory(bin)) })],
      });
      assert.deepEqual(snap.digest, digestOfDirectory(root));
      assert.deepEqual(snap.files, ['a.txt', 'bin/lib/x', 'bin/run.sh']);
      // Everything the tree names is in the store.
      assert.equal(Buffer.from((await f.store.getBytes(digestOf('hello')))!).toString(), 'hello');
      assert.deepEqual(await f.store.findMissing([digestOfDirectory(root), digestOfDirectory(bin), digestOfDirectory(lib)]), []);
      assert.deepEqual(
        (await listTree(f.store, snap.digest)).map((e) => e.path),
        ['a.txt', 'bin/lib/x', 'bin/run.sh'],
      );
    } finally {
      await f.dispose();
    }
  });

  it('re-hashes only the edited file and rebuilds only the directories above it', async () => {
    const files: Record<string, string> = {};
    for (const d of ['a', 'b', 'c']) for (let i = 0; i < 5; i++) files[`${d}/sub/f${i}.txt`] = `${d}${i}`;
    const f = await fixture(files);
    try {
      const paths = Object.keys(files);
      const before = await f.snapshot(paths);
      assert.equal(fileDigestComputes(f.log).length, 15);
      f.log.length = 0;

      await f.write('b/sub/f3.txt', 'changed');
      f.engine.invalidatePaths(['b/sub/f3.txt']);
      const after = await f.snapshot(paths);
      assert.notDeepEqual(after.digest, before.digest);
      assert.deepEqual(fileDigestComputes(f.log), ['file-digest:b/sub/f3.txt']);
      // b/sub, b and the root: the Directory messages on the edited file's path, nothing else.
      assert.deepEqual(
        dirComputes(f.log).map((id) => id.split(':')[1]).sort(),
        ['', 'b', 'b/sub'],
      );
      const listed = await listTree(f.store, after.digest);
      const entry = listed.find((e) => e.path === 'b/sub/f3.txt');
      assert.ok(entry?.kind === 'file');
      assert.deepEqual(entry.digest, digestOf('changed'));
    } finally {
      await f.dispose();
    }
  });

  it('keeps the digest, and recomputes nothing above the file, when an edit leaves the content as it was', async () => {
    const f = await fixture({ 'x/one.txt': '1', 'x/two.txt': '2', 'y.txt': 'y' });
    try {
      const paths = ['x/one.txt', 'x/two.txt', 'y.txt'];
      const before = await f.snapshot(paths);
      f.log.length = 0;
      await f.write('x/one.txt', '1');
      f.engine.invalidatePaths(['x/one.txt']);
      const after = await f.snapshot(paths);
      assert.deepEqual(after.digest, before.digest);
      // Only what reads the disk: the file's content (at its real path) and its
      // directory's listing (a change at a path may add or remove it there).
      assert.deepEqual(f.log, ['dir-entries:x', 'real-file-digest:x/one.txt']);
    } finally {
      await f.dispose();
    }
  });

  it('changes the digest when only the executable bit changes', async () => {
    const f = await fixture({ 'tool.sh': 'echo' });
    try {
      const before = await f.snapshot(['tool.sh']);
      await chmod(join(f.ws.root, 'tool.sh'), 0o755);
      f.engine.invalidatePaths(['tool.sh']);
      const after = await f.snapshot(['tool.sh']);
      assert.notDeepEqual(after.digest, before.digest);
      const [entry] = await listTree(f.store, after.digest);
      assert.ok(entry?.kind === 'file' && entry.isExecutable);
    } finally {
      await f.dispose();
    }
  });

  it('fails with missing-file naming a path that does not exist, and recovers once it does', async () => {
    const f = await fixture({ 'src/here.txt': 'here' });
    try {
      const e = await f.snapshot(['src/here.txt', 'src/gone.txt']).catch((x: unknown) => x);
      assert.ok(isFailureError(e));
      assert.equal(e.failure.tag, 'input');
      assert.equal(e.failure.reason, 'missing-file');
      assert.match(e.failure.message, /`src\/gone\.txt`/);
      await f.write('src/gone.txt', 'back');
      f.engine.invalidatePaths(['src/gone.txt']);
      const snap = await f.snapshot(['src/here.txt', 'src/gone.txt']);
      assert.equal((await listTree(f.store, snap.digest)).length, 2);
    } finally {
      await f.dispose();
    }
  });

  it('treats a directory named as a file as missing', async () => {
    const f = await fixture({ 'd/inner.txt': 'i' });
    try {
      const e = await f.snapshot(['d']).catch((x: unknown) => x);
      assert.ok(isFailureError(e));
      assert.equal(e.failure.reason, 'missing-file');
    } finally {
      await f.dispose();
    }
  });

  it('refuses a path that is both a file and a directory, and paths that are not plain relative paths', async () => {
    const f = await fixture({ 'a/b': 'b' });
    try {
      const conflict = await f.snapshot(['a', 'a/b']).catch((x: unknown) => x);
      assert.ok(isFailureError(conflict));
      assert.equal(conflict.failure.reason, 'snapshot-conflict');
      assert.match(conflict.failure.message, /`a`/);
      for (const bad of ['../a', '/etc/passwd', 'a//b', './a/b']) {
        const e = await f.snapshot([bad]).catch((x: unknown) => x);
        assert.ok(isFailureError(e), bad);
        assert.equal(e.failure.reason, 'invalid-path', bad);
      }
    } finally {
      await f.dispose();
    }
  });

  it('normalizes the path list: order and duplicates do not make another node', async () => {
    const f = await fixture({ 'p.txt': 'p', 'q.txt': 'q' });
    try {
      const a = new SnapshotKey(f.ws, f.store, ['q.txt', 'p.txt', 'q.txt']);
      const b = new SnapshotKey(f.ws, f.store, ['p.txt', 'q.txt']);
      assert.equal(a.id, b.id);
      assert.notEqual(new SnapshotKey(f.ws, f.store, ['p.txt']).id, b.id);
      const long = Array.from({ length: 100 }, (_, i) => `dir/file-${String(i).padStart(3, '0')}.txt`);
      const id = new SnapshotKey(f.ws, f.store, long).id;
      assert.ok(id.length < 120, 'a long list is hashed');
      assert.notEqual(id, new SnapshotKey(f.ws, f.store, long.slice(1)).id);
      assert.deepEqual((await f.snapshot([])).digest, EMPTY_TREE_DIGEST);
    } finally {
      await f.dispose();
    }
  });

  it('copies a file into the store once, however many snapshots include it', async () => {
    const f = await fixture({ 'lib/a.txt': 'a', 'lib/b.txt': 'b', 'app/main.txt': 'main', 'app/copy.txt': 'a' });
    try {
      await f.snapshot(['lib/a.txt', 'lib/b.txt']);
      const written = f.store.stats().blobsWritten;
      await f.snapshot(['app/copy.txt', 'app/main.txt', 'lib/a.txt', 'lib/b.txt']);
      // New: main.txt's content, the app Directory and the new root. Not a.txt's content again, nor lib's Directory.
      assert.equal(f.store.stats().blobsWritten - written, 3);
    } finally {
      await f.dispose();
    }
  });

  it('remembers blobs per store object: another store object re-checks and re-copies', async () => {
    const f = await fixture({ 'r.txt': 'r' });
    try {
      await f.snapshot(['r.txt']);
      await rm(join(f.store.dir, 'cas'), { recursive: true, force: true });
      // A fresh engine (as a new run without a daemon) trusts nothing it remembered about the store.
      const engine = createEngine();
      const other = createLocalStore({ dir: f.store.dir });
      const again = await engine.startRun().get(new SnapshotKey(f.ws, other, ['r.txt']));
      await flushTree(other, again.digest);
      assert.deepEqual(await f.store.findMissing([digestOf('r'), again.digest]), []);
    } finally {
      await f.dispose();
    }
  });

  it('stages its tree in memory: nothing is written until a tree is flushed, and this process reads it at once', async () => {
    const f = await fixture({ 'src/a.txt': 'a', 'src/sub/b.txt': 'b' });
    const dest = await makeTempDir('trews-snap-dest-');
    try {
      const snap = await f.stage(['src/a.txt', 'src/sub/b.txt']);
      assert.equal(f.store.stats().blobsWritten, 0);
      assert.equal((await f.store.findMissing([snap.digest, digestOf('a'), digestOf('b')])).length, 3);
      // Materializing (what a process that runs does) writes it first.
      await materializeTree(f.store, snap.digest, join(dest, 'out'), { mode: 'copy' });
      assert.equal(await readFile(join(dest, 'out', 'src', 'sub', 'b.txt'), 'utf8'), 'b');
      assert.deepEqual(await f.store.findMissing([snap.digest, digestOf('a'), digestOf('b')]), []);
      // A new store object (a new process) sees the whole tree in the store.
      const other = createLocalStore({ dir: f.store.dir });
      assert.deepEqual((await listTree(other, snap.digest)).map((e) => e.path), ['src/a.txt', 'src/sub/b.txt']);
      await other.close();
    } finally {
      await removeDir(dest);
      await f.dispose();
    }
  });

  it('a file edited between its snapshot and the flush fails the flush; its Directory is not written under the old digest', async () => {
    const f = await fixture({ 'src/a.txt': 'a', 'src/b.txt': 'b' });
    try {
      const snap = await f.stage(['src/a.txt', 'src/b.txt']);
      await f.write('src/a.txt', 'A');
      const e = await flushTree(f.store, snap.digest).catch((x: unknown) => x);
      assert.ok(isFailureError(e));
      assert.equal(e.failure.reason, 'input-changed');
      assert.equal(e.failure.tag, 'input');
      assert.match(e.failure.message, /`src\/a.txt` changed while trews was running/);
      // The old content is nowhere, so nothing names it from the store.
      assert.deepEqual((await f.store.findMissing([snap.digest, digestOf('a')])).length, 2);
      // Recomputed (as the watcher's event or a new run does), the snapshot is the new content, and flushes.
      f.engine.invalidatePaths(['src/a.txt']);
      const again = await f.snapshot(['src/a.txt', 'src/b.txt']);
      assert.notDeepEqual(again.digest, snap.digest);
      assert.deepEqual(await f.store.findMissing([again.digest, digestOf('A')]), []);
    } finally {
      await f.dispose();
    }
  });

  it('a file edited and put back before the flush is copied as it is: the same bytes', async () => {
    const f = await fixture({ 'x.txt': 'x' });
    try {
      const snap = await f.stage(['x.txt']);
      await f.write('x.txt', 'y');
      await f.write('x.txt', 'x');
      await flushTree(f.store, snap.digest);
      assert.deepEqual(await f.store.findMissing([snap.digest, digestOf('x')]), []);
    } finally {
      await f.dispose();
    }
  });
  it('flushAllStaged writes every staged tree whole without reading a Directory that is only in the store', async () => {
    const f = await fixture({ 'lib/a.txt': 'a', 'lib/deep/b.txt': 'b', 'src/c.txt': 'c' });
    try {
      // The installed packages of a sandbox root: in the store already (as an earlier process left them).
      const stored = await f.snapshot(['lib/a.txt', 'lib/deep/b.txt']);
      const other = createLocalStore({ dir: f.store.dir });
      try {
        // Another process stages its own snapshot and a root over both.
        const own = await f.engine.startRun().get(new SnapshotKey(f.ws, other, ['src/c.txt']));
        const root = await mergeTrees(other, [stored.digest, own.digest]);
        // The Directories it read for the merge are forgotten, as a long run's memo would.
        endMemoPeriod(other, 1);
        endMemoPeriod(other, 1);
        const reads = other.stats().blobHits;
        await flushAllStaged(other);
        assert.equal(other.stats().blobHits, reads, 'no blob was read: the stored subtree is not walked');
        assert.ok(nothingStaged(other));
        const third = createLocalStore({ dir: f.store.dir });
        assert.deepEqual((await listTree(third, root)).map((e) => e.path), ['lib/a.txt', 'lib/deep/b.txt', 'src/c.txt']);
        await third.close();
      } finally {
        await other.close();
      }
    } finally {
      await f.dispose();
    }
  });

  it('flushAllStaged drops a staged tree whose file changed, with every staged Directory above it, and writes the others', async () => {
    const f = await fixture({ 'src/a.txt': 'a', 'src/b.txt': 'b', 'other/c.txt': 'c' });
    try {
      const stale = await f.stage(['src/a.txt', 'src/b.txt']);
      const fine = await f.stage(['other/c.txt']);
      const both = await mergeTrees(f.store, [stale.digest, fine.digest]);
      await f.write('src/a.txt', 'A');
      await flushAllStaged(f.store);
      assert.ok(nothingStaged(f.store));
      const other = createLocalStore({ dir: f.store.dir });
      try {
        assert.deepEqual((await listTree(other, fine.digest)).map((e) => e.path), ['other/c.txt']);
        assert.equal((await other.findMissing([stale.digest, both, digestOf('a')])).length, 3, 'nothing names the old content from the store');
      } finally {
        await other.close();
      }
    } finally {
      await f.dispose();
    }
  });
});
