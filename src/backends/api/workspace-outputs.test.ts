// writeOutputs knows an unchanged output by its stat (as git's index does)
// once the file is old enough to be racy-clean, and must still restore any
// output that was deleted or edited since, however the edit tried to hide.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '../../core/index.js';
import { openFileDigestIndex } from '../../fs/index.js';
import { createLocalStore, treeFromBytes, type LocalStore } from '../../store/index.js';
import picomatch from 'picomatch';
import { outputMatcherForTests, writeOutputs } from './workspace-outputs.js';

const GLOBS = ['packages/lib/dist/**'];
const CONTENT = 'export const a = 1;\n';
/** A clock far enough ahead that every file written now is racy-clean. */
const later = (): number => Date.now() + 60_000;

describe('writeOutputs', () => {
  let dir: string;
  let store: LocalStore;
  let tree: Digest;
  let root: string;
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trews-outputs-'));
    store = createLocalStore({ dir: join(dir, 'store') });
    tree = await treeFromBytes(store, [
      { path: 'packages/lib/dist/a.js', content: CONTENT },
      { path: 'packages/lib/dist/sub/b.js', content: 'b\n' },
    ]);
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh build root per test, its outputs written once by the real clock. */
  async function freshRoot(): Promise<string> {
    root = join(dir, `root-${++n}`);
    await mkdir(root);
    const w = await writeOutputs(store, root, tree, GLOBS);
    assert.deepEqual([...w.written].sort(), ['packages/lib/dist/a.js', 'packages/lib/dist/sub/b.js']);
    return root;
  }

  it('hashes outputs written just now on every run (racy), and trusts their stat once they are old enough', async () => {
    await freshRoot();
    for (let i = 0; i < 2; i++) {
      const w = await writeOutputs(store, root, tree, GLOBS);
      assert.deepEqual({ written: w.written, unchanged: w.unchanged, hashed: w.hashed }, { written: [], unchanged: 2, hashed: 2 }, 'a file as new as the clock is never known by its stat');
    }
    const first = await writeOutputs(store, root, tree, GLOBS, undefined, { now: later });
    assert.equal(first.hashed, 2);
    const second = await writeOutputs(store, root, tree, GLOBS, undefined, { now: later });
    assert.deepEqual({ written: second.written, unchanged: second.unchanged, hashed: second.hashed }, { written: [], unchanged: 2, hashed: 0 });
  });

  it('restores an output edited by hand to the same size with its mtime set back', async () => {
    await freshRoot();
    const file = join(root, 'packages/lib/dist/a.js');
    // Whole seconds, so that setting the mtime back restores it to the nanosecond.
    const old = Math.floor(Date.now() / 1000) - 100;
    await utimes(file, old, old);
    await writeOutputs(store, root, tree, GLOBS, undefined, { now: later });
    assert.equal((await writeOutputs(store, root, tree, GLOBS, undefined, { now: later })).hashed, 0, 'the stat is known');
    const st = await stat(file, { bigint: true });
    await writeFile(file, CONTENT.replace('1', '2'));
    await utimes(file, old, old);
    const edited = await stat(file, { bigint: true });
    assert.deepEqual([edited.size, edited.mtimeNs, edited.ino], [st.size, st.mtimeNs, st.ino], 'only the ctime tells the edit');
    const w = await writeOutputs(store, root, tree, GLOBS, undefined, { now: later });
    assert.deepEqual(w.written, ['packages/lib/dist/a.js']);
    assert.equal(await readFile(file, 'utf8'), CONTENT);
  });

  it('a process without a daemon knows outputs by the stats the last one kept in the file digest index, and still restores a hidden edit', async () => {
    await freshRoot();
    await mkdir(join(root, '.trews.d'), { recursive: true });
    // Each "process" has its own store object (so no stats in memory) and reads the index anew.
    const processRun = async (): Promise<Awaited<ReturnType<typeof writeOutputs>>> => {
      const own = createLocalStore({ dir: join(dir, 'store') });
      const index = openFileDigestIndex(root, { now: later });
      try {
        return await writeOutputs(own, root, tree, GLOBS, undefined, { now: later, index });
      } finally {
        index.save();
        await own.close();
      }
    };
    const file = join(root, 'packages/lib/dist/a.js');
    const old = Math.floor(Date.now() / 1000) - 100;
    await utimes(file, old, old);
    assert.equal((await processRun()).hashed, 2, 'the first process hashes and records');
    assert.deepEqual(await processRun(), { written: [], unchanged: 2, removed: [], hashed: 0 }, 'the next one knows both by their stat');
    const st = await stat(file, { bigint: true });
    await writeFile(file, CONTENT.replace('1', '2'));
    await utimes(file, old, old);
    const edited = await stat(file, { bigint: true });
    assert.deepEqual([edited.size, edited.mtimeNs, edited.ino], [st.size, st.mtimeNs, st.ino], 'only the ctime tells the edit');
    const w = await processRun();
    assert.deepEqual(w.written, ['packages/lib/dist/a.js']);
    assert.equal(await readFile(file, 'utf8'), CONTENT);
  });

  it('restores a known output that was deleted, or replaced by another file of the same size', async () => {
    await freshRoot();
    const a = join(root, 'packages/lib/dist/a.js');
    const b = join(root, 'packages/lib/dist/sub/b.js');
    await writeOutputs(store, root, tree, GLOBS, undefined, { now: later });
    await unlink(a);
    const tmp = join(root, 'other');
    await writeFile(tmp, 'c\n');
    await rename(tmp, b);
    const w = await writeOutputs(store, root, tree, GLOBS, undefined, { now: later });
    assert.deepEqual([...w.written].sort(), ['packages/lib/dist/a.js', 'packages/lib/dist/sub/b.js']);
    assert.equal(await readFile(a, 'utf8'), CONTENT);
    assert.equal(await readFile(b, 'utf8'), 'b\n');
  });

  it('writes an output whose recorded stat is unchanged but which the tree now wants different', async () => {
    await freshRoot();
    await writeOutputs(store, root, tree, GLOBS, undefined, { now: later });
    const other = await treeFromBytes(store, [
      { path: 'packages/lib/dist/a.js', content: CONTENT.replace('1', '3') },
      { path: 'packages/lib/dist/sub/b.js', content: 'b\n' },
    ]);
    const w = await writeOutputs(store, root, other, GLOBS, undefined, { now: later });
    assert.deepEqual(w.written, ['packages/lib/dist/a.js']);
    assert.equal(w.hashed, 0, 'the recorded digest answers without reading');
  });
  it('beside an existing output directory it writes a new subdirectory, compares what is there and removes stale files; after a restore a second call finds everything in place', async () => {
    root = join(dir, `root-${++n}`);
    const dist = join(root, 'packages', 'lib', 'dist');
    await mkdir(dist, { recursive: true });
    await writeFile(join(dist, 'a.js'), CONTENT);
    await writeFile(join(dist, 'stale.js'), 'old\n');
    // dist/ exists (a.js right, stale.js stale); dist/sub/ is made by this call.
    const w = await writeOutputs(store, root, tree, GLOBS);
    assert.deepEqual({ written: w.written, unchanged: w.unchanged, removed: w.removed }, { written: ['packages/lib/dist/sub/b.js'], unchanged: 1, removed: ['packages/lib/dist/stale.js'] });
    // Everything made anew (a restore): all written, nothing to remove.
    await rm(dist, { recursive: true });
    const r = await writeOutputs(store, root, tree, GLOBS);
    assert.deepEqual({ written: [...r.written].sort(), unchanged: r.unchanged, removed: r.removed }, { written: ['packages/lib/dist/a.js', 'packages/lib/dist/sub/b.js'], unchanged: 0, removed: [] });
    assert.equal(await readFile(join(dist, 'sub', 'b.js'), 'utf8'), 'b\n');
    // And a second call finds them in place.
    const again = await writeOutputs(store, root, tree, GLOBS);
    assert.deepEqual({ written: again.written, unchanged: again.unchanged }, { written: [], unchanged: 2 });
  });

  it('a `<dir>/**` output glob, matched by prefix without compiling it, matches exactly what picomatch matches', () => {
    const paths = ['packages/lib/dist', 'packages/lib/dist/a.js', 'packages/lib/dist/.hidden', 'packages/lib/dist/sub/.d/x', 'packages/lib/dist/', 'packages/lib/dist2/a.js', 'packages/lib/distx', 'packages/lib', 'packages/lib/src/dist/a.js', 'other/packages/lib/dist/a.js', 'dist/a.js'];
    for (const globs of [['packages/lib/dist/**'], ['packages/lib/dist/**', 'dist/**'], ['packages/lib/dist/*.js'], ['packages/lib/[d]ist/**'], ['packages/lib/.cache/**'], ['packages/lib/dist/**', 'packages/lib/src/**/*.ts']]) {
      const ours = outputMatcherForTests(globs);
      const theirs = picomatch(globs, { dot: true });
      for (const p of paths) assert.equal(ours(p), theirs(p), `${JSON.stringify(globs)} on ${p}`);
    }
  });

  it('says its outputs are restorable only when they are whole directories, none excluded or nested, and nothing stale was removed', async () => {
    const plans: { bases: readonly string[]; paths: string[] }[] = [];
    const restorable = (plan: { bases: readonly string[]; entries: readonly { path: string }[] }): void => {
      plans.push({ bases: plan.bases, paths: plan.entries.map((e) => e.path).sort() });
    };
    await freshRoot();
    await writeOutputs(store, root, tree, GLOBS, undefined, { restorable });
    assert.deepEqual(plans, [{ bases: ['packages/lib/dist'], paths: ['packages/lib/dist/a.js', 'packages/lib/dist/sub/b.js'] }]);
    for (const globs of [['packages/lib/dist/*.js'], ['packages/lib/dist/**', '!packages/lib/dist/sub/**'], ['packages/lib/dist/**', 'packages/lib/dist/sub/**']]) {
      plans.length = 0;
      await writeOutputs(store, root, tree, globs, undefined, { restorable });
      assert.deepEqual(plans, [], JSON.stringify(globs));
    }
    await writeFile(join(root, 'packages', 'lib', 'dist', 'stale.js'), 'old\n');
    const w = await writeOutputs(store, root, tree, GLOBS, undefined, { restorable });
    assert.deepEqual(w.removed, ['packages/lib/dist/stale.js']);
    assert.deepEqual(plans, [], 'a call that removed a stale file');
  });

  it('writes the files under the declared directory only, and removes stale ones there, not in a sibling of the same prefix', async () => {
    const wide = await treeFromBytes(store, [
      { path: 'packages/lib/dist/a.js', content: CONTENT },
      { path: 'packages/lib/dist/.map/x.json', content: '{}' },
      { path: 'packages/lib/dist2/c.js', content: 'c\n' },
      { path: 'packages/lib/distx', content: 'x\n' },
    ]);
    root = join(dir, `root-${++n}`);
    await mkdir(join(root, 'packages', 'lib', 'dist2'), { recursive: true });
    await mkdir(join(root, 'packages', 'lib', 'dist'), { recursive: true });
    await writeFile(join(root, 'packages', 'lib', 'dist', 'stale.js'), 'old\n');
    await writeFile(join(root, 'packages', 'lib', 'dist2', 'keep.js'), 'mine\n');
    const w = await writeOutputs(store, root, wide, GLOBS);
    assert.deepEqual([...w.written].sort(), ['packages/lib/dist/.map/x.json', 'packages/lib/dist/a.js']);
    assert.deepEqual(w.removed, ['packages/lib/dist/stale.js']);
    assert.equal(await readFile(join(root, 'packages', 'lib', 'dist2', 'keep.js'), 'utf8'), 'mine\n');
    await assert.rejects(stat(join(root, 'packages', 'lib', 'dist2', 'c.js')));
    await assert.rejects(stat(join(root, 'packages', 'lib', 'distx')));
  });
});

describe('writeOutputs into an absent output directory (staged whole, renamed in)', () => {
  let dir: string;
  let store: LocalStore;
  let tree: Digest;
  const big = 'x'.repeat(300 * 1024); // above the store's synchronous copy
  const files = [
    { path: 'packages/lib/dist/a.js', content: CONTENT },
    { path: 'packages/lib/dist/run.sh', content: '#!/bin/sh\necho hi\n', isExecutable: true },
    { path: 'packages/lib/dist/sub/deep/b.js', content: 'b\n' },
    { path: 'packages/lib/dist/big.txt', content: big },
    { path: 'packages/app/dist/main.js', content: 'main\n' },
  ];
  const globs = ['packages/lib/dist/**', 'packages/app/dist/**'];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trews-outputs-staged-'));
    store = createLocalStore({ dir: join(dir, 'store') });
    tree = await treeFromBytes(store, files);
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Every file under `root`'s packages/: path → [content, permission bits]. */
  async function snapshot(root: string): Promise<Map<string, [string, number]>> {
    const out = new Map<string, [string, number]>();
    const walk = async (rel: string): Promise<void> => {
      for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
        const p = `${rel}/${e.name}`;
        if (e.isDirectory()) await walk(p);
        else out.set(p, [await readFile(join(root, p), 'utf8'), (await stat(join(root, p))).mode & 0o7777]);
      }
    };
    await walk('packages');
    return out;
  }

  it('writes the same files, contents and modes as file by file, leaves nothing in the staging directory, and a second run finds them unchanged', async () => {
    const byFile = join(dir, 'by-file');
    const staged = join(dir, 'staged');
    const stagingDir = join(staged, '.trews.d', 'tmp', 'outputs');
    await mkdir(join(byFile, 'packages', 'lib'), { recursive: true });
    await mkdir(join(staged, 'packages', 'lib'), { recursive: true });
    // One package directory exists with its dist/ absent, the other is absent altogether.
    await writeOutputs(store, byFile, tree, globs);
    const w = await writeOutputs(store, staged, tree, globs, undefined, { stagingDir });
    assert.deepEqual([...w.written].sort(), files.map((f) => f.path).sort());
    assert.equal(w.unchanged, 0);
    const expected = new Map(files.map((f) => [f.path, [f.content, f.isExecutable === true ? 0o755 : 0o644] as [string, number]]));
    assert.deepEqual(await snapshot(staged), expected);
    assert.deepEqual(await snapshot(staged), await snapshot(byFile));
    assert.deepEqual(await readdir(stagingDir), [], 'the staging directory is left empty');
    const again = await writeOutputs(store, staged, tree, globs, undefined, { stagingDir });
    assert.deepEqual({ written: again.written, unchanged: again.unchanged, removed: again.removed }, { written: [], unchanged: files.length, removed: [] });
  });

  it('an output directory that exists is written file by file: stale files removed, edits restored', async () => {
    const root = join(dir, 'existing');
    const stagingDir = join(root, '.trews.d', 'tmp', 'outputs');
    await mkdir(join(root, 'packages', 'lib', 'dist'), { recursive: true });
    await writeFile(join(root, 'packages', 'lib', 'dist', 'stale.js'), 'old\n');
    await writeFile(join(root, 'packages', 'lib', 'dist', 'a.js'), 'edited\n');
    const w = await writeOutputs(store, root, tree, globs, undefined, { stagingDir });
    assert.deepEqual(w.removed, ['packages/lib/dist/stale.js']);
    assert.deepEqual(await snapshot(root), new Map(files.map((f) => [f.path, [f.content, f.isExecutable === true ? 0o755 : 0o644] as [string, number]])));
  });

  it('writes nothing through a symlink that leads out of the build root, staged or file by file', async () => {
    for (const staging of [true, false]) {
      const root = join(dir, `escape-${staging ? 'staged' : 'by-file'}`);
      const outside = join(dir, `outside-${staging ? 'staged' : 'by-file'}`);
      await mkdir(join(root, 'packages'), { recursive: true });
      await mkdir(outside);
      // packages/lib is a link out of the root: its dist/ would land outside.
      await symlink(outside, join(root, 'packages', 'lib'));
      const options = staging ? { stagingDir: join(root, '.trews.d', 'tmp', 'outputs') } : {};
      await assert.rejects(writeOutputs(store, root, tree, globs, undefined, options), /would be written through a symlink that leads out of the build root/);
      assert.deepEqual(await readdir(outside), [], `nothing written outside (${staging ? 'staged' : 'file by file'})`);
    }
  });

  it('refuses a link out of the build root even when what is there already matches, and removes nothing through it', async () => {
    const root = join(dir, 'escape-matching');
    const outside = join(dir, 'outside-matching');
    await mkdir(join(root, 'packages'), { recursive: true });
    // The outputs as the tree has them, plus a file the tree lacks (which a write-back would remove), outside.
    await mkdir(join(outside, 'dist', 'sub'), { recursive: true });
    await writeFile(join(outside, 'dist', 'a.js'), CONTENT);
    await writeFile(join(outside, 'dist', 'sub', 'b.js'), 'b\n');
    await writeFile(join(outside, 'dist', 'stale.js'), 'stale\n');
    await symlink(outside, join(root, 'packages', 'lib'));
    await assert.rejects(writeOutputs(store, root, tree, GLOBS, undefined, { stagingDir: join(root, '.trews.d', 'tmp', 'outputs') }), /would be written through a symlink that leads out of the build root/);
    assert.deepEqual((await readdir(join(outside, 'dist'))).sort(), ['a.js', 'stale.js', 'sub']);
  });

  it('removes what a killed write left in the staging directory an hour ago, and nothing younger', async () => {
    const root = join(dir, 'leftovers');
    const stagingDir = join(root, '.trews.d', 'tmp', 'outputs');
    const old = join(stagingDir, '.trews-dead-0.tmp');
    const young = join(stagingDir, '.trews-alive-0.tmp');
    await mkdir(join(old, 'sub'), { recursive: true });
    await writeFile(join(old, 'sub', 'half.js'), 'half\n');
    await mkdir(young, { recursive: true });
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    await writeOutputs(store, root, tree, globs, undefined, { stagingDir });
    assert.deepEqual(await readdir(stagingDir), ['.trews-alive-0.tmp'], 'the abandoned one is gone, the one another process may be filling stays');
    assert.deepEqual(await snapshot(root), new Map(files.map((f) => [f.path, [f.content, f.isExecutable === true ? 0o755 : 0o644] as [string, number]])));
  });

  it('a blob missing from the store fails the write, leaving neither a half output directory nor a staged one', async () => {
    const lone = await treeFromBytes(store, [{ path: 'packages/gone/dist/x.js', content: 'vanishing\n' }, { path: 'packages/gone/dist/y.js', content: 'y\n' }]);
    const root = join(dir, 'missing-blob');
    const stagingDir = join(root, '.trews.d', 'tmp', 'outputs');
    await mkdir(root);
    const blob = join(store.dir, 'cas');
    // Remove x.js's blob (its digest names its file in the store).
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update('vanishing\n').digest('hex');
    const found = await findFile(blob, hash);
    assert.ok(found, 'the blob is in the store');
    await unlink(found);
    await assert.rejects(writeOutputs(store, root, lone, ['packages/gone/dist/**'], undefined, { stagingDir }), /no longer in the local store/);
    await assert.rejects(stat(join(root, 'packages/gone/dist')), /ENOENT/);
    assert.deepEqual(await readdir(stagingDir), []);
  });
});

async function findFile(dir: string, name: string): Promise<string | undefined> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const f = await findFile(p, name);
      if (f !== undefined) return f;
    } else if (e.name.startsWith(name)) return p;
  }
  return undefined;
}
