import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAbortError } from '../core/index.js';
import { createLocalStore } from '../store/index.js';
import { createBoundedRunner, type BoundedRunner } from './bounded-runner.js';
import { commandRunnerContract } from './command-runner-contract.js';
import { createLocalRunner } from './local-runner.js';
import { makeProcess } from './process.js';
import { RecordingObserver, eventually, makeCtx, makeTempDir, removeDir } from './test-support.js';

const PATH = '/usr/bin:/bin';

async function setup(limit: number): Promise<{ runner: BoundedRunner; dir: string; dispose(): Promise<void> } & { store: ReturnType<typeof createLocalStore>; sandboxRoot: string }> {
  const dir = await makeTempDir();
  const store = createLocalStore({ dir: join(dir, 'store') });
  const sandboxRoot = join(dir, 'sandboxes');
  const runner = createBoundedRunner(createLocalRunner({ store, sandboxRoot }), limit);
  return {
    runner,
    store,
    sandboxRoot,
    dir,
    dispose: async () => {
      await store.close();
      await removeDir(dir);
    },
  };
}

commandRunnerContract('bounded runner (limit 2) over the local runner', () => setup(2));

/** A process that appends `s <id> <ns>` and `e <id> <ns>` stamps to a shared file around a sleep. */
function stamping(file: string, id: string, sleepS: number): ReturnType<typeof makeProcess> {
  return makeProcess({
    argv: ['sh', '-c', `echo "s ${id} $(date +%s%N)" >> "$F"; sleep ${sleepS}; echo "e ${id} $(date +%s%N)" >> "$F"`],
    env: { PATH, F: file },
    description: `stamp ${id}`,
  });
}

async function stamps(file: string): Promise<{ kind: string; id: string; t: bigint }[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [kind = '', id = '', t = '0'] = l.split(' ');
      return { kind, id, t: BigInt(t) };
    });
}

test('never more than N processes run at once, and N do run together', async () => {
  const s = await setup(2);
  try {
    const file = join(s.dir, 'stamps');
    const ctx = makeCtx();
    await Promise.all(Array.from({ length: 7 }, (_, i) => s.runner.run(ctx, stamping(file, String(i), 0.4))));
    const events = (await stamps(file)).sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.kind === 'e' ? -1 : 1));
    assert.equal(events.length, 14);
    let running = 0;
    let peak = 0;
    for (const e of events) {
      running += e.kind === 's' ? 1 : -1;
      peak = Math.max(peak, running);
    }
    assert.equal(peak, 2, `peak concurrency was ${peak}`);
    assert.equal(s.runner.active, 0);
    assert.equal(s.runner.queued, 0);
  } finally {
    await s.dispose();
  }
});

test('requests are admitted in arrival order', async () => {
  const s = await setup(1);
  try {
    const file = join(s.dir, 'stamps');
    const ctx = makeCtx();
    await Promise.all(['a', 'b', 'c', 'd'].map((id) => s.runner.run(ctx, stamping(file, id, 0.02))));
    assert.deepEqual((await stamps(file)).filter((e) => e.kind === 's').map((e) => e.id), ['a', 'b', 'c', 'd']);
  } finally {
    await s.dispose();
  }
});

test('a request cancelled while queued leaves the queue at once and never starts', async () => {
  const s = await setup(1);
  try {
    const file = join(s.dir, 'stamps');
    const observer = new RecordingObserver();
    const first = new AbortController();
    const a = s.runner.run(makeCtx({ signal: first.signal, observer }), stamping(file, 'a', 60));
    await eventually(async () => (await stamps(file).catch(() => [])).length === 1, 5000, 'a to start');
    const second = new AbortController();
    const b = s.runner.run(makeCtx({ signal: second.signal, observer }), stamping(file, 'b', 0));
    const c = s.runner.run(makeCtx({ observer }), stamping(file, 'c', 0));
    assert.equal(s.runner.queued, 2);
    // Queued requests are not shown as running.
    assert.equal(observer.events.filter((e) => e.startsWith('started')).length, 1);
    second.abort();
    await assert.rejects(b, (e: unknown) => isAbortError(e));
    assert.equal(s.runner.queued, 1);
    first.abort();
    await assert.rejects(a, (e: unknown) => isAbortError(e));
    await c;
    assert.deepEqual((await stamps(file)).filter((e) => e.kind === 's').map((e) => e.id), ['a', 'c']);
    assert.equal(s.runner.active, 0);
    // Every request is reported as started and finished, in that order.
    assert.equal(observer.events.length, 6);
    for (const r of observer.results) assert.ok(observer.events.indexOf(`started ${r.id}`) < observer.events.indexOf(`finished ${r.id}`));
  } finally {
    await s.dispose();
  }
});

test('the limit must be a whole number of at least 1', () => {
  assert.throws(() => createBoundedRunner({ run: () => Promise.reject(new Error('unused')) }, 0));
  assert.throws(() => createBoundedRunner({ run: () => Promise.reject(new Error('unused')) }, 1.5));
});
