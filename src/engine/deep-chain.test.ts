import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, derived } from './test-support.js';
import type { Key } from './types.js';

const DEPTH = 50_000;

test('a chain of 50,000 nodes computes, re-validates and recomputes without overflowing the stack', async () => {
  const w = new World({ seed: '1' });
  const chain: Key<number>[] = [derived('n0', async (ctx) => Number(await ctx.get(w.file('seed'))))];
  for (let i = 1; i < DEPTH; i++) {
    const prev = chain[i - 1]!;
    chain.push(derived(`n${i}`, async (ctx) => (await ctx.get(prev)) + 1));
  }
  const top = chain[DEPTH - 1]!;

  assert.equal(await w.engine.startRun().get(top), DEPTH);
  assert.equal(w.engine.stats().computes, DEPTH + 1);

  // Same content: the file recomputes, every node above re-validates without computing.
  w.engine.invalidatePaths(['seed']);
  w.reset();
  assert.equal(await w.engine.startRun().get(top), DEPTH);
  assert.deepEqual(w.log, ['file:seed']);
  assert.equal(w.engine.stats().revalidated, DEPTH);

  // New content: everything recomputes, bottom-up through re-validation.
  w.files.set('seed', '2');
  w.engine.invalidatePaths(['seed']);
  w.reset();
  assert.equal(await w.engine.startRun().get(top), DEPTH + 1);
  assert.equal(w.log.length, DEPTH + 1);
  assert.equal(w.engine.stats().dirty, 0);
});
