import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EMPTY_DIGEST, digestOf, nullLogger, type AbsPath, type Digest } from '../core/index.js';
import { createEngine } from '../engine/index.js';
import { OptionRegistry, parseCommandLine, registerGlobalOptions, resolveOptions, type Options } from '../options/index.js';
import { ActionResultSchema } from '../reapi/index.js';
import { SnapshotKey, createLocalStore, flushAllStaged, readForUpload } from '../store/index.js';
import { commandRunnerContract } from './command-runner-contract.js';
import { makeCommandRunner } from './make-command-runner.js';
import { makeProcess } from './process.js';
import { RecordingObserver, entriesOf, makeCtx, makeTempDir, removeDir } from './test-support.js';
import { toAction } from './to-action.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

const PATH = '/usr/bin:/bin';

function optionsFrom(flags: string[]): Options {
  const registry = new OptionRegistry();
  registerGlobalOptions(registry);
  const cl = parseCommandLine(flags, registry);
  if (!cl.ok) throw new Error(cl.failure.message);
  const o = resolveOptions({ registry, commandLine: cl.value, env: {}, config: null, buildRoot: '/r', homeDir: '/h' });
  if (!o.ok) throw new Error(o.failure.message);
  return o.value;
}

async function setup(flags: string[] = []): Promise<{ runner: CommandRunner; dir: string; sandboxRoot: string; store: ReturnType<typeof createLocalStore>; dispose(): Promise<void> }> {
  const dir = await makeTempDir();
  const store = createLocalStore({ dir: join(dir, 'store') });
  const sandboxRoot = join(dir, 'sandboxes');
  const runner = makeCommandRunner({ options: optionsFrom(flags), store, logger: nullLogger, sandboxRoot });
  return {
    runner,
    dir,
    sandboxRoot,
    store,
    dispose: async () => {
      await store.close();
      await removeDir(dir);
    },
  };
}

commandRunnerContract('the default stack from makeCommandRunner', () => setup());

test('the stack honours process_execution_local_parallelism, caches, and runs per-run processes once per run', async () => {
  const s = await setup(['--process-execution-local-parallelism=1']);
  try {
    const file = join(s.dir, 'stamps');
    const stamp = (id: string, cacheScope: Process['cacheScope'] = 'successful'): Process =>
      makeProcess({ argv: ['sh', '-c', `echo "s $(date +%s%N)" >> "$F"; sleep 0.1; echo "e $(date +%s%N)" >> "$F"`, id], env: { PATH, F: file }, cacheScope });
    const ctx = makeCtx({ runId: 'one' });
    await Promise.all([stamp('a'), stamp('b'), stamp('c')].map((p) => s.runner.run(ctx, p)));
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    assert.deepEqual(lines.map((l) => l[0]), ['s', 'e', 's', 'e', 's', 'e'], 'one at a time');

    assert.equal((await s.runner.run(ctx, stamp('a'))).source, 'local cache');
    const perRun = stamp('p', 'per-run');
    await Promise.all([s.runner.run(ctx, perRun), s.runner.run(ctx, perRun)]);
    await s.runner.run(ctx, perRun);
    assert.equal((await readFile(file, 'utf8')).trim().split('\n').length, 8, 'the per-run process ran once in run one');
    await s.runner.run(makeCtx({ runId: 'two' }), perRun);
    assert.equal((await readFile(file, 'utf8')).trim().split('\n').length, 10, 'and once more in run two');
  } finally {
    await s.dispose();
  }
});

test('keep_sandboxes reaches the local runner', async () => {
  const s = await setup(['--keep-sandboxes=on_failure']);
  try {
    const observer = new RecordingObserver();
    await s.runner.run(makeCtx({ observer }), makeProcess({ argv: ['false'], env: { PATH } }));
    await s.runner.run(makeCtx({ observer }), makeProcess({ argv: ['true'], env: { PATH } }));
    assert.equal((await entriesOf(s.sandboxRoot)).length, 1);
    assert.equal(observer.kept.length, 1);
  } finally {
    await s.dispose();
  }
});

test('one observer report per request through the whole stack: ran, then from the cache', async () => {
  const s = await setup();
  try {
    const observer = new RecordingObserver();
    const p = makeProcess({ argv: ['true'], env: { PATH } });
    await s.runner.run(makeCtx({ observer }), p);
    await s.runner.run(makeCtx({ observer }), p);
    assert.equal(observer.events.length, 4);
    assert.deepEqual(observer.results.map((r) => r.source), ['ran locally', 'local cache']);
  } finally {
    await s.dispose();
  }
});

/** A stand-in for remote execution: answers without running anything. */
class FakeRemote implements CommandRunner {
  calls = 0;
  /** What the local store lacked of each input root when this was asked to run it (what an upload would miss). */
  readonly missingInputs: Digest[][] = [];
  readonly #store: { findMissing(d: readonly Digest[]): Promise<Digest[]> } | undefined;
  constructor(store?: { findMissing(d: readonly Digest[]): Promise<Digest[]> }) {
    this.#store = store;
  }
  async run(ctx: ExecContext, p: Process): Promise<ProcessResult> {
    this.calls++;
    if (this.#store !== undefined) this.missingInputs.push(await this.#store.findMissing([p.inputRoot]));
    ctx.observation?.markStarted();
    return {
      exitCode: 0,
      timedOut: false,
      stdout: EMPTY_DIGEST,
      stderr: EMPTY_DIGEST,
      outputRoot: EMPTY_DIGEST,
      actionDigest: toAction(p).actionDigest,
      source: 'remote',
      durationMs: 0,
      executionMs: 0,
      actionResult: create(ActionResultSchema, { exitCode: 0 }),
    };
  }
}

test('the remote seam: execution replaces the local sandbox, wrapCache sits under the local cache', async () => {
  const dir = await makeTempDir();
  const store = createLocalStore({ dir: join(dir, 'store') });
  try {
    const execution = new FakeRemote();
    const wrapped: CommandRunner[] = [];
    let wrapperCalls = 0;
    const runner = makeCommandRunner({
      options: optionsFrom([]),
      store,
      logger: nullLogger,
      sandboxRoot: join(dir, 'sandboxes'),
      remote: {
        execution,
        wrapCache: (inner) => {
          wrapped.push(inner);
          return { run: (ctx, p) => (wrapperCalls++, inner.run(ctx, p)) };
        },
      },
    });
    assert.equal(wrapped.length, 1, 'the remote cache wraps the executor');
    const p = makeProcess({ argv: ['no-such-program-anywhere'] });
    assert.equal((await runner.run(makeCtx(), p)).source, 'remote');
    // The remote result was written to the local cache, which now answers first.
    assert.equal((await runner.run(makeCtx(), p)).source, 'local cache');
    assert.equal(execution.calls, 1);
    assert.equal(wrapperCalls, 1);
    assert.deepEqual(await entriesOf(join(dir, 'sandboxes')), []);
  } finally {
    await store.close();
    await removeDir(dir);
  }
});

test('remote execution is handed an input root that may be only staged: nothing is written on the way, and an upload reads all of it', async () => {
  const dir = await makeTempDir();
  const store = createLocalStore({ dir: join(dir, 'store') });
  try {
    const root = join(dir, 'ws');
    await mkdir(join(root, 'src'), { recursive: true });
    await writeFile(join(root, 'src', 'a.txt'), 'a');
    const ws = { root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: false } };
    const snap = await createEngine().startRun().get(new SnapshotKey(ws, store, ['src/a.txt']));
    assert.deepEqual((await store.findMissing([snap.digest])).length, 1, 'the snapshot alone writes nothing');
    const execution = new FakeRemote(store);
    const runner = makeCommandRunner({ options: optionsFrom([]), store, logger: nullLogger, sandboxRoot: join(dir, 'sandboxes'), remote: { execution } });
    assert.equal((await runner.run(makeCtx(), makeProcess({ argv: ['cat', 'src/a.txt'], inputRoot: snap.digest }))).source, 'remote');
    // The upload reads what is staged as this process holds it (store/staged-read.ts), not from the store.
    assert.deepEqual(execution.missingInputs, [[snap.digest]]);
    assert.ok((await readForUpload(store, snap.digest)) !== undefined, 'the root Directory');
    assert.equal(Buffer.from((await readForUpload(store, digestOf('a')))!).toString('utf8'), 'a');
    // The graph names the tree: the next flush writes it whole.
    await flushAllStaged(store);
    assert.deepEqual(await store.findMissing([snap.digest, digestOf('a')]), []);
  } finally {
    await store.close();
    await removeDir(dir);
  }
});

test('a process of a remote environment goes to environmentExecution, never to the local sandbox; without one it is refused, not run here', async () => {
  const dir = await makeTempDir();
  const store = createLocalStore({ dir: join(dir, 'store') });
  try {
    const marker = join(dir, 'ran-here');
    const proc = (remoteEnvironment?: string): Process =>
      makeProcess({
        argv: ['sh', '-c', 'touch "$M"'],
        env: { PATH, M: marker },
        platform: [{ name: 'OSFamily', value: 'linux' }],
        cacheScope: 'never',
        ...(remoteEnvironment !== undefined ? { remoteEnvironment } : {}),
      });
    const seen: Process[] = [];
    const fake: CommandRunner = {
      async run(_ctx: ExecContext, p: Process): Promise<ProcessResult> {
        seen.push(p);
        const a = toAction(p);
        return { exitCode: 0, timedOut: false, stdout: EMPTY_DIGEST, stderr: EMPTY_DIGEST, outputRoot: EMPTY_DIGEST, actionDigest: a.actionDigest, source: 'remote', durationMs: 0, executionMs: 0, actionResult: create(ActionResultSchema, {}) };
      },
    };
    const routed = makeCommandRunner({ options: optionsFrom([]), store, logger: nullLogger, sandboxRoot: join(dir, 'sandboxes'), remote: { environmentExecution: fake } });
    assert.equal((await routed.run(makeCtx(), proc('linux_remote'))).source, 'remote');
    assert.equal(seen.length, 1);
    assert.equal((await routed.run(makeCtx(), proc())).source, 'ran locally', 'a process with no remote environment stays local');
    assert.equal(seen.length, 1);

    await removeDir(marker).catch(() => undefined);
    const bare = makeCommandRunner({ options: optionsFrom([]), store, logger: nullLogger, sandboxRoot: join(dir, 'sandboxes2') });
    await assert.rejects(bare.run(makeCtx(), proc('linux_remote')), (e: unknown) => {
      const f = (e as { failure?: { reason: string; message: string } }).failure;
      assert.equal(f?.reason, 'environment-needs-remote-server');
      assert.match(f.message, /its environment `linux_remote` runs processes remotely, and remote_execution_server is not set/);
      return true;
    });
    await assert.rejects(readFile(marker), /ENOENT/, 'it did not run on this machine');
  } finally {
    await store.close();
    await removeDir(dir);
  }
});
