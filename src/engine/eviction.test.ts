import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEngine } from './engine.js';
import { World, deferred, derived, settle } from './test-support.js';
import type { Engine, InputKey, Key } from './types.js';

/** A World whose engine evicts what `idleRuns` runs did not touch. */
function world(files: Record<string, string>, idleRuns: number, maxNodes = 0): World {
  const w = new World(files);
  (w as { engine: Engine }).engine = createEngine({ onCompute: (k) => w.log.push(k.id), evictAfterIdleRuns: idleRuns, maxNodes });
  return w;
}

/**
 * The shape of a test target: `test` reads the source, then asks for the
 * process keyed by what it read (as process keys are keyed by input digests).
 * An edit leaves the old process node with no dependent, forever, unless evicted.
 */
function testTarget(w: World): { proc: (src: string) => Key<string>; top: Key<string> } {
  const proc = (src: string): Key<string> => derived(`proc:${src}`, async () => `ran ${src}`);
  const top = derived('test', async (ctx) => ctx.get(proc((await ctx.get(w.file('src.js'))) ?? '')));
  return { proc, top };
}

test('a node no run touched for K runs leaves the graph; the graph stays flat over edit/run cycles', async () => {
  const w = world({ 'src.js': 'v0' }, 2);
  const { top } = testTarget(w);
  assert.equal(await w.engine.startRun().get(top), 'ran v0');
  const sizes: number[] = [];
  for (let i = 1; i <= 50; i++) {
    w.files.set('src.js', `v${i}`);
    w.engine.invalidatePaths(['src.js']);
    assert.equal(await w.engine.startRun().get(top), `ran v${i}`);
    sizes.push(w.engine.stats().nodes);
  }
  // test, file:src.js, the current process and at most the two before it.
  assert.ok(Math.max(...sizes) <= 5, `graph sizes ${sizes.join(' ')}`);
  assert.ok(w.engine.stats().evicted >= 45, `evicted ${w.engine.stats().evicted}`);
});

test('without the option nothing is evicted', async () => {
  const w = new World({ 'src.js': 'v0' });
  const { top } = testTarget(w);
  for (let i = 1; i <= 10; i++) {
    w.files.set('src.js', `v${i}`);
    w.engine.invalidatePaths(['src.js']);
    await w.engine.startRun().get(top);
  }
  assert.equal(w.engine.stats().nodes, 12);
  assert.equal(w.engine.stats().evicted, 0);
});

test('attack: a clean node served from its memo keeps what it reads, so a later edit still reaches it', async () => {
  // Each run gets `top` from its memo: `top` is touched, the file and parse below it never are.
  const w = world({ 'a/BUILD': 'one' }, 2);
  const parse = derived('parse:a', async (ctx) => ((await ctx.get(w.file('a/BUILD'))) ?? '').toUpperCase());
  const top = derived('top', async (ctx) => `[${await ctx.get(parse)}]`);
  assert.equal(await w.engine.startRun().get(top), '[ONE]');
  for (let i = 0; i < 20; i++) assert.equal(await w.engine.startRun().get(top), '[ONE]');
  assert.equal(w.engine.stats().nodes, 3, 'nothing below a live node is evicted');
  assert.equal(w.engine.stats().evicted, 0);
  // Had the file node been evicted, the path index would have lost it and this edit reached nothing.
  w.files.set('a/BUILD', 'two');
  w.engine.invalidatePaths(['a/BUILD']);
  assert.equal(await w.engine.startRun().get(top), '[TWO]');
});

test('attack: evict everything, edit the file, ask again: the result changes (never a stale value)', async () => {
  const w = world({ 'a/BUILD': 'one', 'b/BUILD': 'x' }, 2);
  const parse = derived('parse:a', async (ctx) => ((await ctx.get(w.file('a/BUILD'))) ?? '').toUpperCase());
  const top = derived('top', async (ctx) => `[${await ctx.get(parse)}]`);
  const other = derived('other', async (ctx) => (await ctx.get(w.file('b/BUILD'))) ?? '');
  assert.equal(await w.engine.startRun().get(top), '[ONE]');
  for (let i = 0; i < 5; i++) await w.engine.startRun().get(other);
  assert.equal(w.engine.stats().nodes, 2, 'top, parse:a and file:a/BUILD are gone');
  w.files.set('a/BUILD', 'two');
  w.engine.invalidatePaths(['a/BUILD']);
  w.reset();
  assert.equal(await w.engine.startRun().get(top), '[TWO]');
  assert.deepEqual(w.log.sort(), ['file:a/BUILD', 'parse:a', 'top'], 'recomputed, not served');
  // And the recreated nodes are wired up again: another edit reaches them.
  w.files.set('a/BUILD', 'three');
  w.engine.invalidatePaths(['a/BUILD']);
  assert.equal(await w.engine.startRun().get(top), '[THREE]');
});

test('attack: a kept node never keeps an edge to an evicted one, even when the evicted node comes back', async () => {
  // `shared` is read by `keep` (asked every run) and by `gone` (asked once). Only
  // `gone` may leave; `shared` must stay, and its generation with it, or `keep`
  // would compare its recorded generation against a recreated node's.
  const w = world({ f: '1' }, 2);
  const shared = derived('shared', async (ctx) => `s${(await ctx.get(w.file('f'))) ?? ''}`);
  const keep = derived('keep', async (ctx) => `k-${await ctx.get(shared)}`);
  const gone = derived('gone', async (ctx) => `g-${await ctx.get(shared)}`);
  assert.equal(await w.engine.startRun().get(gone), 'g-s1');
  assert.equal(await w.engine.startRun().get(keep), 'k-s1');
  for (let i = 0; i < 6; i++) await w.engine.startRun().get(keep);
  assert.equal(w.engine.stats().nodes, 3, '`gone` left; keep, shared, file:f stay');
  for (let v = 2; v <= 4; v++) {
    w.files.set('f', String(v));
    w.engine.invalidatePaths(['f']);
    const run = w.engine.startRun();
    assert.equal(await run.get(keep), `k-s${v}`);
    assert.equal(await run.get(gone), `g-s${v}`, 'the evicted node is recomputed against the current value');
  }
});

test('an evicted node asked for again is recomputed, once, and memoized again', async () => {
  const w = world({ f: 'x' }, 1);
  const a = derived('a', async (ctx) => `a:${(await ctx.get(w.file('f'))) ?? ''}`);
  const b = derived('b', async () => 'b');
  assert.equal(await w.engine.startRun().get(a), 'a:x');
  await w.engine.startRun().get(b);
  await w.engine.startRun().get(b);
  assert.equal(w.engine.stats().nodes, 1);
  w.reset();
  assert.equal(await w.engine.startRun().get(a), 'a:x');
  assert.deepEqual(w.log.sort(), ['a', 'file:f']);
  w.reset();
  assert.equal(await w.engine.startRun().get(a), 'a:x');
  assert.deepEqual(w.log, []);
});

test('a computation in flight, and what it already read, survive sweeps; its result is memoized', async () => {
  const w = world({ f: 'x' }, 1);
  const gate = deferred();
  const read = derived('read', async (ctx) => `r:${(await ctx.get(w.file('f'))) ?? ''}`);
  const slow = derived('slow', async (ctx) => {
    const r = await ctx.get(read);
    await gate.promise;
    return `slow(${r})`;
  });
  const pending = w.engine.startRun().get(slow);
  await settle();
  const other = derived('other', async () => 'o');
  for (let i = 0; i < 5; i++) await w.engine.startRun().get(other);
  assert.equal(w.engine.stats().evicted, 0);
  gate.resolve();
  assert.equal(await pending, 'slow(r:x)');
  w.reset();
  assert.equal(await w.engine.startRun().get(slow), 'slow(r:x)');
  assert.deepEqual(w.log, [], 'memoized, with its dependencies');
});

test('no sweep while a run that brought inputs is live', async () => {
  const w = world({}, 1);
  const input: InputKey<string> = { id: 'input:mode', readFrom: (i) => (i as { signature: string }).signature };
  const a = derived('a', async (ctx) => `a:${await ctx.get(input)}`);
  const b = derived('b', async () => 'b');
  const live = w.engine.startRun({ inputs: { signature: 'x' } });
  assert.equal(await live.get(a), 'a:x');
  for (let i = 0; i < 5; i++) {
    const r = w.engine.startRun({ inputs: { signature: 'x' } });
    await r.get(b);
    r.end();
  }
  assert.equal(w.engine.stats().evicted, 0, 'a live run: nothing evicted');
  live.end();
  const last = w.engine.startRun({ inputs: { signature: 'x' } });
  await last.get(b);
  last.end();
  assert.equal(w.engine.stats().nodes, 1, 'once idle, a and the input it read leave');
  // The input comes back with the run's value.
  const again = w.engine.startRun({ inputs: { signature: 'x' } });
  assert.equal(await again.get(a), 'a:x');
  again.end();
});

test('affects: a run whose nodes were evicted answers yes (a spurious yes, never a wrong no)', async () => {
  const w = world({ 'a/f': '1', 'b/f': '1' }, 1);
  const a = derived('a', async (ctx) => (await ctx.get(w.file('a/f'))) ?? '');
  const b = derived('b', async (ctx) => (await ctx.get(w.file('b/f'))) ?? '');
  const looped = w.engine.startRun();
  await looped.get(a);
  for (let i = 0; i < 3; i++) await w.engine.startRun().get(b);
  assert.equal(w.engine.affects(looped, ['a/f']), true);
});

test('maxNodes: above the bound, the least recently touched go first, never what the latest run touched', async () => {
  const w = world({}, 0, 4);
  const leaf = (i: number): Key<number> => derived(`leaf:${i}`, async () => i);
  const pair = (i: number): Key<number> => derived(`pair:${i}`, async (ctx) => (await ctx.get(leaf(i))) + 1);
  for (let i = 0; i < 6; i++) {
    assert.equal(await w.engine.startRun().get(pair(i)), i + 1);
  }
  // Each run adds 2 nodes; a sweep when a run starts keeps at most 4, the newest.
  await w.engine.startRun().get(pair(0));
  const s = w.engine.stats();
  assert.ok(s.nodes <= 4 + 2, `nodes ${s.nodes}`);
  assert.ok(s.evicted >= 6, `evicted ${s.evicted}`);
  w.reset();
  assert.equal(await w.engine.startRun().get(pair(5)), 6);
  assert.deepEqual(w.log, [], 'pair:5, touched by a recent run, was kept');
});

test('attack: only the top of a deep chain is touched by each run; the sweep keeps the whole chain below it, and evicts a whole idle one', async () => {
  // A fully memoized run touches `top` alone; everything below is idle yet read by a live node.
  const w = world({ f: 'v' }, 2);
  const depth = 5_000;
  const chain = (name: string): Key<string> => {
    let k: Key<string> = derived(`${name}:0`, async (ctx) => (await ctx.get(w.file('f'))) ?? '');
    for (let i = 1; i < depth; i++) {
      const below = k;
      k = derived(`${name}:${i}`, async (ctx) => ctx.get(below));
    }
    return k;
  };
  const kept = chain('kept');
  const idle = chain('idle');
  assert.equal(await w.engine.startRun().get(idle), 'v');
  assert.equal(await w.engine.startRun().get(kept), 'v');
  for (let i = 0; i < 6; i++) assert.equal(await w.engine.startRun().get(kept), 'v');
  assert.equal(w.engine.stats().nodes, depth + 1, 'the idle chain left; the kept chain and file:f stay');
  assert.equal(w.engine.stats().evicted, depth);
  w.files.set('f', 'w');
  w.engine.invalidatePaths(['f']);
  assert.equal(await w.engine.startRun().get(kept), 'w', 'the edit reaches the top through the whole kept chain');
  assert.equal(await w.engine.startRun().get(idle), 'w');
});
