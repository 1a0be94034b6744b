import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, isAbortError, isFailureError } from '../core/index.js';
import {
  captureDirectory,
  createLocalStore,
  materializeTree,
  treeFromBytes,
  treeFromFiles,
  type LocalStore,
} from './index.js';
import { makeTempDir, removeDir } from './test-support.js';

const isRoot = process.getuid?.() === 0;

async function withStore(fn: (store: LocalStore, tmp: string) => Promise<void>): Promise<void> {
  const dir = await makeTempDir();
  const tmp = await makeTempDir('trews-mat-');
  const store = createLocalStore({ dir });
  try {
    await fn(store, tmp);
  } finally {
    await store.close();
    await removeDir(dir);
    await removeDir(tmp);
  }
}

async function sampleTree(store: LocalStore): Promise<ReturnType<typeof treeFromBytes>> {
  const d = await treeFromBytes(store, [
    { path: 'README', content: 'read me' },
    { path: 'bin/tool', content: '#!/bin/sh\necho tool\n', isExecutable: true },
    { path: 'src/lib/a.txt', content: 'a' },
    { path: 'src/lib/b.txt', content: 'b' },
    { path: 'src/empty.txt', content: '' },
  ]);
  return d;
}

describe('materializeTree', () => {
  it('hard-links read-only files into writable directories, and capturing them gives the same digest', async () => {
    await withStore(async (store, tmp) => {
      const d = await sampleTree(store);
      const dest = join(tmp, 'sandbox');
      await materializeTree(store, d, dest, { mode: 'hardlink' });
      assert.equal(await readFile(join(dest, 'src/lib/a.txt'), 'utf8'), 'a');
      assert.equal(await readFile(join(dest, 'src/empty.txt'), 'utf8'), '');
      const readme = await stat(join(dest, 'README'));
      assert.equal(readme.mode & 0o777, 0o444);
      assert.ok(readme.nlink >= 2, 'a hard link to the CAS');
      assert.equal((await stat(join(dest, 'bin/tool'))).mode & 0o777, 0o555);
      if (!isRoot) await assert.rejects(writeFile(join(dest, 'README'), 'overwrite'), { code: 'EACCES' });
      // Directories are writable: outputs can be created inside them.
      await writeFile(join(dest, 'src/lib/output.txt'), 'new');
      assert.deepEqual(await captureDirectory(store, dest), await treeFromBytes(store, [
        { path: 'README', content: 'read me' },
        { path: 'bin/tool', content: '#!/bin/sh\necho tool\n', isExecutable: true },
        { path: 'src/lib/a.txt', content: 'a' },
        { path: 'src/lib/b.txt', content: 'b' },
        { path: 'src/lib/output.txt', content: 'new' },
        { path: 'src/empty.txt', content: '' },
      ]));
    });
  });

  it('round-trips through capture exactly, in both modes, executable bits and empty directories included', async () => {
    await withStore(async (store, tmp) => {
      const empty = await treeFromFiles(store, []);
      const d = await sampleTree(store);
      for (const mode of ['hardlink', 'copy'] as const) {
        const dest = join(tmp, mode);
        await materializeTree(store, d, dest, { mode });
        assert.deepEqual(await captureDirectory(store, dest), d, mode);
        if (mode === 'copy') {
          assert.equal((await stat(join(dest, 'README'))).mode & 0o777, 0o644);
          assert.equal((await stat(join(dest, 'bin/tool'))).mode & 0o777, 0o755);
        }
      }
      const emptyDest = join(tmp, 'empty');
      await mkdir(join(emptyDest, 'nested/leaf'), { recursive: true });
      const captured = await captureDirectory(store, emptyDest);
      assert.notDeepEqual(captured, empty, 'empty directories are part of the tree');
      const again = join(tmp, 'empty-again');
      await materializeTree(store, captured, again, { mode: 'hardlink' });
      assert.ok((await stat(join(again, 'nested/leaf'))).isDirectory());
    });
  });

  it('creates symlinks that stay inside the tree, and capture keeps them', async () => {
    await withStore(async (store, tmp) => {
      const d = await treeFromFiles(store, [
        { path: 'lib/real.txt', digest: await putText(store, 'real'), isExecutable: false },
        { kind: 'symlink', path: 'lib/alias.txt', target: 'real.txt' },
        { kind: 'symlink', path: 'top', target: 'lib/../lib/real.txt' },
        { kind: 'symlink', path: 'lib/up', target: '..' },
      ]);
      const dest = join(tmp, 'links');
      await materializeTree(store, d, dest, { mode: 'hardlink' });
      assert.equal(await readlink(join(dest, 'lib/alias.txt')), 'real.txt');
      assert.ok((await lstat(join(dest, 'top'))).isSymbolicLink());
      assert.equal(await readFile(join(dest, 'lib/alias.txt'), 'utf8'), 'real');
      assert.deepEqual(await captureDirectory(store, dest), d);
    });
  });

  it('refuses symlinks that lead outside the tree, directly or through other symlinks', async () => {
    await withStore(async (store, tmp) => {
      const cases: Array<Array<{ path: string; target: string }>> = [
        [{ path: 'up', target: '..' }],
        [{ path: 'a/b/c', target: '../../../etc/passwd' }],
        [{ path: 'abs', target: '/etc/passwd' }],
        [
          { path: 's/up', target: '..' },
          { path: 'e', target: 's/up/s/up/..' },
        ],
        [
          { path: 'loop1', target: 'loop2' },
          { path: 'loop2', target: 'loop1' },
        ],
      ];
      for (const [i, links] of cases.entries()) {
        const d = await treeFromFiles(store, links.map((l) => ({ kind: 'symlink' as const, ...l })));
        const dest = join(tmp, `escape-${i}`);
        const e = await materializeTree(store, d, dest, { mode: 'hardlink' }).catch((x: unknown) => x);
        assert.ok(isFailureError(e), JSON.stringify(links));
        assert.equal(e.failure.reason, 'symlink-escape');
        assert.match(e.failure.message, /^symlink `/);
        await assert.rejects(lstat(dest), { code: 'ENOENT' }, 'nothing is created');
      }
    });
  });

  it('fails with missing-blob, naming the file, when a file blob is absent', async () => {
    await withStore(async (store, tmp) => {
      const absent = digestOf('never stored');
      const d = await treeFromFiles(store, [{ path: 'dir/ghost.txt', digest: absent, isExecutable: false }]);
      const e = await materializeTree(store, d, join(tmp, 'm'), { mode: 'hardlink' }).catch((x: unknown) => x);
      assert.ok(isFailureError(e));
      assert.equal(e.failure.tag, 'environment');
      assert.equal(e.failure.reason, 'missing-blob');
      assert.match(e.failure.message, /`dir\/ghost\.txt`/);
    });
  });

  it('stops when its signal is aborted', async () => {
    await withStore(async (store, tmp) => {
      const d = await sampleTree(store);
      const ac = new AbortController();
      ac.abort();
      const e = await materializeTree(store, d, join(tmp, 'aborted'), { mode: 'hardlink', signal: ac.signal }).catch((x: unknown) => x);
      assert.ok(isAbortError(e), String(e));
    });
  });

  it('materializes many files with bounded concurrency', async () => {
    await withStore(async (store, tmp) => {
      const many = Array.from({ length: 600 }, (_, i) => ({ path: `d${i % 7}/f${i}.txt`, content: `content ${i}` }));
      const d = await treeFromBytes(store, many);
      const dest = join(tmp, 'many');
      await materializeTree(store, d, dest, { mode: 'hardlink' });
      assert.equal(await readFile(join(dest, 'd3/f598.txt'), 'utf8'), 'content 598');
      assert.deepEqual(await captureDirectory(store, dest), d);
    });
  });

  it('captureDirectory skips sockets and FIFOs but follows a symlinked root', async () => {
    await withStore(async (store, tmp) => {
      const src = join(tmp, 'src');
      await mkdir(src);
      await writeFile(join(src, 'f'), 'f');
      execFileSync('mkfifo', [join(src, 'fifo')]);
      await symlink(src, join(tmp, 'via-link'));
      assert.deepEqual(await captureDirectory(store, join(tmp, 'via-link')), await treeFromBytes(store, [{ path: 'f', content: 'f' }]));
      const e = await captureDirectory(store, join(tmp, 'missing')).catch((x: unknown) => x);
      assert.ok(isFailureError(e));
      assert.equal(e.failure.reason, 'capture-failed');
    });
  });
});

async function putText(store: LocalStore, text: string): Promise<ReturnType<typeof digestOf>> {
  const d = digestOf(text);
  await store.put(d, Buffer.from(text));
  return d;
}
