import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAbortError } from '../../core/index.js';
import { WorkerPool } from './worker-pool.js';

describe('WorkerPool', () => {
  it('runs at most `size` jobs at once, then lower priority first, then in order', async () => {
    const pool = new WorkerPool(1);
    const order: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const signal = new AbortController().signal;
    const first = pool.run(0, signal, async (w) => {
      order.push(`first@${w}`);
      await gate;
    });
    const jobs = [
      pool.run(5, signal, async () => void order.push('p5')),
      pool.run(0, signal, async () => void order.push('p0-a')),
      pool.run(-1, signal, async () => void order.push('p-1')),
      pool.run(0, signal, async () => void order.push('p0-b')),
    ];
    assert.deepEqual([pool.running, pool.queued], [1, 4]);
    release();
    await Promise.all([first, ...jobs]);
    assert.deepEqual(order, ['first@1', 'p-1', 'p0-a', 'p0-b', 'p5']);
    assert.deepEqual([pool.running, pool.queued], [0, 0]);
  });

  it('drops a queued job whose signal aborts, with an AbortError', async () => {
    const pool = new WorkerPool(1);
    let release: () => void = () => {};
    const busy = pool.run(0, new AbortController().signal, () => new Promise<void>((r) => (release = r)));
    const ac = new AbortController();
    let ran = false;
    const queued = pool.run(0, ac.signal, async () => void (ran = true));
    ac.abort();
    await assert.rejects(queued, (e) => isAbortError(e));
    assert.equal(pool.queued, 0);
    release();
    await busy;
    assert.equal(ran, false);
  });
});
