import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PathIndex } from './path-index.js';
import { GraphNode } from './node.js';
import { World, deferred, derived, settle } from './test-support.js';
import type { Key } from './types.js';

/** Computes every key once, then returns which of them a change to `paths` recomputes. */
async function recomputedBy(w: World, keys: Key<unknown>[], paths: string[]): Promise<string[]> {
  await w.engine.startRun().getAll(keys);
  w.reset();
  w.engine.invalidatePaths(paths);
  await w.engine.startRun().getAll(keys);
  return [...w.log].sort();
}

function tree(): World {
  return new World({ 'top.txt': 't', 'a/x': 'x', 'a/b/y': 'y', 'ab/z': 'z', 'c/w': 'w' });
}

function allKeys(w: World): Key<unknown>[] {
  return [
    w.listing(''),
    w.listing('a'),
    w.listing('a/b'),
    w.listing('ab'),
    w.listing('c'),
    w.file('top.txt'),
    w.file('a/x'),
    w.file('a/b/y'),
    w.file('ab/z'),
    w.file('c/w'),
  ];
}

test('a changed file invalidates itself and its parent directory listing, nothing else', async () => {
  const w = tree();
  assert.deepEqual(await recomputedBy(w, allKeys(w), ['a/b/y']), ['dir:a/b', 'file:a/b/y']);
});

test('a top-level path invalidates the root listing (its dirname is "")', async () => {
  const w = tree();
  assert.deepEqual(await recomputedBy(w, allKeys(w), ['top.txt']), ['dir:', 'file:top.txt']);
});

test('a removed directory invalidates everything inside it, but not a sibling sharing its prefix', async () => {
  const w = tree();
  const keys = allKeys(w);
  await w.engine.startRun().getAll(keys);
  for (const p of [...w.files.keys()]) if (p.startsWith('a/')) w.files.delete(p);
  w.reset();
  w.engine.invalidatePaths(['a']);
  const values = await w.engine.startRun().getAll(keys);
  assert.deepEqual([...w.log].sort(), ['dir:', 'dir:a', 'dir:a/b', 'file:a/b/y', 'file:a/x']);
  assert.deepEqual(values[0], ['ab', 'c', 'top.txt'], 'the root listing no longer shows a');
  assert.equal(values[6], null, 'a/x is gone');
});

test('paths are normalized and paths outside the root are ignored', async () => {
  const w = tree();
  assert.deepEqual(await recomputedBy(w, allKeys(w), ['./c/w', '../c/w', '/abs/c/w']), ['dir:c', 'file:c/w']);
});

test('invalidating the root reaches every file-system key', async () => {
  const w = tree();
  const keys = allKeys(w);
  assert.deepEqual(await recomputedBy(w, keys, ['']), keys.map((k) => k.id).sort());
});

test('invalidateAll reaches every file-system key and only re-validates derived ones', async () => {
  const w = tree();
  const count = derived('count', async (ctx) => (await ctx.get(w.listing('a'))).length);
  const keys = [...allKeys(w), count];
  const run = w.engine.startRun();
  await run.getAll(keys);
  w.reset();
  w.engine.invalidateAll();
  await w.engine.startRun().getAll(keys);
  assert.deepEqual([...w.log].sort(), allKeys(w).map((k) => k.id).sort());
  assert.equal(w.engine.stats().revalidated, 1);
});

test('invalidations queued during a run are invisible to it until the next startRun', async () => {
  const w = new World({ f: 'old' });
  const upper = derived('upper', async (ctx) => (await ctx.get(w.file('f')))!.toUpperCase());
  const run1 = w.engine.startRun();
  assert.equal(await run1.get(upper), 'OLD');
  w.files.set('f', 'new');
  w.engine.invalidatePaths(['f']);
  assert.equal(await run1.get(upper), 'OLD', 'the running run keeps its snapshot');
  assert.equal(await run1.get(w.file('f')), 'old');
  assert.equal(w.engine.stats().dirty, 0);
  const run2 = w.engine.startRun();
  assert.equal(await run2.get(upper), 'NEW');
});

test('a node invalidated while computing answers its waiters but stays dirty', async () => {
  const w = new World({ f: 'old' });
  const gate = deferred();
  let reads = 0;
  const slowFile = {
    id: 'slow:f',
    path: 'f',
    compute: async (): Promise<string> => {
      const content = w.files.get('f')!;
      reads++;
      if (reads === 1) await gate.promise;
      return content;
    },
  };
  const upper = derived('upper', async (ctx) => (await ctx.get(slowFile)).toUpperCase());
  const run1 = w.engine.startRun();
  const first = run1.get(upper);
  await settle();
  // The file changes while its old content is being computed.
  w.files.set('f', 'new');
  w.engine.invalidatePaths(['f']);
  w.engine.startRun();
  gate.resolve();
  assert.equal(await first, 'OLD', 'the computation answers the requests it already had');
  assert.equal(w.engine.stats().dirty, 0, 'nothing was committed, so nothing went from clean to dirty');
  w.reset();
  assert.equal(await w.engine.startRun().get(upper), 'NEW');
  assert.deepEqual(w.log, ['upper', 'slow:f'], 'both recompute: neither memoized the stale result');
  w.reset();
  assert.equal(await w.engine.startRun().get(upper), 'NEW');
  assert.deepEqual(w.log, []);
});

test('a run started after an invalidation does not join the stale computation', async () => {
  const w = new World({ f: 'old' });
  const gate = deferred();
  let calls = 0;
  const slowFile = {
    id: 'slow:f',
    path: 'f',
    compute: async (): Promise<string> => {
      const content = w.files.get('f')!;
      if (++calls === 1) await gate.promise;
      return content;
    },
  };
  const run1 = w.engine.startRun();
  const first = run1.get(slowFile);
  await settle();
  w.files.set('f', 'new');
  w.engine.invalidatePaths(['f']);
  const run2 = w.engine.startRun();
  assert.equal(await run2.get(slowFile), 'new');
  gate.resolve();
  assert.equal(await first, 'old');
  assert.equal(await w.engine.startRun().get(slowFile), 'new', 'the late stale result did not overwrite the memo');
  assert.equal(calls, 2);
});

test('an invalidation reaches a computation through an edge it made moments ago', async () => {
  // `top` read f, then waits on something slow; f changes meanwhile. top's
  // result is built from the old f and must not be memoized.
  const w = new World({ f: 'old' });
  const gate = deferred();
  const slow = derived('slow', async () => {
    await gate.promise;
    return '!';
  });
  const top = derived('top', async (ctx) => (await ctx.get(w.file('f'))) + (await ctx.get(slow)));
  const run1 = w.engine.startRun();
  const first = run1.get(top);
  await settle();
  w.files.set('f', 'new');
  w.engine.invalidatePaths(['f']);
  w.engine.startRun();
  gate.resolve();
  assert.equal(await first, 'old!');
  w.reset();
  assert.equal(await w.engine.startRun().get(top), 'new!');
  assert.deepEqual(w.log.sort(), ['file:f', 'top']);
});

test('PathIndex answers exact, parent and subtree queries without false prefixes', () => {
  const index = new PathIndex();
  const node = (path: string): GraphNode => {
    const n = new GraphNode({ id: path, path, compute: async () => null });
    index.add(path, n);
    return n;
  };
  const root = node('');
  const a = node('a');
  const ax = node('a/x');
  const abc = node('a/b/c');
  const ab2 = node('ab');
  const ids = (s: Set<GraphNode>): string[] => [...s].map((n) => n.key.id).sort();
  assert.deepEqual(ids(index.affected(['a/b/c'])), ['a/b/c'], 'a/b has no node of its own');
  assert.deepEqual(ids(index.affected(['a/x'])), ['a', 'a/x']);
  assert.deepEqual(ids(index.affected(['a'])), ['', 'a', 'a/b/c', 'a/x']);
  assert.deepEqual(ids(index.affected(['a/b'])), ['a', 'a/b/c']);
  assert.deepEqual(ids(index.affected(['zzz'])), ['']);
  assert.deepEqual(ids(index.affected([''])), ['', 'a', 'a/b/c', 'a/x', 'ab']);
  assert.equal(index.all().size, 5);
  void [root, a, ax, abc, ab2];
});
