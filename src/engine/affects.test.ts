import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, derived } from './test-support.js';
import type { Key } from './types.js';

/** Two packages, each parsed from its BUILD file, and a query over both. */
function world(): { w: World; parse: (dir: string) => Key<string[]>; all: Key<string[]> } {
  const w = new World({ 'a/BUILD': 'a1', 'b/BUILD': 'b1', 'c/BUILD': 'c1' });
  const parse = (dir: string): Key<string[]> =>
    derived(`parse:${dir}`, async (ctx) => ((await ctx.get(w.file(`${dir}/BUILD`))) ?? '').split(/\s+/).filter(Boolean));
  const all = derived('all', async (ctx) => (await ctx.getAll([parse('a'), parse('b')])).flat());
  return { w, parse, all };
}

test('a change to an input of the run affects it; a change elsewhere does not', async () => {
  const { w, all } = world();
  const run = w.engine.startRun();
  await run.get(all);
  assert.equal(w.engine.affects(run, ['a/BUILD']), true);
  assert.equal(w.engine.affects(run, ['./b/BUILD']), true, 'paths are normalized as invalidatePaths does');
  assert.equal(w.engine.affects(run, ['c/BUILD']), false, 'no node reads c/BUILD');
  assert.equal(w.engine.affects(run, ['a']), true, 'a removed directory reaches what is inside it');
  assert.equal(w.engine.affects(run, ['../outside', '/abs']), false);
  assert.equal(w.engine.affects(run, []), false);
});

test('only what this run requested counts, not what other runs of the same engine read', async () => {
  const { w, parse, all } = world();
  const other = w.engine.startRun();
  await other.get(parse('c'));
  const run = w.engine.startRun();
  await run.get(all);
  assert.equal(w.engine.affects(run, ['c/BUILD']), false);
  assert.equal(w.engine.affects(other, ['c/BUILD']), true);
  assert.equal(w.engine.affects(other, ['a/BUILD']), false);
});

test('a new file in a directory the run listed affects it through the listing', async () => {
  const w = new World({ 'd/x': '1' });
  const run = w.engine.startRun();
  await run.get(w.listing('d'));
  assert.equal(w.engine.affects(run, ['d/new']), true);
  assert.equal(w.engine.affects(run, ['e/new']), false);
});

test('a memoized failure keeps its inputs, so a fix to them affects the run', async () => {
  const w = new World({ 'bad/BUILD': 'oops' });
  const { FailureError, failure } = await import('../core/index.js');
  const parse = derived('parse:bad', async (ctx) => {
    const text = await ctx.get(w.file('bad/BUILD'));
    if (text === 'oops') throw new FailureError(failure('input', 'syntax', 'bad'));
    return text;
  });
  const run = w.engine.startRun();
  await assert.rejects(run.get(parse));
  assert.equal(w.engine.affects(run, ['bad/BUILD']), true);
});

test('the answer is read-only: nothing is invalidated by asking', async () => {
  const { w, all } = world();
  const run = w.engine.startRun();
  await run.get(all);
  w.reset();
  assert.equal(w.engine.affects(run, ['a/BUILD']), true);
  assert.equal(w.engine.hasPendingInvalidations(), false);
  await w.engine.startRun().get(all);
  assert.deepEqual(w.log, []);
});
