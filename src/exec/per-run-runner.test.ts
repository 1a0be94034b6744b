import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EMPTY_DIGEST, abortError, isAbortError } from '../core/index.js';
import { create } from '@bufbuild/protobuf';
import { ActionResultSchema } from '../reapi/index.js';
import { createPerRunRunner } from './per-run-runner.js';
import { makeProcess } from './process.js';
import { RecordingObserver, makeCtx, sleep } from './test-support.js';
import { toAction } from './to-action.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

/** An inner runner that counts calls and finishes when told to (or when its signal aborts). */
class GatedRunner implements CommandRunner {
  calls = 0;
  aborted = 0;
  #gates: (() => void)[] = [];
  failNext = false;

  run(ctx: ExecContext, p: Process): Promise<ProcessResult> {
    this.calls++;
    ctx.observation?.markStarted();
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('could not run'));
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.aborted++;
        reject(abortError());
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      this.#gates.push(() => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve(resultFor(p));
      });
    });
  }

  open(): void {
    for (const g of this.#gates.splice(0)) g();
  }
}

function resultFor(p: Process): ProcessResult {
  return {
    exitCode: 0,
    timedOut: false,
    stdout: EMPTY_DIGEST,
    stderr: EMPTY_DIGEST,
    outputRoot: EMPTY_DIGEST,
    actionDigest: toAction(p).actionDigest,
    source: 'ran locally',
    durationMs: 1,
    executionMs: 1,
    actionResult: create(ActionResultSchema, {}),
  };
}

const perRun = makeProcess({ argv: ['date'], cacheScope: 'per-run' });

test('identical per-run processes run once per run, also while the first is running', async () => {
  const inner = new GatedRunner();
  const runner = createPerRunRunner(inner);
  const ctx = makeCtx({ runId: 'run-1' });
  const a = runner.run(ctx, perRun);
  const b = runner.run(ctx, makeProcess({ argv: ['date'], cacheScope: 'per-run', description: 'same action, other words' }));
  inner.open();
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(inner.calls, 1);
  assert.equal(ra.actionDigest.hash, rb.actionDigest.hash);
  await runner.run(ctx, perRun);
  assert.equal(inner.calls, 1, 'finished results are shared within the run');
  const other = runner.run(makeCtx({ runId: 'run-2' }), perRun);
  inner.open();
  await other;
  assert.equal(inner.calls, 2, 'another run executes it again');
});

test('other scopes pass straight through', async () => {
  const inner = new GatedRunner();
  const runner = createPerRunRunner(inner);
  const ctx = makeCtx();
  for (const cacheScope of ['never', 'successful', 'always'] as const) {
    const p = runner.run(ctx, makeProcess({ argv: ['date'], cacheScope }));
    const q = runner.run(ctx, makeProcess({ argv: ['date'], cacheScope }));
    inner.open();
    await Promise.all([p, q]);
  }
  assert.equal(inner.calls, 6);
});

test('a failure is not remembered', async () => {
  const inner = new GatedRunner();
  const runner = createPerRunRunner(inner);
  const ctx = makeCtx();
  inner.failNext = true;
  await assert.rejects(runner.run(ctx, perRun), /could not run/);
  const again = runner.run(ctx, perRun);
  inner.open();
  await again;
  assert.equal(inner.calls, 2);
});

test('the shared execution is cancelled only when every waiter has been', async () => {
  const inner = new GatedRunner();
  const runner = createPerRunRunner(inner);
  const first = new AbortController();
  const second = new AbortController();
  const a = runner.run(makeCtx({ runId: 'r', signal: first.signal }), perRun);
  const b = runner.run(makeCtx({ runId: 'r', signal: second.signal }), perRun);
  first.abort();
  await assert.rejects(a, (e: unknown) => isAbortError(e));
  await sleep(5);
  assert.equal(inner.aborted, 0, 'still wanted by the second request');
  inner.open();
  await b;

  const third = new AbortController();
  const fresh = makeProcess({ argv: ['date', '-u'], cacheScope: 'per-run' });
  const c = runner.run(makeCtx({ runId: 'r', signal: third.signal }), fresh);
  third.abort();
  await assert.rejects(c, (e: unknown) => isAbortError(e));
  await sleep(5);
  assert.equal(inner.aborted, 1, 'nobody waits any more: the execution is cancelled');
  // And a later request in the same run starts afresh rather than inheriting the abort.
  const d = runner.run(makeCtx({ runId: 'r' }), fresh);
  inner.open();
  assert.equal((await d).exitCode, 0);
});

test('a request that joins a shared execution is not reported as another process', async () => {
  const inner = new GatedRunner();
  const runner = createPerRunRunner(inner);
  const observer = new RecordingObserver();
  const ctx = makeCtx({ observer });
  const a = runner.run(ctx, perRun);
  const b = runner.run(ctx, perRun);
  inner.open();
  await Promise.all([a, b]);
  await runner.run(ctx, perRun);
  assert.equal(observer.events.length, 2);
  assert.match(observer.events[0] ?? '', /^started/);
  assert.match(observer.events[1] ?? '', /^finished/);
});
