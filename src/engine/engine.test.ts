import assert from 'node:assert/strict';
import { test } from 'node:test';
import { World, derived } from './test-support.js';
import type { Key } from './types.js';

/**
 * Two "packages" a and b, each with a BUILD file parsed into targets, and a
 * top-level node collecting every target: the shape goals query.
 */
function twoPackages(): { w: World; parse: (dir: string) => Key<string[]>; all: Key<string[]> } {
  const w = new World({ 'a/BUILD': 'a1 a2 # comment', 'b/BUILD': 'b1' });
  const parse = (dir: string): Key<string[]> =>
    derived(`parse:${dir}`, async (ctx) => {
      const text = (await ctx.get(w.file(`${dir}/BUILD`))) ?? '';
      return text.replace(/#.*$/, '').split(/\s+/).filter(Boolean);
    });
  const all = derived('all', async (ctx) => (await ctx.getAll([parse('a'), parse('b')])).flat());
  return { w, parse, all };
}

test('a second run serves every node from the memo without computing', async () => {
  const { w, all } = twoPackages();
  assert.deepEqual(await w.engine.startRun().get(all), ['a1', 'a2', 'b1']);
  assert.equal(w.log.length, 5);
  w.reset();
  assert.deepEqual(await w.engine.startRun().get(all), ['a1', 'a2', 'b1']);
  assert.deepEqual(w.log, []);
  assert.equal(w.engine.stats().computes, 5);
  assert.equal(w.engine.stats().nodes, 5);
});

test('only the nodes above a changed file recompute', async () => {
  const { w, all } = twoPackages();
  await w.engine.startRun().get(all);
  w.reset();
  w.files.set('a/BUILD', 'a1 a3');
  w.engine.invalidatePaths(['a/BUILD']);
  assert.deepEqual(await w.engine.startRun().get(all), ['a1', 'a3', 'b1']);
  assert.deepEqual(w.log.sort(), ['all', 'file:a/BUILD', 'parse:a']);
});

test('early cut-off: a file changed and changed back recomputes only the file', async () => {
  const { w, all } = twoPackages();
  await w.engine.startRun().get(all);
  w.reset();
  w.files.set('a/BUILD', 'zzz');
  w.files.set('a/BUILD', 'a1 a2 # comment');
  w.engine.invalidatePaths(['a/BUILD']);
  assert.deepEqual(await w.engine.startRun().get(all), ['a1', 'a2', 'b1']);
  assert.deepEqual(w.log, ['file:a/BUILD']);
  const s = w.engine.stats();
  assert.equal(s.revalidated, 2, 'parse:a and all re-validated without computing');
  assert.equal(s.dirty, 0);
});

test('early cut-off: a middle node whose value did not change stops propagation', async () => {
  const { w, all } = twoPackages();
  await w.engine.startRun().get(all);
  w.reset();
  w.files.set('a/BUILD', 'a1   a2 # another comment');
  w.engine.invalidatePaths(['a/BUILD']);
  assert.deepEqual(await w.engine.startRun().get(all), ['a1', 'a2', 'b1']);
  assert.deepEqual(w.log.sort(), ['file:a/BUILD', 'parse:a'], '`all` must not recompute');
  assert.equal(w.engine.stats().revalidated, 1);
});

test('a dirty node whose dependents nobody asks for stays dirty until asked', async () => {
  const { w, all, parse } = twoPackages();
  await w.engine.startRun().get(all);
  w.files.set('a/BUILD', 'a9');
  w.engine.invalidatePaths(['a/BUILD']);
  const run = w.engine.startRun();
  assert.equal(w.engine.stats().dirty, 3, 'file, parse:a and all are dirty');
  assert.deepEqual(await run.get(parse('a')), ['a9']);
  assert.equal(w.engine.stats().dirty, 1, 'only `all` is still dirty');
  w.reset();
  assert.deepEqual(await run.get(all), ['a9', 'b1']);
  assert.deepEqual(w.log, ['all']);
  assert.equal(w.engine.stats().dirty, 0);
});

test('edges are replaced on recompute: a dependency no longer read no longer invalidates', async () => {
  const w = new World({ mode: 'x', x: '1', y: '2' });
  const pick = derived('pick', async (ctx) => {
    const mode = await ctx.get(w.file('mode'));
    return ctx.get(w.file(mode === 'x' ? 'x' : 'y'));
  });
  assert.equal(await w.engine.startRun().get(pick), '1');
  w.files.set('mode', 'y');
  w.engine.invalidatePaths(['mode']);
  assert.equal(await w.engine.startRun().get(pick), '2');
  w.reset();
  w.files.set('x', 'changed');
  w.engine.invalidatePaths(['x']);
  const run = w.engine.startRun();
  assert.equal(w.engine.stats().dirty, 1, 'only file:x is dirty; pick no longer depends on it');
  assert.equal(await run.get(pick), '2');
  assert.deepEqual(w.log, []);
});

test('re-validation follows recorded order and stops at the first change', async () => {
  // `gate` decides whether `expensive` is needed at all; after the change it is
  // not, so re-validation must not evaluate it.
  const w = new World({ gate: 'on', data: 'd' });
  const expensive = derived('expensive', async (ctx) => `E(${await ctx.get(w.file('data'))})`);
  const top = derived('top', async (ctx) => {
    if ((await ctx.get(w.file('gate'))) !== 'on') return 'off';
    return ctx.get(expensive);
  });
  assert.equal(await w.engine.startRun().get(top), 'E(d)');
  w.files.set('gate', 'off');
  w.files.set('data', 'd2');
  w.engine.invalidatePaths(['gate', 'data']);
  w.reset();
  assert.equal(await w.engine.startRun().get(top), 'off');
  assert.deepEqual(w.log.sort(), ['file:gate', 'top']);
});

test('a key-specific equal decides the cut-off', async () => {
  const w = new World({ f: 'Hello' });
  const lower = derived('lower', async (ctx) => ({ text: (await ctx.get(w.file('f'))) ?? '' }), {
    equal: (a, b) => a.text.toLowerCase() === b.text.toLowerCase(),
  });
  const top = derived('top', async (ctx) => (await ctx.get(lower)).text);
  assert.equal(await w.engine.startRun().get(top), 'Hello');
  w.files.set('f', 'HELLO');
  w.engine.invalidatePaths(['f']);
  w.reset();
  assert.equal(await w.engine.startRun().get(top), 'Hello', 'equal values keep the memoized object');
  assert.deepEqual(w.log.sort(), ['file:f', 'lower']);
});

test('getAll answers in order and records every edge', async () => {
  const w = new World({ p: '1', q: '2', r: '3' });
  const top = derived('top', async (ctx) => (await ctx.getAll([w.file('r'), w.file('p'), w.file('q')])).join(''));
  assert.equal(await w.engine.startRun().get(top), '312');
  for (const f of ['p', 'q', 'r']) {
    w.files.set(f, `${f}!`);
    w.engine.invalidatePaths([f]);
    w.reset();
    await w.engine.startRun().get(top);
    assert.equal(w.count('top'), 1, `a change to ${f} reaches top`);
  }
  assert.equal(await w.engine.startRun().get(top), 'r!p!q!');
  const run = w.engine.startRun();
  assert.deepEqual(await run.getAll([w.file('q'), w.file('p')]), ['q!', 'p!']);
});

test('keys with the same id are the same node', async () => {
  const w = new World({ f: 'x' });
  let n = 0;
  const k1 = derived('same', async () => ++n);
  const k2 = derived('same', async () => 100 + ++n);
  const run = w.engine.startRun();
  assert.equal(await run.get(k1), 1);
  assert.equal(await run.get(k2), 1);
  assert.equal(w.engine.stats().nodes, 1);
});

test('the epoch moves only when a run applies invalidations', async () => {
  const w = new World({ f: 'x' });
  assert.equal(w.engine.startRun().epoch, 0);
  assert.equal(w.engine.startRun().epoch, 0);
  w.engine.invalidatePaths(['f']);
  assert.equal(w.engine.hasPendingInvalidations(), true);
  const run = w.engine.startRun();
  assert.equal(run.epoch, 1);
  assert.equal(w.engine.stats().epoch, 1);
  assert.equal(w.engine.hasPendingInvalidations(), false);
  w.engine.invalidateAll();
  assert.equal(w.engine.hasPendingInvalidations(), true);
  assert.equal(w.engine.startRun().epoch, 2);
});

test('values are delivered to every requester of a clean node, from runs and computations alike', async () => {
  const w = new World({ f: 'v' });
  const mid = derived('mid', async (ctx) => `${await ctx.get(w.file('f'))}!`);
  const a = derived('a', async (ctx) => `a${await ctx.get(mid)}`);
  const b = derived('b', async (ctx) => `b${await ctx.get(mid)}`);
  const run = w.engine.startRun();
  assert.equal(await run.get(mid), 'v!');
  assert.deepEqual(await run.getAll([a, b, mid]), ['av!', 'bv!', 'v!']);
  assert.equal(w.count('mid'), 1);
});

test('dependencies a recompute read straight from the memo still allow cut-off later', async () => {
  const { w, all } = twoPackages();
  await w.engine.startRun().get(all);
  // `all` recomputes; this time parse:b is clean and answered from the memo.
  w.files.set('a/BUILD', 'a1');
  w.engine.invalidatePaths(['a/BUILD']);
  assert.deepEqual(await w.engine.startRun().get(all), ['a1', 'b1']);
  // A change that parse:a cuts off must leave `all` re-validated, not recomputed.
  w.files.set('a/BUILD', 'a1 # note');
  w.engine.invalidatePaths(['a/BUILD']);
  w.reset();
  assert.deepEqual(await w.engine.startRun().get(all), ['a1', 'b1']);
  assert.deepEqual(w.log.sort(), ['file:a/BUILD', 'parse:a']);
});

test('an exact invalidation reaches the keys at that path only, not its subtree as a watcher event does', async () => {
  const { w, all } = twoPackages();
  await w.engine.startRun().get(all);
  w.reset();
  // The caller proved a/BUILD unchanged by its own stamp and names only the directory `a`.
  w.files.set('a/BUILD', 'a7');
  w.engine.invalidatePaths(['a'], { exact: true });
  assert.equal(w.engine.hasPendingInvalidations(), true);
  assert.deepEqual(await w.engine.startRun().get(all), ['a1', 'a2', 'b1']);
  assert.deepEqual(w.log, [], 'no key sits at `a`; a/BUILD is not read again');
  // As an event, `a` stands for everything under it.
  w.engine.invalidatePaths(['a']);
  assert.deepEqual(await w.engine.startRun().get(all), ['a7', 'b1']);
  assert.deepEqual(w.log.sort(), ['all', 'file:a/BUILD', 'parse:a']);
  w.reset();
  w.files.set('a/BUILD', 'a8');
  w.engine.invalidatePaths(['a/BUILD'], { exact: true });
  assert.deepEqual(await w.engine.startRun().get(all), ['a8', 'b1']);
});
