import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { join } from 'node:path';
import { test } from 'node:test';
import { EMPTY_DIGEST, abortError, digestString, isAbortError } from '../core/index.js';
import { createEngine } from '../engine/index.js';
import { ActionResultSchema } from '../remote/proto/index.js';
import { createLocalStore } from '../store/index.js';
import { createLocalCacheRunner } from './local-cache-runner.js';
import { createLocalRunner } from './local-runner.js';
import { ProcessKey } from './process-key.js';
import { makeProcess } from './process.js';
import { makeCtx, makeTempDir, readText, removeDir, sleep } from './test-support.js';
import { toAction } from './to-action.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

class CountingRunner implements CommandRunner {
  calls = 0;
  contexts: ExecContext[] = [];
  delayMs = 0;
  exitCode = 0;
  async run(ctx: ExecContext, p: Process): Promise<ProcessResult> {
    this.calls++;
    this.contexts.push(ctx);
    if (this.delayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, this.delayMs);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(abortError());
        });
      });
    }
    if (ctx.signal.aborted) throw abortError();
    return {
      exitCode: this.exitCode,
      timedOut: false,
      stdout: EMPTY_DIGEST,
      stderr: EMPTY_DIGEST,
      outputRoot: EMPTY_DIGEST,
      actionDigest: toAction(p).actionDigest,
      source: 'ran locally',
      durationMs: this.delayMs,
      executionMs: this.delayMs,
      actionResult: create(ActionResultSchema, {}),
    };
  }
}

const p = makeProcess({ argv: ['true'] });

test('the id is the action digest, plus a counter for never', () => {
  const r = new CountingRunner();
  const ctx = makeCtx({ runId: 'R1' });
  const digest = digestString(toAction(p).actionDigest);
  assert.equal(new ProcessKey(r, ctx, p).id, `process:${digest}`);
  assert.equal(new ProcessKey(r, makeCtx(), makeProcess({ argv: ['true'], description: 'other words' })).id, `process:${digest}`);
  const perRun = makeProcess({ argv: ['true'], cacheScope: 'per-run' });
  assert.equal(new ProcessKey(r, ctx, perRun).id, `process:${digestString(toAction(perRun).actionDigest)}`);
  const never = makeProcess({ argv: ['true'], cacheScope: 'never' });
  assert.notEqual(new ProcessKey(r, ctx, never).id, new ProcessKey(r, ctx, never).id);
  assert.equal(new ProcessKey(r, ctx, p).describe(), 'true');
});

test('the engine runs a process once within a run and, for cacheable scopes, across runs', async () => {
  const r = new CountingRunner();
  const engine = createEngine();
  const run1 = engine.startRun();
  const ctx1 = makeCtx({ runId: 'one' });
  await Promise.all([run1.get(new ProcessKey(r, ctx1, p)), run1.get(new ProcessKey(r, ctx1, p))]);
  assert.equal(r.calls, 1);
  const run2 = engine.startRun();
  await run2.get(new ProcessKey(r, makeCtx({ runId: 'two' }), p));
  assert.equal(r.calls, 1, 'memoized across runs (a daemon)');

  const perRun = makeProcess({ argv: ['true'], cacheScope: 'per-run' });
  await run1.get(new ProcessKey(r, ctx1, perRun));
  await run1.get(new ProcessKey(r, ctx1, perRun));
  assert.equal(r.calls, 2);
  // A per-run result is transient: the next run started after it computes it again.
  const run3 = engine.startRun();
  await run3.get(new ProcessKey(r, makeCtx({ runId: 'three' }), perRun));
  assert.equal(r.calls, 3, 'per-run: again in another run');

  const never = makeProcess({ argv: ['true'], cacheScope: 'never' });
  await run3.get(new ProcessKey(r, ctx1, never));
  await run3.get(new ProcessKey(r, ctx1, never));
  assert.equal(r.calls, 5);
});

test('a failure its scope would not cache is re-run by the next run, as without a daemon', async () => {
  const r = new CountingRunner();
  r.exitCode = 1;
  const engine = createEngine();
  const failing = makeProcess({ argv: ['false'] });
  const always = makeProcess({ argv: ['false', 'always'], cacheScope: 'always' });
  const run1 = engine.startRun();
  await run1.get(new ProcessKey(r, makeCtx({ runId: 'one' }), failing));
  await run1.get(new ProcessKey(r, makeCtx({ runId: 'one' }), failing));
  await run1.get(new ProcessKey(r, makeCtx({ runId: 'one' }), always));
  assert.equal(r.calls, 2, 'within a run: once each');
  const run2 = engine.startRun();
  await run2.get(new ProcessKey(r, makeCtx({ runId: 'two' }), failing));
  await run2.get(new ProcessKey(r, makeCtx({ runId: 'two' }), always));
  assert.equal(r.calls, 3, 'the failed `successful` process runs again; the `always` one is kept');
});

test('the run signal and the engine signal both cancel the process', async () => {
  const r = new CountingRunner();
  r.delayMs = 10_000;
  const engine = createEngine();
  const ac = new AbortController();
  const pending = engine.startRun().get(new ProcessKey(r, makeCtx({ signal: ac.signal }), p));
  await sleep(10);
  ac.abort();
  await assert.rejects(pending, (e: unknown) => isAbortError(e));

  const engineAc = new AbortController();
  const pending2 = engine.startRun({ signal: engineAc.signal }).get(new ProcessKey(r, makeCtx(), makeProcess({ argv: ['false'] })));
  await sleep(10);
  engineAc.abort();
  await assert.rejects(pending2, (e: unknown) => isAbortError(e));
});

test('a run after a cancelled one recomputes with its own context, not the dead run’s', async () => {
  const r = new CountingRunner();
  r.delayMs = 50;
  const engine = createEngine();
  const ac = new AbortController();
  const dead = makeCtx({ runId: 'dead', signal: ac.signal });
  const first = engine.startRun({ signal: ac.signal }).get(new ProcessKey(r, dead, p));
  await sleep(5);
  ac.abort();
  await assert.rejects(first, (e: unknown) => isAbortError(e));
  // The engine keeps the first key object of the node; the second run must still succeed.
  const live = makeCtx({ runId: 'live' });
  const result = await engine.startRun().get(new ProcessKey(r, live, p));
  assert.equal(result.exitCode, 0);
  assert.equal(r.contexts.at(-1)?.runId, 'live');
});

test('early cut-off: the same outputs from a different source or timing are an equal value', () => {
  const r = new CountingRunner();
  const key = new ProcessKey(r, makeCtx(), p);
  const base: ProcessResult = {
    exitCode: 0,
    timedOut: false,
    stdout: EMPTY_DIGEST,
    stderr: EMPTY_DIGEST,
    outputRoot: EMPTY_DIGEST,
    actionDigest: toAction(p).actionDigest,
    source: 'ran locally',
    durationMs: 5,
    executionMs: 5,
    actionResult: create(ActionResultSchema, {}),
  };
  assert.equal(key.equal(base, { ...base, source: 'local cache', durationMs: 1, executionMs: null }), true);
  assert.equal(key.equal(base, { ...base, exitCode: 1 }), false);
  assert.equal(key.equal(base, { ...base, stdout: toAction(p).actionDigest }), false);
});

test('with real runners: a ProcessKey runs a real process and the local cache serves it to a new engine', async () => {
  const dir = await makeTempDir();
  const store = createLocalStore({ dir: join(dir, 'store') });
  try {
    const runner = createLocalCacheRunner(createLocalRunner({ store, sandboxRoot: join(dir, 'sandboxes') }), store);
    const echo = makeProcess({ argv: ['sh', '-c', 'echo hello'], env: { PATH: '/usr/bin:/bin' } });
    const r1 = await createEngine().startRun().get(new ProcessKey(runner, makeCtx(), echo));
    assert.equal(r1.source, 'ran locally');
    assert.equal(await readText(store, r1.stdout), 'hello\n');
    const r2 = await createEngine().startRun().get(new ProcessKey(runner, makeCtx(), echo));
    assert.equal(r2.source, 'local cache');
  } finally {
    await store.close();
    await removeDir(dir);
  }
});
