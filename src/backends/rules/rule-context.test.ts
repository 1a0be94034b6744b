import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFailureError, nullLogger } from '../../core/index.js';
import { RuleContext, type RuleContextInit } from './rule-context.js';

/** A RuleContext for exercising `once`: nothing else of it is used. */
function context(): RuleContext {
  const init = {
    run: {},
    env: { ws: { root: '/nowhere' } },
    services: { store: {}, runner: {} },
    execCtx: { signal: new AbortController().signal, runId: 'r', logger: nullLogger },
    options: {},
    clientEnv: {},
    rules: new Map(),
    record: { has: () => false, memoized: () => undefined },
  } as unknown as RuleContextInit;
  return new RuleContext(init);
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('once computes a key once, however many ask at the same time', async () => {
  const rc = context();
  let calls = 0;
  const compute = async (): Promise<number> => {
    calls++;
    await tick();
    return 42;
  };
  const results = await Promise.all([rc.once('k', 'k', compute), rc.once('k', 'k', compute), rc.once('k', 'k', compute)]);
  assert.deepEqual(results, [42, 42, 42]);
  assert.equal(calls, 1);
});

test('a failure is kept for the run: every requester gets it', async () => {
  const rc = context();
  let calls = 0;
  const failing = async (): Promise<never> => {
    calls++;
    throw new Error('boom');
  };
  await assert.rejects(rc.once('f', 'f', failing), /boom/);
  await assert.rejects(rc.once('f', 'f', failing), /boom/);
  assert.equal(calls, 1);
});

test('a computation that waits for itself through others is a dependency-cycle failure, not a hang', async () => {
  const rc = context();
  const a = (): Promise<string> =>
    rc.once('a', 'src:a', async () => {
      await tick();
      return `a(${await b()})`;
    });
  const b = (): Promise<string> =>
    rc.once('b', 'src:b', async () => {
      await tick();
      return `b(${await c()})`;
    });
  const c = (): Promise<string> => rc.once('c', 'src:c', async () => `c(${await a()})`);
  const err = await a().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isFailureError(err), String(err));
  assert.equal(err.failure.reason, 'dependency-cycle');
  assert.equal(err.failure.message, 'dependency cycle: src:c -> src:a -> src:b -> src:c');
});

test('a key asking for itself directly is a cycle too', async () => {
  const rc = context();
  const self = (): Promise<number> => rc.once('s', 'src:s', async () => (await self()) + 1);
  await assert.rejects(self(), /dependency cycle: src:s -> src:s/);
});

test('two branches waiting for one shared key is not a cycle', async () => {
  const rc = context();
  const shared = (): Promise<number> =>
    rc.once('shared', 'shared', async () => {
      await tick();
      return 1;
    });
  const left = (): Promise<number> => rc.once('left', 'left', async () => (await shared()) + 1);
  const right = (): Promise<number> => rc.once('right', 'right', async () => (await shared()) + 2);
  assert.deepEqual(await Promise.all([left(), right(), shared()]), [2, 3, 1]);
});
