import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailureError, failure, isFailureError } from '../core/index.js';
import { World, derived } from './test-support.js';
import type { ComputeContext } from './types.js';

test('a thrown FailureError is memoized like a value', async () => {
  const w = new World({ f: 'bad' });
  const parse = derived('parse', async (ctx) => {
    const text = await ctx.get(w.file('f'));
    if (text === 'bad') throw new FailureError(failure('input', 'syntax', 'bad syntax', { location: { file: 'f', line: 1 } }));
    return text;
  });
  const top = derived('top', async (ctx) => `top:${await ctx.get(parse)}`);
  const first = await w.engine.startRun().get(top).catch((e: unknown) => e);
  assert.ok(isFailureError(first));
  assert.equal(first.failure.reason, 'syntax');
  const again = await w.engine.startRun().get(top).catch((e: unknown) => e);
  assert.equal(again, first, 'the same memoized failure');
  assert.equal(w.count('parse'), 1);
  assert.equal(w.count('top'), 1);

  w.files.set('f', 'good');
  w.engine.invalidatePaths(['f']);
  assert.equal(await w.engine.startRun().get(top), 'top:good');
});

test('an equal failure after a recompute is an early cut-off', async () => {
  const w = new World({ f: 'bad 1' });
  const parse = derived('parse', async (ctx) => {
    const text = (await ctx.get(w.file('f')))!;
    if (text.startsWith('bad')) throw new FailureError(failure('input', 'syntax', 'bad syntax'));
    return text;
  });
  const top = derived('top', async (ctx) => ctx.get(parse));
  await assert.rejects(w.engine.startRun().get(top), isFailureError);
  w.files.set('f', 'bad 2');
  w.engine.invalidatePaths(['f']);
  w.reset();
  await assert.rejects(w.engine.startRun().get(top), isFailureError);
  assert.deepEqual(w.log.sort(), ['file:f', 'parse']);
  assert.equal(w.engine.stats().revalidated, 1);
});

test('an environment FailureError is delivered but not memoized: the next run computes again', async () => {
  // A store that lost a blob, then got it back: the warm graph must not keep the failure.
  const w = new World({ f: 'src' });
  let blobPresent = false;
  const materialize = derived('materialize', async (ctx) => {
    const text = await ctx.get(w.file('f'));
    if (!blobPresent) throw new FailureError(failure('environment', 'missing-blob', 'blob gone'));
    return `built ${text}`;
  });
  // A dependent that rethrows it as a failure of its own kind is not memoized either.
  const wrapped = derived('wrapped', async (ctx) => {
    try {
      return await ctx.get(materialize);
    } catch (e) {
      if (isFailureError(e)) throw new FailureError(failure('input', 'wrapped', `wrapped: ${e.message}`));
      throw e;
    }
  });
  const top = derived('top', async (ctx) => `top:${await ctx.get(wrapped)}`);
  const first = await w.engine.startRun().get(top).catch((e: unknown) => e);
  assert.ok(isFailureError(first));
  assert.equal(first.failure.reason, 'wrapped');
  const second = await w.engine.startRun().get(top).catch((e: unknown) => e);
  assert.ok(isFailureError(second));
  assert.notEqual(second, first, 'computed again, not the memo');
  assert.equal(w.count('materialize'), 2);
  assert.equal(w.count('top'), 2);
  assert.equal(w.count('file:f'), 1, 'the file node it read is memoized as usual');

  blobPresent = true;
  w.reset();
  assert.equal(await w.engine.startRun().get(top), 'top:built src');
  assert.deepEqual(w.log.sort(), ['materialize', 'top', 'wrapped']);
  // From here on it is an ordinary memo.
  w.reset();
  assert.equal(await w.engine.startRun().get(top), 'top:built src');
  assert.deepEqual(w.log, []);
});

test('input and internal failures stay memoized', async () => {
  const w = new World();
  for (const tag of ['input', 'internal'] as const) {
    const k = derived(`fails-${tag}`, async () => {
      throw new FailureError(failure(tag, 'x', tag));
    });
    await assert.rejects(w.engine.startRun().get(k), isFailureError);
    await assert.rejects(w.engine.startRun().get(k), isFailureError);
    assert.equal(w.count(`fails-${tag}`), 1, tag);
  }
});

test('any other exception is delivered but not memoized: the next request computes again', async () => {
  const w = new World();
  let calls = 0;
  const flaky = derived('flaky', async () => {
    if (++calls === 1) throw new TypeError('transient bug');
    return calls;
  });
  const top = derived('top', async (ctx) => (await ctx.get(flaky)) * 10);
  await assert.rejects(w.engine.startRun().get(top), TypeError);
  assert.equal(await w.engine.startRun().get(top), 20);
  assert.equal(await w.engine.startRun().get(top), 20);
  assert.equal(w.count('flaky'), 2);
  assert.equal(w.count('top'), 2);
});

test('a synchronous throw from compute is handled like a rejection', async () => {
  const w = new World();
  let calls = 0;
  const k = {
    id: 'sync',
    compute: (): Promise<number> => {
      if (++calls === 1) throw new Error('sync');
      return Promise.resolve(calls);
    },
  };
  await assert.rejects(w.engine.startRun().get(k), /sync/);
  assert.equal(await w.engine.startRun().get(k), 2);
});

test('a result built on a non-memoized error is not memoized either', async () => {
  const w = new World();
  let calls = 0;
  const flaky = derived('flaky', async () => {
    if (++calls === 1) throw new Error('transient');
    return 'ok';
  });
  const tolerant = derived('tolerant', async (ctx) => {
    try {
      return await ctx.get(flaky);
    } catch {
      return 'fallback';
    }
  });
  assert.equal(await w.engine.startRun().get(tolerant), 'fallback');
  assert.equal(await w.engine.startRun().get(tolerant), 'ok', 'the fallback was not frozen into the graph');
  assert.equal(await w.engine.startRun().get(tolerant), 'ok');
  assert.equal(w.count('tolerant'), 2);
});

test('a failing dirty node keeps its old memo for cut-off and retries next time', async () => {
  const w = new World({ f: 'a' });
  let broken = false;
  const mid = derived('mid', async (ctx) => {
    const text = await ctx.get(w.file('f'));
    if (broken) throw new Error('crash');
    return text;
  });
  const top = derived('top', async (ctx) => `<${await ctx.get(mid)}>`);
  assert.equal(await w.engine.startRun().get(top), '<a>');
  broken = true;
  w.files.set('f', 'b');
  w.engine.invalidatePaths(['f']);
  await assert.rejects(w.engine.startRun().get(top), /crash/);
  broken = false;
  w.reset();
  assert.equal(await w.engine.startRun().get(top), '<b>');
  assert.deepEqual(w.log.sort(), ['mid', 'top']);
});

test('a key with a path that calls ctx.get gets an internal failure', async () => {
  const w = new World({ f: 'x' });
  const bad = {
    id: 'bad',
    path: 'g',
    compute: async (ctx: ComputeContext): Promise<unknown> => ctx.get(w.file('f')),
  };
  const e = await w.engine.startRun().get(bad).catch((x: unknown) => x);
  assert.ok(isFailureError(e));
  assert.equal(e.failure.tag, 'internal');
  assert.match(e.message, /bad.*file:f/);
  assert.equal(w.count('file:f'), 0);
});
