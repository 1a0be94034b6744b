// Several trews processes share one store (one per build root, plus the
// daemon, plus GC). This runs real child processes against one directory:
// writers putting and reading the same blobs in different orders while
// another process garbage-collects, and checks that nobody ever reads a
// wrong byte and nothing is left half-written.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { digestOf } from '../core/index.js';
import { createLocalStore } from './index.js';
import { makeTempDir, removeDir } from './test-support.js';

const BLOBS = 60;
const ROUNDS = 3;

/** The same deterministic content in parent and children. */
function content(i: number): Buffer {
  const size = i === 0 ? 1 : (i * 5039) % 300_000;
  return Buffer.alloc(size, createHash('sha256').update(`blob ${i}`).digest());
}

const CHILD = String.raw`
const { createHash } = await import('node:crypto');
const { Readable } = await import('node:stream');
const m = await import(MODULE);
const content = (i) => Buffer.alloc(i === 0 ? 1 : (i * 5039) % 300_000, createHash('sha256').update('blob ' + i).digest());
const digestOf = (b) => ({ hash: createHash('sha256').update(b).digest('hex'), sizeBytes: b.length });
if (ROLE === 'gc') {
  for (let i = 0; i < 25; i++) {
    await m.collectGarbage({ dir: DIR }, { maxSizeBytes: 3_000_000 });
    await new Promise((r) => setTimeout(r, 5));
  }
} else {
  const store = m.createLocalStore({ dir: DIR });
  const order = Array.from({ length: BLOBS }, (_, i) => i);
  let s = SEED;
  for (let i = order.length - 1; i > 0; i--) { s = (s * 1103515245 + 12345) % 2147483648; const j = s % (i + 1); [order[i], order[j]] = [order[j], order[i]]; }
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of order) {
      const data = content(i);
      const d = digestOf(data);
      await store.put(d, (i + round) % 2 === 0 ? data : Readable.from([data.subarray(0, data.length >> 1), data.subarray(data.length >> 1)]));
      const got = await store.getBytes(d);
      if (got !== undefined && !Buffer.from(got).equals(data)) { console.error('WRONG CONTENT for blob ' + i); process.exit(3); }
      const st = await store.get(d);
      if (st) {
        const chunks = [];
        for await (const c of st) chunks.push(c);
        if (!Buffer.concat(chunks).equals(data)) { console.error('WRONG STREAM for blob ' + i); process.exit(3); }
      }
    }
  }
  await store.close();
}
`;

function runChild(module: string, dir: string, role: 'writer' | 'gc', seed: number): Promise<void> {
  const code = CHILD.replaceAll('MODULE', JSON.stringify(module))
    .replaceAll('DIR', JSON.stringify(dir))
    .replaceAll('ROLE', JSON.stringify(role))
    .replaceAll('SEED', String(seed))
    .replaceAll('BLOBS', String(BLOBS))
    .replaceAll('ROUNDS', String(ROUNDS));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (status) => (status === 0 ? resolve() : reject(new Error(`${role} ${seed} exited ${status}: ${stderr}`))));
  });
}

test('concurrent processes writing, reading and collecting garbage never see a wrong or partial blob', async () => {
  const dir = await makeTempDir();
  try {
    const module = new URL('./index.js', import.meta.url).href;
    await Promise.all([
      runChild(module, dir, 'writer', 1),
      runChild(module, dir, 'writer', 2),
      runChild(module, dir, 'writer', 3),
      runChild(module, dir, 'gc', 0),
    ]);
    assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'no temp file left behind');
    const store = createLocalStore({ dir });
    const digests = Array.from({ length: BLOBS }, (_, i) => digestOf(content(i)));
    for (let i = 0; i < BLOBS; i++) {
      const got = await store.getBytes(digests[i]!);
      if (got !== undefined) assert.ok(Buffer.from(got).equals(content(i)), `blob ${i}`);
    }
    assert.equal(store.stats().corruptBlobs, 0);
    for (let i = 0; i < BLOBS; i++) await store.put(digests[i]!, content(i));
    assert.deepEqual(await store.findMissing(digests), []);
  } finally {
    await removeDir(dir);
  }
});
