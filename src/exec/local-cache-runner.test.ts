import assert from 'node:assert/strict';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { digestString, type Digest } from '../core/index.js';
import { createLocalStore, treeFromBytes, type LocalStore } from '../store/index.js';
import { commandRunnerContract } from './command-runner-contract.js';
import { createLocalCacheRunner } from './local-cache-runner.js';
import { createLocalRunner } from './local-runner.js';
import { makeProcess, type ProcessInit } from './process.js';
import { RecordingObserver, listTree, makeCtx, makeTempDir, readText, removeDir } from './test-support.js';
import { toAction } from './to-action.js';
import type { CommandRunner, Process, ProcessResult } from './types.js';

const PATH = '/usr/bin:/bin';

interface Setup {
  readonly runner: CommandRunner;
  readonly store: LocalStore;
  readonly storeDir: string;
  readonly sandboxRoot: string;
  readonly dir: string;
  dispose(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const dir = await makeTempDir();
  const storeDir = join(dir, 'store');
  const store = createLocalStore({ dir: storeDir });
  const sandboxRoot = join(dir, 'sandboxes');
  const runner = createLocalCacheRunner(createLocalRunner({ store, sandboxRoot }), store);
  return {
    runner,
    store,
    storeDir,
    sandboxRoot,
    dir,
    dispose: async () => {
      await store.close();
      await removeDir(dir);
    },
  };
}

commandRunnerContract('local cache runner over the local runner', () => setup());

/** A process that counts its executions in a file outside the sandbox (the path is part of its env, so of its key). */
function counting(s: Setup, script: string, init: Omit<ProcessInit, 'argv'> = {}): Process {
  return makeProcess({ ...init, argv: ['sh', '-c', `echo ran >> "$COUNT"; ${script}`], env: { PATH, COUNT: join(s.dir, 'count'), ...(init.env ?? {}) } });
}

async function runs(s: Setup): Promise<number> {
  return (await readFile(join(s.dir, 'count'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
}

function casPath(s: Setup, d: Digest): string {
  return join(s.storeDir, 'cas', d.hash.slice(0, 2), d.hash);
}

/** Overwrites a stored blob with different bytes of the same size: only hashing can tell. */
async function corrupt(s: Setup, d: Digest): Promise<void> {
  const p = casPath(s, d);
  const bytes = await readFile(p);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] ?? 0) ^ 0xff;
  await chmod(p, 0o644);
  await writeFile(p, bytes);
}

function sameOutputs(a: ProcessResult, b: ProcessResult): void {
  assert.equal(a.exitCode, b.exitCode);
  assert.equal(digestString(a.stdout), digestString(b.stdout));
  assert.equal(digestString(a.stderr), digestString(b.stderr));
  assert.equal(digestString(a.outputRoot), digestString(b.outputRoot));
  assert.equal(digestString(a.actionDigest), digestString(b.actionDigest));
}

const PRODUCE = 'mkdir -p d/sub && echo file > f.txt && echo nested > d/sub/n.txt && printf "#!/bin/sh\\n" > d/x && chmod +x d/x; echo out; echo err >&2';

test('a second run is served from the local cache with identical outputs', async () => {
  const s = await setup();
  try {
    const p = counting(s, PRODUCE, { outputFiles: ['f.txt'], outputDirectories: ['d'] });
    const observer = new RecordingObserver();
    const first = await s.runner.run(makeCtx({ observer }), p);
    assert.equal(first.source, 'ran locally');
    const second = await s.runner.run(makeCtx({ observer }), p);
    assert.equal(second.source, 'local cache');
    assert.equal(await runs(s), 1);
    sameOutputs(first, second);
    assert.equal(second.timedOut, false);
    assert.equal(second.executionMs, first.executionMs, 'the execution time recorded back then');
    assert.deepEqual([...(await listTree(s.store, second.outputRoot)).keys()].sort(), ['d', 'd/sub', 'd/sub/n.txt', 'd/x', 'f.txt']);
    assert.equal(await readText(s.store, second.stdout), 'out\n');
    assert.deepEqual(observer.results.map((r) => r.source), ['ran locally', 'local cache']);
    // A fresh store object over the same directory (a new trews process) hits too.
    const store2 = createLocalStore({ dir: s.storeDir });
    const again = createLocalCacheRunner(createLocalRunner({ store: store2, sandboxRoot: s.sandboxRoot }), store2);
    assert.equal((await again.run(makeCtx(), p)).source, 'local cache');
    await store2.close();
  } finally {
    await s.dispose();
  }
});

test('scope successful does not cache failures; always does', async () => {
  const s = await setup();
  try {
    const failing = counting(s, 'exit 3');
    assert.equal((await s.runner.run(makeCtx(), failing)).exitCode, 3);
    assert.equal((await s.runner.run(makeCtx(), failing)).source, 'ran locally');
    assert.equal(await runs(s), 2);

    const always = counting(s, 'exit 3', { cacheScope: 'always' });
    assert.equal(toAction(always).actionDigest.hash, toAction(failing).actionDigest.hash, 'same action, different policy');
    assert.equal((await s.runner.run(makeCtx(), always)).source, 'ran locally');
    const hit = await s.runner.run(makeCtx(), always);
    assert.equal(hit.source, 'local cache');
    assert.equal(hit.exitCode, 3);
    assert.equal(await runs(s), 3);
    // The failure an `always` process stored is not served to a `successful` one.
    assert.equal((await s.runner.run(makeCtx(), failing)).source, 'ran locally');
    assert.equal(await runs(s), 4);
  } finally {
    await s.dispose();
  }
});

test('scopes never and per-run are neither looked up nor stored', async () => {
  const s = await setup();
  try {
    for (const cacheScope of ['never', 'per-run'] as const) {
      const p = counting(s, 'true', { cacheScope });
      for (let i = 0; i < 2; i++) assert.equal((await s.runner.run(makeCtx(), p)).source, 'ran locally');
      assert.equal(await s.store.getActionResult(toAction(p).actionDigest), undefined);
    }
    assert.equal(await runs(s), 4);
  } finally {
    await s.dispose();
  }
});

test('a timed-out result is never cached, even with scope always', async () => {
  const s = await setup();
  try {
    const p = counting(s, 'sleep 30', { cacheScope: 'always', timeoutMs: 200 });
    assert.equal((await s.runner.run(makeCtx(), p)).timedOut, true);
    assert.equal((await s.runner.run(makeCtx(), p)).source, 'ran locally');
    assert.equal(await runs(s), 2);
  } finally {
    await s.dispose();
  }
});

test('a changed input, env, argv or platform is a different action and a miss', async () => {
  const s = await setup();
  try {
    const rootA = await treeFromBytes(s.store, [{ path: 'in.txt', content: 'a' }]);
    const rootB = await treeFromBytes(s.store, [{ path: 'in.txt', content: 'b' }]);
    const base: Omit<ProcessInit, 'argv'> = { inputRoot: rootA };
    const variants = [
      counting(s, 'cat in.txt', base),
      counting(s, 'cat in.txt', { ...base, inputRoot: rootB }),
      counting(s, 'cat in.txt', { ...base, env: { EXTRA: '1' } }),
      counting(s, 'cat in.txt; true', base),
      counting(s, 'cat in.txt', { ...base, platform: [{ name: 'OSFamily', value: 'linux' }] }),
    ];
    const digests = new Set(variants.map((p) => digestString(toAction(p).actionDigest)));
    assert.equal(digests.size, variants.length);
    for (const p of variants) assert.equal((await s.runner.run(makeCtx(), p)).source, 'ran locally');
    for (const p of variants) assert.equal((await s.runner.run(makeCtx(), p)).source, 'local cache');
    assert.equal(await runs(s), variants.length);
  } finally {
    await s.dispose();
  }
});

test('a corrupted or missing output blob makes the entry a miss, and the process runs again', async () => {
  const s = await setup();
  try {
    const p = counting(s, PRODUCE, { outputFiles: ['f.txt'], outputDirectories: ['d'] });
    const first = await s.runner.run(makeCtx(), p);
    const tree = await listTree(s.store, first.outputRoot);
    const file = (path: string): Digest => {
      const e = tree.get(path);
      assert.ok(e?.kind === 'file');
      return e.digest;
    };
    const damages: [string, () => Promise<void>][] = [
      ['an output file', () => corrupt(s, file('f.txt'))],
      ['a file inside an output directory', () => corrupt(s, file('d/sub/n.txt'))],
      ['stdout', () => corrupt(s, first.stdout)],
      ['a deleted output file', () => rm(casPath(s, file('f.txt')), { force: true })],
    ];
    let expectedRuns = 1;
    for (const [what, damage] of damages) {
      assert.equal((await s.runner.run(makeCtx(), p)).source, 'local cache', `before damaging ${what}`);
      await damage();
      const rerun = await s.runner.run(makeCtx(), p);
      expectedRuns++;
      assert.equal(rerun.source, 'ran locally', `after damaging ${what}`);
      assert.equal(await runs(s), expectedRuns);
      sameOutputs(first, rerun);
      // The re-run put good blobs back.
      assert.equal(await readText(s.store, file('f.txt')), 'file\n');
    }
    assert.equal((await s.runner.run(makeCtx(), p)).source, 'local cache');
  } finally {
    await s.dispose();
  }
});
