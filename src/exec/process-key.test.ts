import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { join } from 'node:path';
import { test } from 'node:test';
import { EMPTY_DIGEST, abortError, digestString, isAbortError } from '../core/index.js';
import { createEngine, type Engine, type Run } from '../engine/index.js';
import { ActionResultSchema } from '../reapi/index.js';
import { createLocalStore, type LocalStore } from '../store/index.js';
import { createLocalCacheRunner } from './local-cache-runner.js';
import { createLocalRunner } from './local-runner.js';
import { EXEC_RUN, ProcessKey } from './process-key.js';
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
const noStore = {} as LocalStore;

/** A run whose computations start processes with `runner`, under `runId`. */
function startRun(engine: Engine, runner: CommandRunner, runId: string, signal?: AbortSignal, store: LocalStore = noStore): Run {
  const { signal: _unused, ...context } = makeCtx({ runId });
  return engine.startRun({ ...(signal ? { signal } : {}), slots: [EXEC_RUN.with({ runner, store, context })] });
}

test('the id is the action digest, plus a counter for never', () => {
  const digest = digestString(toAction(p).actionDigest);
  assert.equal(new ProcessKey(p).id, `process:${digest}`);
  assert.equal(new ProcessKey(makeProcess({ argv: ['true'], description: 'other words' })).id, `process:${digest}`);
  const perRun = makeProcess({ argv: ['true'], cacheScope: 'per-run' });
  assert.equal(new ProcessKey(perRun).id, `process:${digestString(toAction(perRun).actionDigest)}`);
  const never = makeProcess({ argv: ['true'], cacheScope: 'never' });
  assert.notEqual(new ProcessKey(never).id, new ProcessKey(never).id);
  assert.equal(new ProcessKey(p).describe(), 'true');
});

test('the engine runs a process once within a run and, for cacheable scopes, across runs', async () => {
  const r = new CountingRunner();
  const engine = createEngine();
  const run1 = startRun(engine, r, 'one');
  await Promise.all([run1.get(new ProcessKey(p)), run1.get(new ProcessKey(p))]);
  assert.equal(r.calls, 1);
  const run2 = startRun(engine, r, 'two');
  await run2.get(new ProcessKey(p));
  assert.equal(r.calls, 1, 'memoized across runs (a daemon)');

  const perRun = makeProcess({ argv: ['true'], cacheScope: 'per-run' });
  await run1.get(new ProcessKey(perRun));
  await run1.get(new ProcessKey(perRun));
  assert.equal(r.calls, 2);
  // A per-run result is transient: the next run started after it computes it again.
  const run3 = startRun(engine, r, 'three');
  await run3.get(new ProcessKey(perRun));
  assert.equal(r.calls, 3, 'per-run: again in another run');
  assert.equal(r.contexts.at(-1)?.runId, 'three', 'with the context of the run that asked');

  const never = makeProcess({ argv: ['true'], cacheScope: 'never' });
  await run3.get(new ProcessKey(never));
  await run3.get(new ProcessKey(never));
  assert.equal(r.calls, 5);
});

test('a failure its scope would not cache is re-run by the next run, as without a daemon', async () => {
  const r = new CountingRunner();
  r.exitCode = 1;
  const engine = createEngine();
  const failing = makeProcess({ argv: ['false'] });
  const always = makeProcess({ argv: ['false', 'always'], cacheScope: 'always' });
  const run1 = startRun(engine, r, 'one');
  await run1.get(new ProcessKey(failing));
  await run1.get(new ProcessKey(failing));
  await run1.get(new ProcessKey(always));
  assert.equal(r.calls, 2, 'within a run: once each');
  const run2 = startRun(engine, r, 'two');
  await run2.get(new ProcessKey(failing));
  await run2.get(new ProcessKey(always));
  assert.equal(r.calls, 3, 'the failed `successful` process runs again; the `always` one is kept');
});

test('cancelling the only run that waits for a process cancels the process', async () => {
  const r = new CountingRunner();
  r.delayMs = 10_000;
  const engine = createEngine();
  const ac = new AbortController();
  const pending = startRun(engine, r, 'one', ac.signal).get(new ProcessKey(p));
  await sleep(10);
  ac.abort();
  await assert.rejects(pending, (e: unknown) => isAbortError(e));
  assert.equal(r.contexts.at(-1)?.signal.aborted, true, 'the process was told to stop');
});

test('a run after a cancelled one recomputes with its own context, not the dead run’s', async () => {
  const r = new CountingRunner();
  r.delayMs = 50;
  const engine = createEngine();
  const ac = new AbortController();
  const first = startRun(engine, r, 'dead', ac.signal).get(new ProcessKey(p));
  await sleep(5);
  ac.abort();
  await assert.rejects(first, (e: unknown) => isAbortError(e));
  const result = await startRun(engine, r, 'live').get(new ProcessKey(p));
  assert.equal(result.exitCode, 0);
  assert.equal(r.contexts.at(-1)?.runId, 'live');
  assert.equal(r.contexts.at(-1)?.signal.aborted, false);
});

test('early cut-off: the same outputs from a different source or timing are an equal value', () => {
  const key = new ProcessKey(p);
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
    const r1 = await startRun(createEngine(), runner, 'a', undefined, store).get(new ProcessKey(echo));
    assert.equal(r1.source, 'ran locally');
    assert.equal(await readText(store, r1.stdout), 'hello\n');
    const r2 = await startRun(createEngine(), runner, 'b', undefined, store).get(new ProcessKey(echo));
    assert.equal(r2.source, 'local cache');
  } finally {
    await store.close();
    await removeDir(dir);
  }
});
