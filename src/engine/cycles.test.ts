import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailureError } from '../core/index.js';
import { EngineCycleError } from './cycle-error.js';
import { World, deferred, derived, settle } from './test-support.js';
import type { ComputeContext, Key } from './types.js';

/**
 * Keys named by letter; `edges/<name>` holds the comma-separated names it
 * depends on, so editing that file (and invalidating it) rewires the graph.
 */
function lettered(w: World, edges: Record<string, string>, before?: Promise<unknown>): (name: string) => Key<string> {
  for (const [name, deps] of Object.entries(edges)) w.files.set(`edges/${name}`, deps);
  const keys = new Map<string, Key<string>>();
  const key = (name: string): Key<string> => {
    let k = keys.get(name);
    if (k === undefined) {
      k = derived(
        `k:${name}`,
        async (ctx: ComputeContext) => {
          const deps = ((await ctx.get(w.file(`edges/${name}`))) ?? '').split(',').filter(Boolean);
          if (before !== undefined) await before;
          return name + (await ctx.getAll(deps.map(key))).join('');
        },
        { describe: () => name.toUpperCase() },
      );
      keys.set(name, k);
    }
    return k;
  };
  return key;
}

/** Edits the edges of `name` for the next run. */
function rewire(w: World, name: string, deps: string): void {
  w.files.set(`edges/${name}`, deps);
  w.engine.invalidatePaths([`edges/${name}`]);
}

/** A missed cycle deadlocks; fail instead of hanging the suite. */
const TIMEOUT = 10_000;

function isCycle(path: string[]): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof EngineCycleError, `expected a cycle error, got ${String(e)}`);
    assert.ok(e instanceof FailureError);
    assert.equal(e.failure.tag, 'input');
    assert.equal(e.failure.reason, 'cycle');
    assert.deepEqual(e.path, path);
    assert.equal(e.message, `dependency cycle: ${path.join(' -> ')}`);
    return true;
  };
}

test('a key requesting itself is a cycle of one', { timeout: TIMEOUT }, async () => {
  const w = new World();
  const self: Key<unknown> = derived('self', async (ctx) => ctx.get(self));
  await assert.rejects(w.engine.startRun().get(self), isCycle(['self', 'self']));
});

test('a 3-cycle is reported with its path, described by describe()', { timeout: TIMEOUT }, async () => {
  const w = new World();
  const key = lettered(w, { a: 'b', b: 'c', c: 'a' });
  await assert.rejects(w.engine.startRun().get(key('a')), isCycle(['A', 'B', 'C', 'A']));
});

test('a cycle entered from outside reports only the nodes on the cycle', { timeout: TIMEOUT }, async () => {
  const w = new World();
  const key = lettered(w, { top: 'a', a: 'b', b: 'a' });
  await assert.rejects(w.engine.startRun().get(key('top')), isCycle(['A', 'B', 'A']));
});

test('a cycle split across two concurrent runs is detected, with no deadlock', { timeout: TIMEOUT }, async () => {
  const w = new World();
  const gate = deferred();
  // Both runs start their half before either asks for the other's.
  const key = lettered(w, { a: 'b', b: 'a' }, gate.promise);
  const p1 = w.engine.startRun().get(key('a'));
  const p2 = w.engine.startRun().get(key('b'));
  await settle();
  gate.resolve();
  const results = await Promise.allSettled([p1, p2]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(r.reason instanceof EngineCycleError);
    assert.equal(r.reason.path.length, 3);
  }
});

test('a cycle is not memoized: fixing the edge is enough for the next run', { timeout: TIMEOUT }, async () => {
  const w = new World();
  const key = lettered(w, { a: 'b', b: 'c', c: 'a' });
  await assert.rejects(w.engine.startRun().get(key('a')), EngineCycleError);
  rewire(w, 'c', '');
  assert.equal(await w.engine.startRun().get(key('a')), 'abc');
});

test('a cycle introduced by a change is found while re-validating', { timeout: TIMEOUT }, async () => {
  const w = new World();
  const key = lettered(w, { a: 'b', b: 'c', c: '' });
  assert.equal(await w.engine.startRun().get(key('a')), 'abc');
  rewire(w, 'c', 'a');
  await assert.rejects(w.engine.startRun().get(key('a')), isCycle(['A', 'B', 'C', 'A']));
  rewire(w, 'c', '');
  assert.equal(await w.engine.startRun().get(key('a')), 'abc');
});

test('shared diamonds and dependencies that flip direction between runs are not cycles', { timeout: TIMEOUT }, async () => {
  const w = new World();
  const key = lettered(w, { top: 'x,y,d', x: 'y,d', y: 'd', d: '' });
  assert.equal(await w.engine.startRun().get(key('top')), 'top' + 'xydd' + 'yd' + 'd');
  // y now depends on x, and x no longer on y.
  rewire(w, 'x', 'd');
  rewire(w, 'y', 'x');
  const run = w.engine.startRun();
  assert.deepEqual(await run.getAll([key('y'), key('x'), key('top')]), ['yxd', 'xd', 'top' + 'xd' + 'yxd' + 'd']);
});
