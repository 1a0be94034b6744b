import assert from 'node:assert/strict';
import { mkdtemp, readdir, rename, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isFailureError } from '../core/index.js';
import { createSandboxDir, defaultSandboxRoot, removeSandboxDir } from './sandbox-dir.js';

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
