import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedGenerations } from './node.js';
import { World, derived } from './test-support.js';

test('edges that all observed generation 1 share one frozen list per length; any other list is kept as it is', () => {
  const a = sharedGenerations([1, 1, 1]);
  assert.equal(sharedGenerations([1, 1, 1]), a);
  assert.deepEqual(a, [1, 1, 1]);
  assert.ok(Object.isFrozen(a));
  assert.throws(() => ((a as number[])[0] = 2), TypeError, 'a write to a shared list must fail, not change every node sharing it');
  const mixed = [1, 2, 1];
  assert.equal(sharedGenerations(mixed), mixed);
  const poisoned = [1, -1];
  assert.equal(sharedGenerations(poisoned), poisoned);
  assert.deepEqual(sharedGenerations([]), []);
});

test('attack: nodes sharing a generation list re-validate each against its own edges after an edit', async () => {
  // a and b both read x and y at generation 1, so both keep the same shared list [1, 1].
  const w = new World({ x: 'x0', y: 'y0' });
  const a = derived('a', async (ctx) => `${await ctx.get(w.file('x'))}+${await ctx.get(w.file('y'))}`);
  const b = derived('b', async (ctx) => `${await ctx.get(w.file('y'))}+${await ctx.get(w.file('x'))}`);
  const top = derived('top', async (ctx) => [await ctx.get(a), await ctx.get(b)].join(' '));
  assert.equal(await w.engine.startRun().get(top), 'x0+y0 y0+x0');
  w.reset();
  // x moves to generation 2: a and b recompute and record [2, 1] and [1, 2], which must not leak into each other.
  w.files.set('x', 'x1');
  w.engine.invalidatePaths(['x']);
  assert.equal(await w.engine.startRun().get(top), 'x1+y0 y0+x1');
  assert.deepEqual(w.log.filter((id) => id === 'a' || id === 'b').sort(), ['a', 'b']);
  w.reset();
  // A run with no change recomputes nothing: both recorded lists still match.
  assert.equal(await w.engine.startRun().get(top), 'x1+y0 y0+x1');
  assert.deepEqual(w.log, []);
  // y moves: both recompute again, each seeing the value it must.
  w.files.set('y', 'y1');
  w.engine.invalidatePaths(['y']);
  assert.equal(await w.engine.startRun().get(top), 'x1+y1 y1+x1');
  assert.deepEqual(w.log.filter((id) => id === 'a' || id === 'b').sort(), ['a', 'b']);
});
