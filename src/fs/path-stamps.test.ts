// The stamps a kept graph proves its paths unchanged with (path-stamps.ts).
// `startedAtMs` is the run's start: passing a time after the files were
// written stands for a run long after them, without waiting out the margin.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RACY_MARGIN_MS } from './file-digest-index.js';
import { changedPaths, stampPaths, stampPathsNow } from './path-stamps.js';

const later = (): number => Date.now() + RACY_MARGIN_MS + 1000;

async function withDir(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'trews-stamps-'));
  try {
    await mkdir(join(root, 'a'));
    await writeFile(join(root, 'a', 'x.txt'), 'good');
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const PATHS = ['', 'a', 'a/x.txt', 'a/gone.txt'];

describe('path stamps', () => {
  it('a path untouched since its stamp is unchanged; files, directories and absent paths all get one', async () => {
    await withDir(async (root) => {
      const stamps = stampPaths(root, PATHS, later());
      assert.deepEqual([...stamps.keys()].sort(), [...PATHS].sort());
      assert.equal(stamps.get('a/gone.txt'), 'absent');
      assert.deepEqual([...changedPaths(root, stamps, PATHS)], []);
    });
  });

  it('an edit keeping size and mtime, a new entry, a deleted file and a rename over a file are changes', async () => {
    await withDir(async (root) => {
      const stamps = stampPaths(root, PATHS, later());
      const file = join(root, 'a', 'x.txt');
      const before = lstatSync(file, { bigint: true });
      await writeFile(file, 'bad!');
      const ns = (before.mtimeNs % 1_000_000_000n).toString().padStart(9, '0');
      execFileSync('touch', ['-m', '-d', `@${before.mtimeNs / 1_000_000_000n}.${ns}`, file]);
      assert.equal(lstatSync(file, { bigint: true }).mtimeNs, before.mtimeNs);
      assert.deepEqual([...changedPaths(root, stamps, ['a/x.txt'])], ['a/x.txt'], 'ctime gives the edit away');
      await writeFile(join(root, 'a', 'gone.txt'), 'here now');
      assert.deepEqual([...changedPaths(root, stamps, PATHS)].sort(), ['a', 'a/gone.txt', 'a/x.txt']);
      const again = stampPaths(root, PATHS, later());
      await rename(join(root, 'a', 'gone.txt'), join(root, 'a', 'x.txt'));
      assert.deepEqual([...changedPaths(root, again, PATHS)].sort(), ['a', 'a/gone.txt', 'a/x.txt']);
    });
  });

  it('a path (or the directory holding it) changed after the run started gets no stamp', async () => {
    await withDir(async (root) => {
      const startedAt = Date.now();
      // Written "during the run": newer than its start less the margin.
      await writeFile(join(root, 'a', 'x.txt'), 'changed');
      const stamps = stampPaths(root, PATHS, startedAt);
      assert.equal(stamps.get('a/x.txt'), undefined);
      // `a` was created by this test just now too: an entry that came and went in it
      // (read while there, absent at the stamp) must not be proven absent.
      assert.equal(stamps.get('a/gone.txt'), undefined);
      assert.equal(stamps.get('a'), undefined);
      assert.deepEqual([...changedPaths(root, stamps, PATHS)].sort(), ['', 'a', 'a/gone.txt', 'a/x.txt']);
    });
  });

  it('a path the loading run saw before reading it, and that has that stamp still, is stamped though its directory changed; an absent or replaced one is not', async () => {
    await withDir(async (root) => {
      await writeFile(join(root, 'a', 'y.txt'), 'y');
      const paths = [...PATHS, 'a/y.txt'];
      const startedAt = later();
      // The load: no stamps kept, so every path is read again, each seen first.
      const observed = new Map<string, string>();
      assert.deepEqual([...changedPaths(root, new Map(), paths, observed)].sort(), [...paths].sort());
      // During the run: `a` changes (its mtime, set past the cut-off, as a new entry would move it),
      // and another file is renamed over a/y.txt (the same times as an old file could have).
      await writeFile(join(root, 'a', 'other.txt'), 'y');
      await rename(join(root, 'a', 'other.txt'), join(root, 'a', 'y.txt'));
      const future = BigInt(startedAt + 60_000) / 1000n;
      execFileSync('touch', ['-m', '-d', `@${future}`, join(root, 'a')]);
      const stamps = stampPaths(root, paths, startedAt, observed);
      assert.equal(stamps.get('a/x.txt'), observed.get('a/x.txt'), 'the same inode and times at the load and at the save');
      assert.equal(stamps.get('a/y.txt'), undefined, 'replaced during the run: another inode');
      assert.equal(stamps.get('a/gone.txt'), undefined, 'an absent path needs its directory\'s proof');
      assert.equal(stamps.get('a'), undefined, 'changed itself');
      // Without what the load saw, the directory's rule alone decides.
      assert.equal(stampPaths(root, paths, startedAt).get('a/x.txt'), undefined);
      // An in-place edit between the load and the save moves its ctime: not stamped either.
      const again = new Map<string, string>();
      changedPaths(root, new Map(), ['a/x.txt'], again);
      await writeFile(join(root, 'a', 'x.txt'), 'edit');
      assert.equal(stampPaths(root, ['a/x.txt'], later(), again).get('a/x.txt'), undefined);
    });
  });

  it('stamped now (the daemon): every path gets its stamp, fresh ones are named racy, an absent one never is', async () => {
    const root = await mkdtemp(join(tmpdir(), 'trews-stamps-now-'));
    try {
      await mkdir(join(root, 'd'));
      await writeFile(join(root, 'd', 'f'), 'x');
      const paths = ['', 'd', 'd/f', 'd/absent'];
      const fresh = stampPathsNow(root, paths, Date.now());
      assert.deepEqual([...fresh.stamps.keys()], paths, 'no directory need be old');
      assert.deepEqual([...fresh.racy].sort(), ['', 'd', 'd/f']);
      const later = stampPathsNow(root, paths, Date.now() + RACY_MARGIN_MS + 1000);
      assert.deepEqual([...later.racy], []);
      assert.deepEqual(changedPaths(root, later.stamps, paths), new Set());
      await writeFile(join(root, 'd', 'absent'), 'now here');
      assert.deepEqual(changedPaths(root, later.stamps, paths), new Set(['d', 'd/absent']));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
