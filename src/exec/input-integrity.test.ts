// A sandboxed process must not be able to change a stored blob through its
// hard-linked inputs (tests run as root, so file modes protect nothing): a
// process that writes to an input fails, the blob leaves the store, and
// neither its result nor that of a process sharing the blob is cached.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, isFailureError, type Digest } from '../core/index.js';
import { createLocalStore, damageOf, treeFromBytes, type LocalStore } from '../store/index.js';
import { createLocalCacheRunner } from './local-cache-runner.js';
import { createLocalRunner } from './local-runner.js';
import { makeProcess } from './process.js';
import { makeCtx, makeTempDir, readText, removeDir } from './test-support.js';
import type { CommandRunner } from './types.js';

const PATH = '/usr/bin:/bin';
const INPUT = 'shared input\n';

interface Setup {
  readonly dir: string;
  readonly store: LocalStore;
  readonly runner: CommandRunner;
  dispose(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const dir = await makeTempDir();
  const store = createLocalStore({ dir: join(dir, 'store') });
  const runner = createLocalCacheRunner(createLocalRunner({ store, sandboxRoot: join(dir, 'sandboxes') }), store);
  return {
    dir,
    store,
    runner,
    dispose: async () => {
      await store.close();
      await removeDir(dir);
    },
  };
}

function reasonOf(e: unknown): string | undefined {
  return isFailureError(e) ? e.failure.reason : undefined;
}

async function run(s: Setup, script: string, inputRoot: Digest, env: Record<string, string> = {}): Promise<unknown> {
  const proc = makeProcess({ argv: ['sh', '-c', script], env: { PATH, ...env }, inputRoot, description: `sh -c ${script.slice(0, 30)}` });
  return s.runner.run(makeCtx(), proc).then(
    () => undefined,
    (e: unknown) => e,
  );
}

async function cached(s: Setup, script: string, inputRoot: Digest, env: Record<string, string> = {}): Promise<boolean> {
  const { actionDigest } = (await import('./to-action.js')).toAction(makeProcess({ argv: ['sh', '-c', script], env: { PATH, ...env }, inputRoot }));
  return (await s.store.getActionResult(actionDigest)) !== undefined;
}

describe('a process that writes to its hard-linked input', () => {
  for (const [how, script] of [
    ['appends to it', 'chmod u+w in.txt && echo poison >> in.txt'],
    ['overwrites it with bytes of the same length', 'chmod u+w in.txt && printf XXXXXX | dd of=in.txt conv=notrunc 2>/dev/null'],
    ['truncates it', 'chmod u+w in.txt && : > in.txt'],
    ['makes it executable', 'chmod +x in.txt'],
    ['appends to it and then deletes it from its sandbox', 'chmod u+w in.txt && echo poison >> in.txt && rm -f in.txt'],
  ] as const) {
    it(`${how}: fails with input-modified, caches nothing, and the blob leaves the store`, async () => {
      const s = await setup();
      try {
        const blob = digestOf(INPUT);
        const inputRoot = await treeFromBytes(s.store, [{ path: 'in.txt', content: INPUT }]);
        const e = await run(s, script, inputRoot);
        assert.equal(reasonOf(e), 'input-modified', String(e));
        assert.ok(isFailureError(e));
        assert.equal(e.failure.tag, 'environment', 'not memoized: the next run heals and tries again');
        assert.match(e.failure.message, /modified its input `in\.txt`/);
        assert.equal(await cached(s, script, inputRoot), false, 'no action cache entry');
        assert.deepEqual(await s.store.findMissing([blob]), [blob], 'the modified blob is no longer served');
        assert.equal(damageOf(s.store.dir, blob), 'modified');

        // Stored again from its source, the blob is intact for the next process.
        await s.store.put(blob, Buffer.from(INPUT));
        const r = await s.runner.run(makeCtx(), makeProcess({ argv: ['cat', 'in.txt'], env: { PATH }, inputRoot }));
        assert.equal(await readText(s.store, r.stdout), INPUT);
      } finally {
        await s.dispose();
      }
    });
  }

  it('replacing its input in its own sandbox (not writing to it) is allowed', async () => {
    const s = await setup();
    try {
      const inputRoot = await treeFromBytes(s.store, [{ path: 'in.txt', content: INPUT }]);
      assert.equal(await run(s, 'rm -f in.txt && echo other > in.txt && cat in.txt', inputRoot), undefined);
      assert.deepEqual(await s.store.findMissing([digestOf(INPUT)]), []);
    } finally {
      await s.dispose();
    }
  });

  it('a concurrent process that read the modified bytes fails too, and neither result is cached', async () => {
    const s = await setup();
    try {
      const sync = join(s.dir, 'sync');
      await mkdir(sync);
      // Two different actions whose input roots share one blob (so one inode).
      const rootA = await treeFromBytes(s.store, [{ path: 'a/shared.txt', content: INPUT }]);
      const rootB = await treeFromBytes(s.store, [{ path: 'b/shared.txt', content: INPUT }]);
      // B reads the blob once, lets A write to it, then reads it again and succeeds.
      const scriptB = 'cat b/shared.txt >/dev/null; touch "$SYNC/b-reading"; while [ ! -e "$SYNC/a-wrote" ]; do sleep 0.01; done; cat b/shared.txt';
      const scriptA = 'while [ ! -e "$SYNC/b-reading" ]; do sleep 0.01; done; chmod u+w a/shared.txt; echo poison >> a/shared.txt; touch "$SYNC/a-wrote"';
      const [eB, eA] = await Promise.all([run(s, scriptB, rootB, { SYNC: sync }), run(s, scriptA, rootA, { SYNC: sync })]);
      assert.equal(reasonOf(eA), 'input-modified', String(eA));
      assert.equal(reasonOf(eB), 'input-modified', String(eB));
      assert.equal(await cached(s, scriptA, rootA, { SYNC: sync }), false);
      assert.equal(await cached(s, scriptB, rootB, { SYNC: sync }), false, "B read A's bytes: its result must not be reused");
      assert.deepEqual(await s.store.findMissing([digestOf(INPUT)]), [digestOf(INPUT)]);
    } finally {
      await s.dispose();
    }
  });
});
