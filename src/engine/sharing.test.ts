import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventEmitter } from 'node:events';
import { isAbortError } from '../core/index.js';
import { World, deferred, derived, settle } from './test-support.js';
import type { Key } from './types.js';

/** A key whose compute waits for `gate`, recording the signal it was given. */
function gated<V>(id: string, value: V, gate: Promise<unknown>, signals: AbortSignal[] = []): Key<V> {
  return derived(id, async (_ctx, signal) => {
    signals.push(signal);
    await gate;
    return value;
  });
}

test('concurrent gets of one key share one computation, across runs and computations', async () => {
  const w = new World();
  const gate = deferred();
  const shared = gated('shared', 42, gate.promise);
  const viaA = derived('viaA', async (ctx) => (await ctx.get(shared)) + 1);
  const viaB = derived('viaB', async (ctx) => (await ctx.get(shared)) + 2);
  const run1 = w.engine.startRun();
  const run2 = w.engine.startRun();
  const all = Promise.all([run1.get(shared), run1.get(shared), run2.get(shared), run1.get(viaA), run2.get(viaB)]);
  await settle();
  gate.resolve();
  assert.deepEqual(await all, [42, 42, 42, 43, 44]);
  assert.equal(w.count('shared'), 1);
});

test("cancelling one run rejects its gets promptly but another run's shared work goes on", async () => {
  const w = new World();
  const gate = deferred();
  const signals: AbortSignal[] = [];
  const slow = gated('slow', 'done', gate.promise, signals);
  const c1 = new AbortController();
  const run1 = w.engine.startRun({ signal: c1.signal });
  const run2 = w.engine.startRun();
  const p1 = run1.get(slow);
  const p2 = run2.get(slow);
  await settle();
  c1.abort();
  // Rejected without the computation finishing.
  await assert.rejects(p1, (e) => isAbortError(e));
  assert.equal(signals.length, 1);
  assert.equal(signals[0]!.aborted, false, 'run2 still waits, so the computation goes on');
  gate.resolve();
  assert.equal(await p2, 'done');
  assert.equal(w.count('slow'), 1);
  await assert.rejects(run1.get(slow), (e) => isAbortError(e), 'a cancelled run answers nothing more');
});

test('a computation nobody waits for any more is aborted, not memoized, and recomputed cleanly later', async () => {
  const w = new World();
  const gate = deferred();
  const signals: AbortSignal[] = [];
  let calls = 0;
  const leaf = derived('leaf', async (_ctx, signal) => {
    signals.push(signal);
    const n = ++calls;
    // The first call ignores its signal and finishes anyway, late: its value must be discarded.
    if (n === 1) await gate.promise;
    return `leaf#${n}`;
  });
  const top = derived('top', async (ctx) => `top(${await ctx.get(leaf)})`);
  const c = new AbortController();
  const run1 = w.engine.startRun({ signal: c.signal });
  const p1 = run1.get(top);
  await settle();
  assert.deepEqual(w.log, ['top', 'leaf']);
  c.abort();
  await assert.rejects(p1, (e) => isAbortError(e));
  assert.equal(signals[0]!.aborted, true, 'the abandoned computation is told to stop');
  assert.equal(isAbortError(signals[0]!.reason), true);
  assert.equal(w.engine.stats().nodes, 2);

  const p2 = w.engine.startRun().get(top);
  assert.equal(await p2, 'top(leaf#2)');
  gate.resolve();
  await settle();
  assert.equal(await w.engine.startRun().get(top), 'top(leaf#2)', 'the late result of the aborted call is not memoized');
  assert.equal(w.count('leaf'), 2);
  assert.equal(w.count('top'), 2);
});

test('an aborted computation whose compute rejects with AbortError does not poison a later request', async () => {
  const w = new World();
  let calls = 0;
  const gate = deferred();
  const k = derived('k', async (_ctx, signal) => {
    calls++;
    if (calls === 1) {
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }
    await gate.promise;
    return calls;
  });
  const c = new AbortController();
  const p1 = w.engine.startRun({ signal: c.signal }).get(k);
  await settle();
  c.abort();
  await assert.rejects(p1, (e) => isAbortError(e));
  await settle();
  const p2 = w.engine.startRun().get(k);
  gate.resolve();
  assert.equal(await p2, 2);
});

test('cancellation reaches dependencies only nobody else needs', async () => {
  const w = new World();
  const gate = deferred();
  const sharedSignals: AbortSignal[] = [];
  const privateSignals: AbortSignal[] = [];
  const shared = gated('shared', 's', gate.promise, sharedSignals);
  const priv = gated('private', 'p', gate.promise, privateSignals);
  const top1 = derived('top1', async (ctx) => (await ctx.getAll([shared, priv])).join(''));
  const top2 = derived('top2', async (ctx) => `${await ctx.get(shared)}2`);
  const c = new AbortController();
  const p1 = w.engine.startRun({ signal: c.signal }).get(top1);
  const p2 = w.engine.startRun().get(top2);
  await settle();
  c.abort();
  await assert.rejects(p1, (e) => isAbortError(e));
  assert.equal(privateSignals[0]!.aborted, true);
  assert.equal(sharedSignals[0]!.aborted, false);
  gate.resolve();
  assert.equal(await p2, 's2');
  assert.equal(w.count('shared'), 1);
});

test('a run cancelled before it asks rejects at once; an unrelated run is unaffected', async () => {
  const w = new World();
  const k = derived('k', async () => 1);
  const c = new AbortController();
  c.abort();
  const run = w.engine.startRun({ signal: c.signal });
  await assert.rejects(run.get(k), (e) => isAbortError(e));
  await assert.rejects(run.getAll([k]), (e) => isAbortError(e));
  assert.equal(w.engine.stats().computes, 0);
  assert.equal(await w.engine.startRun().get(k), 1);
});

test('a cancelled cold chain leaves every node recomputable', async () => {
  const w = new World();
  const gate = deferred();
  const depth = 2_000;
  const keys: Key<number>[] = [];
  keys.push(derived('c0', async () => {
    await gate.promise;
    return 0;
  }));
  for (let i = 1; i < depth; i++) {
    const prev = keys[i - 1]!;
    keys.push(derived(`c${i}`, async (ctx) => (await ctx.get(prev)) + 1));
  }
  const c = new AbortController();
  const p = w.engine.startRun({ signal: c.signal }).get(keys[depth - 1]!);
  await settle();
  assert.equal(w.log.length, depth);
  c.abort();
  await assert.rejects(p, (e) => isAbortError(e));
  gate.resolve();
  await settle();
  w.reset();
  assert.equal(await w.engine.startRun().get(keys[depth - 1]!), depth - 1);
  assert.equal(w.log.length, depth, 'nothing from the aborted attempt was memoized');
});

test('requests a compute made and stopped waiting for are released when it finishes', async () => {
  const w = new World();
  const gate = deferred();
  const signals: AbortSignal[] = [];
  const slow = gated('slow', 'late', gate.promise, signals);
  const failing = derived('failing', async () => {
    throw new Error('boom');
  });
  const top = derived('top', async (ctx) => {
    try {
      await ctx.getAll<unknown>([slow, failing]);
      return 'all';
    } catch {
      return 'partial';
    }
  });
  assert.equal(await w.engine.startRun().get(top), 'partial');
  assert.equal(signals[0]!.aborted, true, 'nobody waits for slow any more');
  gate.resolve();
});

test('runs sharing one long-lived signal do not accumulate abort listeners', async () => {
  const w = new World();
  const daemon = new AbortController();
  let n = 0;
  for (let i = 0; i < 50; i++) {
    const run = w.engine.startRun({ signal: daemon.signal });
    assert.equal(await run.get(derived(`k${i}`, async () => ++n)), i + 1);
  }
  assert.equal(EventEmitter.getEventListeners(daemon.signal, 'abort').length, 0);
  // While a get is pending, cancellation still works.
  const gate = deferred();
  const run = w.engine.startRun({ signal: daemon.signal });
  const p = run.get(gated('slow', 1, gate.promise));
  assert.equal(EventEmitter.getEventListeners(daemon.signal, 'abort').length, 1);
  daemon.abort();
  await assert.rejects(p, (e) => isAbortError(e));
  gate.resolve();
});
