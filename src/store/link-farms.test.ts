import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nullLogger, type Digest } from '../core/index.js';
import { createLocalStore, LinkFarms, materializeTree, mergeTrees, sharedTreesFor, treeFromBytes, treeFromFiles, type LocalStore, type SharedTreeLink } from './index.js';
import { makeTempDir, removeDir } from './test-support.js';

interface Fixture {
  readonly store: LocalStore;
  readonly tmp: string;
  readonly modules: Digest;
  readonly link: SharedTreeLink;
  /** An input root: sources, node_modules, and a workspace link `node_modules/@ws/<name>`. */
  root(wsLink: string): Promise<Digest>;
  /** Materializes, runs `process` on the sandbox, waits for the shared tree's barrier, releases the farms. */
  sandbox(root: Digest, process?: (dir: string) => Promise<void>): Promise<{ dir: string; ino: number }>;
}

async function withFarms(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await makeTempDir();
  const tmp = await makeTempDir('trews-farm-');
  const store = createLocalStore({ dir });
  try {
    const modules = await treeFromBytes(store, [
      { path: 'node_modules/left-pad/index.js', content: 'module.exports = 1;\n' },
      { path: 'node_modules/@types/node/index.d.ts', content: 'export {};\n' },
      { path: 'node_modules/.package-lock.json', content: '{}\n' },
    ]);
    const withBin = await mergeTrees(store, [modules, await treeFromFiles(store, [{ kind: 'symlink', path: 'node_modules/.bin/pad', target: '../left-pad/index.js' }])]);
    const use = await sharedTreesFor(store, nullLogger).acquire(withBin);
    assert.ok(use !== undefined, 'inotify is available here');
    await mkdir(join(tmp, 'pool'));
    const link: SharedTreeLink = { tree: withBin, dir: use.dir, realDirs: new Set(['node_modules']), farms: new LinkFarms(store, () => Promise.resolve(join(tmp, 'pool'))) };
    let n = 0;
    await fn({
      store,
      tmp,
      modules: withBin,
      link,
      root: async (wsLink) => {
        const src = await treeFromBytes(store, [{ path: `packages/${wsLink}/index.js`, content: wsLink }]);
        const ws = await treeFromFiles(store, [{ kind: 'symlink', path: `node_modules/@ws/${wsLink}`, target: `../../packages/${wsLink}` }]);
        return mergeTrees(store, [src, withBin, ws]);
      },
      sandbox: async (root, process) => {
        const sb = join(tmp, `sb-${n++}`);
        const made = await materializeTree(store, root, sb, { mode: 'hardlink', shared: [link] });
        assert.equal(made.farms.length, 1, 'a farm was used');
        const { ino } = await lstat(join(sb, 'node_modules'));
        const token = use.begin();
        await process?.(sb);
        assert.equal(await use.modifiedSince(token), false, 'the shared tree was not modified');
        for (const f of made.farms) await f.release();
        return { dir: sb, ino };
      },
    });
  } finally {
    await store.close();
    await removeDir(dir);
    await removeDir(tmp);
  }
}

describe('link farms', () => {
  it('lays out node_modules as the tree says, and the next sandbox reuses it without the first one\'s links or additions', async () => {
    await withFarms(async (f) => {
      const first = await f.sandbox(await f.root('a'), async (sb) => {
        const nm = join(sb, 'node_modules');
        assert.deepEqual((await readdir(nm)).sort(), ['.bin', '.package-lock.json', '@types', '@ws', 'left-pad']);
        assert.equal(await readlink(join(nm, '@ws/a')), '../../packages/a');
        assert.equal(await readlink(join(nm, 'left-pad')), join(f.link.dir, 'node_modules/left-pad'));
        assert.equal(await readlink(join(nm, '.bin/pad')), '../left-pad/index.js');
        // A tool keeps a cache in node_modules.
        await mkdir(join(nm, '.cache/tool'), { recursive: true });
        await writeFile(join(nm, '.cache/tool/x'), 'x');
      });
      const second = await f.sandbox(await f.root('b'), async (sb) => {
        const nm = join(sb, 'node_modules');
        assert.deepEqual((await readdir(nm)).sort(), ['.bin', '.package-lock.json', '@types', '@ws', 'left-pad']);
        assert.deepEqual(await readdir(join(nm, '@ws')), ['b']);
      });
      assert.equal(second.ino, first.ino, 'the same farm was moved in again');
    });
  });

  it('never reuses a farm whose own entries a process replaced, moved or wrote', async () => {
    const attacks: Array<[string, (nm: string) => Promise<void>]> = [
      ['a package symlink replaced by a directory', async (nm) => {
        await rm(join(nm, 'left-pad'));
        await mkdir(join(nm, 'left-pad'));
        await writeFile(join(nm, 'left-pad/index.js'), 'module.exports = "evil";\n');
      }],
      ['a package symlink pointed elsewhere', async (nm) => {
        await rm(join(nm, 'left-pad'));
        await symlink('/etc', join(nm, 'left-pad'));
      }],
      ['a .bin link removed', (nm) => rm(join(nm, '.bin/pad'))],
      ['node_modules moved away and a new one made', async (nm) => {
        await rename(nm, `${nm}-old`);
        await mkdir(nm);
      }],
    ];
    for (const [what, attack] of attacks) {
      await withFarms(async (f) => {
        const root = await f.root('a');
        const first = await f.sandbox(root, (sb) => attack(join(sb, 'node_modules')));
        const second = await f.sandbox(root, async (sb) => {
          const nm = join(sb, 'node_modules');
          assert.equal(await readlink(join(nm, 'left-pad')), join(f.link.dir, 'node_modules/left-pad'), what);
          assert.equal(await readlink(join(nm, '.bin/pad')), '../left-pad/index.js', what);
        });
        assert.notEqual(second.ino, first.ino, `${what}: a new farm was made`);
      });
    }
  });

  it('matches a sandbox to a farm once per node_modules digest: alternating packages and a partial tree each get their own layout', async () => {
    await withFarms(async (f) => {
      const partial = await treeFromBytes(f.store, [{ path: 'node_modules/left-pad/index.js', content: 'module.exports = 1;\n' }]);
      for (const [i, name] of ['a', 'b', 'a', 'partial', 'b', 'a'].entries()) {
        if (name === 'partial') {
          const sb = join(f.tmp, `partial-${i}`);
          const made = await materializeTree(f.store, partial, sb, { mode: 'hardlink', shared: [f.link] });
          assert.equal(made.farms.length, 0, 'a remembered match of another node_modules is not used');
          assert.deepEqual(await readdir(join(sb, 'node_modules')), ['left-pad']);
          continue;
        }
        await f.sandbox(await f.root(name), async (sb) => {
          const nm = join(sb, 'node_modules');
          assert.deepEqual((await readdir(nm)).sort(), ['.bin', '.package-lock.json', '@types', '@ws', 'left-pad'], `sandbox ${i}`);
          assert.deepEqual(await readdir(join(nm, '@ws')), [name], `sandbox ${i}`);
        });
      }
    });
  });

  it('makes node_modules entry by entry when the tree lacks an entry of the farm', async () => {
    await withFarms(async (f) => {
      await f.sandbox(await f.root('a'));
      const partial = await treeFromBytes(f.store, [{ path: 'node_modules/left-pad/index.js', content: 'module.exports = 1;\n' }]);
      const sb = join(f.tmp, 'partial');
      const made = await materializeTree(f.store, partial, sb, { mode: 'hardlink', shared: [f.link] });
      assert.equal(made.farms.length, 0);
      assert.deepEqual(await readdir(join(sb, 'node_modules')), ['left-pad']);
    });
  });
});
