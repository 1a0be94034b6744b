// One flipped byte in each kind of stored object — a file blob, a Directory,
// an action cache entry, an output — is treated as missing (or refused) and
// re-created, never served. Each check uses a fresh store object, as a new
// trews process would: within one process a file is verified once per
// identity, and bit rot does not move the mtime (the flips here restore it).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { open, readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { digestOf, isFailureError, type Digest } from '../core/index.js';
import { create } from '@bufbuild/protobuf';
import { DirectorySchema, digestMessage, toProtoDigest } from '../reapi/index.js';
import { createLocalStore, materializeTree, treeFromBytes, type LocalStore } from '../store/index.js';
import { createLocalCacheRunner } from './local-cache-runner.js';
import { createLocalRunner } from './local-runner.js';
import { makeProcess } from './process.js';
import { makeCtx, makeTempDir, readText, removeDir } from './test-support.js';
import { toAction } from './to-action.js';
import type { Process, ProcessResult } from './types.js';

const PATH = '/usr/bin:/bin';
const execFileP = promisify(execFile);
const FILES = [
  { path: 'in.txt', content: 'top input\n' },
  { path: 'sub/x.txt', content: 'nested input\n' },
];

function casPath(dir: string, d: Digest): string {
  return join(dir, 'cas', d.hash.slice(0, 2), d.hash);
}

function acPath(dir: string, d: Digest): string {
  return join(dir, 'ac', d.hash.slice(0, 2), `${d.hash}-${d.sizeBytes}`);
}

/** Flips one bit of one byte in place, keeping size and mtime (to the nanosecond), as bit rot would. */
async function flipByte(path: string, at = 0): Promise<void> {
  const before = await stat(path, { bigint: true });
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0x01;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
  const ns = before.mtimeNs;
  await execFileP('touch', ['-m', '-d', `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`, path]);
  assert.equal((await stat(path, { bigint: true })).mtimeNs, ns);
}

interface World {
  readonly dir: string;
  readonly storeDir: string;
  readonly inputRoot: Digest;
  readonly proc: Process;
  /** A fresh trews process: a new store object and runner stack over the same directories. */
  fresh(): { store: LocalStore; run(): Promise<ProcessResult> };
}

async function world(dir: string): Promise<World> {
  const storeDir = join(dir, 'store');
  const store = createLocalStore({ dir: storeDir });
  const inputRoot = await treeFromBytes(store, FILES);
  const proc = makeProcess({
    argv: ['sh', '-c', 'cat in.txt sub/x.txt > out.txt; mkdir d; echo made > d/y.txt; echo done'],
    env: { PATH },
    inputRoot,
    outputFiles: ['out.txt'],
    outputDirectories: ['d'],
  });
  const fresh = (): ReturnType<World['fresh']> => {
    const s = createLocalStore({ dir: storeDir });
    const runner = createLocalCacheRunner(createLocalRunner({ store: s, sandboxRoot: join(dir, 'sandboxes') }), s);
    return { store: s, run: () => runner.run(makeCtx(), proc) };
  };
  return { dir, storeDir, inputRoot, proc, fresh };
}

async function outputsOf(store: LocalStore, r: ProcessResult, dest: string): Promise<string> {
  await materializeTree(store, r.outputRoot, dest, { mode: 'copy' });
  return `${await readFile(join(dest, 'out.txt'), 'utf8')}|${await readFile(join(dest, 'd/y.txt'), 'utf8')}|${await readText(store, r.stdout)}`;
}

const EXPECTED = 'top input\nnested input\n|made\n|done\n';

describe('one flipped byte in a stored object', () => {
  it('in a file blob: findMissing reports it missing, materializing refuses it, storing it again repairs it', async () => {
    const dir = await makeTempDir();
    try {
      const w = await world(dir);
      const blob = digestOf(FILES[0]!.content);
      await flipByte(casPath(w.storeDir, blob));
      const { store } = w.fresh();
      assert.deepEqual(await store.findMissing([blob]), [blob]);
      // What a snapshot does next: store it again, since findMissing said it is missing.
      await treeFromBytes(store, FILES);
      await flipByte(casPath(w.storeDir, digestOf(FILES[1]!.content)), 3);
      const e = await materializeTree(w.fresh().store, w.inputRoot, join(dir, 'm'), { mode: 'hardlink' }).catch((x: unknown) => x);
      assert.ok(isFailureError(e) && e.failure.reason === 'missing-blob', String(e));
      assert.match(e.failure.message, /sub\/x\.txt.*was found damaged in the local store and deleted/);
      assert.doesNotMatch(e.failure.hints?.join('\n') ?? '', /garbage collection/);
      // The next run's snapshot stores the files again; then the process runs on intact inputs.
      await treeFromBytes(w.fresh().store, FILES);
      const again = w.fresh();
      assert.equal(await outputsOf(again.store, await again.run(), join(dir, 'out')), EXPECTED);
    } finally {
      await removeDir(dir);
    }
  });

  it('in a Directory: reading it is a miss, materializing fails, and putting the tree again repairs it', async () => {
    const dir = await makeTempDir();
    try {
      const w = await world(dir);
      const sub = digestMessage(DirectorySchema, create(DirectorySchema, { files: [{ name: 'x.txt', digest: toProtoDigest(digestOf(FILES[1]!.content)) }] })).digest;
      await flipByte(casPath(w.storeDir, sub), 4);
      const first = w.fresh().store;
      assert.equal(await first.getBytes(sub), undefined);
      const e = await materializeTree(w.fresh().store, w.inputRoot, join(dir, 'm'), { mode: 'hardlink' }).catch((x: unknown) => x);
      assert.ok(isFailureError(e) && e.failure.reason === 'missing-blob', String(e));
      const repairer = w.fresh().store;
      assert.deepEqual(await treeFromBytes(repairer, FILES), w.inputRoot);
      assert.deepEqual(await w.fresh().store.findMissing([sub]), []);
      const again = w.fresh();
      assert.equal(await outputsOf(again.store, await again.run(), join(dir, 'out')), EXPECTED);
    } finally {
      await removeDir(dir);
    }
  });

  it('in an action cache entry: a miss, the process runs again and the entry is written anew', async () => {
    const dir = await makeTempDir();
    try {
      const w = await world(dir);
      assert.equal((await w.fresh().run()).source, 'ran locally');
      assert.equal((await w.fresh().run()).source, 'local cache');
      const { actionDigest } = toAction(w.proc);
      // Byte 20 is inside the checksum-framed payload.
      await flipByte(acPath(w.storeDir, actionDigest), 20);
      const s = w.fresh();
      assert.equal(await s.store.getActionResult(actionDigest), undefined);
      const r = await s.run();
      assert.equal(r.source, 'ran locally');
      assert.equal(await outputsOf(s.store, r, join(dir, 'out')), EXPECTED);
      assert.equal((await w.fresh().run()).source, 'local cache');
    } finally {
      await removeDir(dir);
    }
  });

  it('in an output: the cached result is a miss, the process runs again and stores the output anew', async () => {
    const dir = await makeTempDir();
    try {
      const w = await world(dir);
      const first = await w.fresh().run();
      const out = digestOf('top input\nnested input\n');
      const nested = digestOf('made\n');
      for (const [blob, at] of [
        [out, 5],
        [nested, 1],
      ] as const) {
        await flipByte(casPath(w.storeDir, blob), at);
        const s = w.fresh();
        assert.equal(await s.store.getActionResult(toAction(w.proc).actionDigest), undefined, 'an entry whose output is damaged is a miss');
        const r = await s.run();
        assert.equal(r.source, 'ran locally');
        assert.deepEqual(r.outputRoot, first.outputRoot);
        assert.equal(await outputsOf(w.fresh().store, r, join(dir, `out-${at}`)), EXPECTED);
      }
      assert.equal((await w.fresh().run()).source, 'local cache');
    } finally {
      await removeDir(dir);
    }
  });
});
