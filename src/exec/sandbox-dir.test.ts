import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isFailureError } from '../core/index.js';
import { createSandboxDir, defaultSandboxRoot, discardSandboxDir, removeSandboxDir } from './sandbox-dir.js';
import { eventually } from './test-support.js';

describe('the sandbox root', () => {
  it('defaults to a per-user directory under the temp dir', () => {
    assert.equal(defaultSandboxRoot('/tmp', 1000), '/tmp/trews-1000/sandboxes');
  });

  it('is checked for every sandbox: a root swapped for a symlink after the first one is refused', async () => {
    const base = await mkdtemp(join(tmpdir(), 'trews-sbroot-'));
    const elsewhere = await mkdtemp(join(tmpdir(), 'trews-sbroot-other-'));
    try {
      const root = defaultSandboxRoot(base, process.getuid!());
      const first = await createSandboxDir(root);
      await removeSandboxDir(first.dir);
      // As if a tmp reaper removed it and someone else put a link in its place.
      await rename(root, join(base, 'old'));
      await symlink(elsewhere, root);
      await assert.rejects(createSandboxDir(root), (e: unknown) => isFailureError(e) && e.failure.reason === 'sandbox-root-unsafe');
      assert.deepEqual(await readdir(elsewhere), []);
    } finally {
      await rm(base, { recursive: true, force: true });
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});

describe('a finished sandbox', () => {
  const root = (base: string): string => join(base, 'sandboxes');

  it('leaves the sandbox root at once, into the private trash beside it, and is removed from there', async () => {
    const base = await mkdtemp(join(tmpdir(), 'trews-sbtrash-'));
    try {
      const s = await createSandboxDir(root(base));
      await writeFile(join(s.root, 'f'), 'x');
      const errors: unknown[] = [];
      await discardSandboxDir(s.dir, root(base), (e) => errors.push(e));
      assert.deepEqual(await readdir(root(base)), []);
      const trash = join(base, 'sandbox-trash');
      assert.equal((await lstat(trash)).mode & 0o777, 0o700);
      await eventually(async () => (await readdir(trash)).length === 0, 10_000, 'the trashed sandbox to be removed');
      assert.deepEqual(errors, []);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  for (const [what, plant] of [
    ['a symlink to a directory of someone else', async (trash: string, elsewhere: string) => symlink(elsewhere, trash)],
    ['a directory others can write to', async (trash: string) => mkdir(trash, { mode: 0o777 }).then(() => chmod(trash, 0o777))],
  ] as const) {
    it(`is never moved into a trash that is ${what}: it is removed in place`, async () => {
      const base = await mkdtemp(join(tmpdir(), 'trews-sbtrash-'));
      const elsewhere = await mkdtemp(join(tmpdir(), 'trews-sbtrash-other-'));
      try {
        const trash = join(base, 'sandbox-trash');
        await plant(trash, elsewhere);
        const s = await createSandboxDir(root(base));
        await writeFile(join(s.root, 'secret'), 'x');
        await discardSandboxDir(s.dir, root(base), () => undefined);
        assert.deepEqual(await readdir(root(base)), []);
        assert.deepEqual(await readdir(elsewhere), []);
        assert.deepEqual(await readdir(trash), []);
      } finally {
        await rm(base, { recursive: true, force: true });
        await rm(elsewhere, { recursive: true, force: true });
      }
    });
  }
});
