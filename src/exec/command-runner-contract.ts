// The behaviour every CommandRunner must have, as a reusable node:test suite:
// the local sandbox, bounded and cached runners run it in exec's tests, and the
// remote cache and remote execution runners (through a real `trews
// remote-server`) run the same function in test/remote-runner-contract.test.ts.
// Real child processes, real files. Test support: tests import this file
// directly; exec's index.ts does not export it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAbortError, isFailureError, type Digest } from '../core/index.js';
import { treeFromBytes, type LocalStore } from '../store/index.js';
import { isProcessAlive } from './process-group.js';
import { makeProcess, type ProcessInit } from './process.js';
import { entriesOf, eventually, listTree, makeCtx, makeTempDir, readText, removeDir, sleep } from './test-support.js';
import type { CommandRunner, ProcessResult } from './types.js';

export interface CommandRunnerFixture {
  readonly runner: CommandRunner;
  /** The local store: inputs are put here, and results' blobs are read from here. */
  readonly store: LocalStore;
  /** Where the runner makes sandboxes, when it is local: checked empty after a cancellation. */
  readonly sandboxRoot?: string;
  /** Releases whatever the fixture holds (temp dirs, servers, connections). */
  dispose(): Promise<void>;
}

export interface CommandRunnerContractOptions {
  /**
   * The processes run on this machine and see its file system outside the
   * sandbox (local runners, or a remote server on 127.0.0.1), so the suite may
   * check by pid that killed processes are gone. Default true.
   */
  readonly sameMachine?: boolean;
  /**
   * The reason of the failure for a program that does not exist. A local
   * runner knows it as `program-not-found`; a remote one learns it from the
   * server's status (`remote-execution-failed`), with the server's message.
   */
  readonly missingProgramReason?: string;
  /**
   * When a cancelled process is gone: before the run rejects (a local
   * runner waits for its group), or soon after (a remote runner asks the
   * server to cancel; it cannot wait for the kill).
   */
  readonly killedOnCancel?: 'before-rejecting' | 'soon-after';
  /**
   * The process can write a file outside its sandbox for the test to watch
   * (default true). Strict sandboxes cannot: their cancellation is tested
   * on its own (strict-sandbox.test.ts).
   */
  readonly writesOutside?: boolean;
}

/** A PATH with the usual tools; processes get nothing from ours. */
const PATH = '/usr/bin:/bin';

function sh(script: string, init: Omit<ProcessInit, 'argv'> = {}): ReturnType<typeof makeProcess> {
  return makeProcess({ description: `sh -c ${script}`, ...init, argv: ['sh', '-c', script], env: { PATH, ...(init.env ?? {}) } });
}

export function commandRunnerContract(
  name: string,
  makeRunner: () => Promise<CommandRunnerFixture>,
  options: CommandRunnerContractOptions = {},
): void {
  const sameMachine = options.sameMachine ?? true;
  const missingProgramReason = options.missingProgramReason ?? 'program-not-found';
  const killedOnCancel = options.killedOnCancel ?? 'before-rejecting';

  const withRunner = (fn: (f: CommandRunnerFixture) => Promise<void>) => async (): Promise<void> => {
    const fixture = await makeRunner();
    try {
      await fn(fixture);
    } finally {
      await fixture.dispose();
    }
  };

  const run = (f: CommandRunnerFixture, init: ReturnType<typeof makeProcess>, signal?: AbortSignal): Promise<ProcessResult> =>
    f.runner.run(makeCtx(signal === undefined ? {} : { signal }), init);

  describe(`CommandRunner contract: ${name}`, () => {
    it(
      'reports the exit code; a non-zero one is a result, not an error',
      withRunner(async (f) => {
        assert.equal((await run(f, sh('exit 0'))).exitCode, 0);
        const r = await run(f, sh('exit 3'));
        assert.equal(r.exitCode, 3);
        assert.equal(r.timedOut, false);
        assert.equal(r.actionResult.exitCode, 3);
      }),
    );

    it(
      'captures stdout and stderr separately',
      withRunner(async (f) => {
        const r = await run(f, sh('echo to-out; echo to-err >&2; printf "no newline"'));
        assert.equal(await readText(f.store, r.stdout), 'to-out\nno newline');
        assert.equal(await readText(f.store, r.stderr), 'to-err\n');
      }),
    );

    it(
      'captures output files and directories, nested, with the executable bit',
      withRunner(async (f) => {
        const script = [
          'mkdir -p out/deep gen/sub',
          'echo a > out/deep/a.txt',
          'printf "#!/bin/sh\\necho hi\\n" > tool && chmod +x tool',
          'echo x > gen/x.txt',
          'echo y > gen/sub/y.txt',
          'printf "#!/bin/sh\\n" > gen/sub/run && chmod 755 gen/sub/run',
          'echo not-declared > stray.txt',
        ].join(' && ');
        const r = await run(f, sh(script, { outputFiles: ['tool', 'out/deep/a.txt'], outputDirectories: ['gen'] }));
        assert.equal(r.exitCode, 0, await readText(f.store, r.stderr));
        const tree = await listTree(f.store, r.outputRoot);
        assert.deepEqual([...tree.keys()].sort(), ['gen', 'gen/sub', 'gen/sub/run', 'gen/sub/y.txt', 'gen/x.txt', 'out', 'out/deep', 'out/deep/a.txt', 'tool']);
        const file = (p: string): { digest: Digest; executable: boolean } => {
          const e = tree.get(p);
          assert.ok(e?.kind === 'file', `${p} is a file`);
          return e;
        };
        assert.equal(await readText(f.store, file('out/deep/a.txt').digest), 'a\n');
        assert.equal(file('out/deep/a.txt').executable, false);
        assert.equal(file('tool').executable, true);
        assert.equal(file('gen/sub/run').executable, true);
        assert.equal(file('gen/sub/y.txt').executable, false);
        assert.equal(await readText(f.store, file('gen/sub/y.txt').digest), 'y\n');
        assert.deepEqual(r.actionResult.outputFiles.map((o) => o.path).sort(), ['out/deep/a.txt', 'tool']);
        assert.deepEqual(r.actionResult.outputDirectories.map((o) => o.path), ['gen']);
      }),
    );

    it(
      'leaves declared outputs that were not produced out of the result',
      withRunner(async (f) => {
        const r = await run(f, sh('echo here > made.txt', { outputFiles: ['made.txt', 'missing.txt', 'no/such/file'], outputDirectories: ['nodir'] }));
        assert.equal(r.exitCode, 0);
        const tree = await listTree(f.store, r.outputRoot);
        assert.equal(tree.has('missing.txt'), false);
        assert.equal(tree.has('nodir'), false);
        assert.equal(tree.get('made.txt')?.kind, 'file');
        assert.deepEqual(r.actionResult.outputFiles.map((o) => o.path), ['made.txt']);
        assert.equal(r.actionResult.outputDirectories.length, 0);
      }),
    );

    it(
      'creates the parents of declared outputs before the process starts',
      withRunner(async (f) => {
        const r = await run(f, sh('echo x > a/b/out.txt && mkdir d/e/outdir && echo y > d/e/outdir/f', { outputFiles: ['a/b/out.txt'], outputDirectories: ['d/e/outdir'] }));
        assert.equal(r.exitCode, 0, await readText(f.store, r.stderr));
        const tree = await listTree(f.store, r.outputRoot);
        assert.equal(tree.get('a/b/out.txt')?.kind, 'file');
        assert.equal(tree.get('d/e/outdir/f')?.kind, 'file');
      }),
    );

    it(
      'gives the process exactly its env, nothing inherited',
      withRunner(async (f) => {
        const env = { PATH, ONE: '1', SPACES: 'two words', EMPTY: '', QUOTE: `it's "quoted"` };
        const r = await run(f, makeProcess({ argv: ['env'], env }));
        assert.equal(r.exitCode, 0);
        const lines = (await readText(f.store, r.stdout)).split('\n').filter((l) => l !== '');
        assert.deepEqual(lines.sort(), Object.entries(env).map(([k, v]) => `${k}=${v}`).sort());
      }),
    );

    it(
      'runs in the working directory, with the input root around it and outputs relative to it',
      withRunner(async (f) => {
        const inputRoot = await treeFromBytes(f.store, [
          { path: 'pkg/sub/in.txt', content: 'input\n' },
          { path: 'top.txt', content: 'top\n' },
          { path: 'pkg/sub/tool.sh', content: '#!/bin/sh\necho from-tool\n', isExecutable: true },
        ]);
        const r = await run(
          f,
          sh('pwd; cat in.txt ../../top.txt; ./tool.sh; cat in.txt > copy.txt', { inputRoot, workingDirectory: 'pkg/sub', outputFiles: ['copy.txt'] }),
        );
        assert.equal(r.exitCode, 0, await readText(f.store, r.stderr));
        const [pwd, ...rest] = (await readText(f.store, r.stdout)).split('\n');
        assert.match(pwd ?? '', /\/pkg\/sub$/);
        assert.deepEqual(rest, ['input', 'top', 'from-tool', '']);
        const tree = await listTree(f.store, r.outputRoot);
        assert.deepEqual([...tree.keys()], ['copy.txt']);
      }),
    );

    it(
      'looks argv[0] up in the process PATH, and a missing program is a clear environment failure',
      withRunner(async (f) => {
        const ok = await run(f, makeProcess({ argv: ['true'], env: { PATH: `/nonexistent:${PATH}` } }));
        assert.equal(ok.exitCode, 0);
        await assert.rejects(run(f, makeProcess({ argv: ['trews-no-such-program'], env: { PATH } })), (e: unknown) => {
          assert.ok(isFailureError(e), String(e));
          assert.equal(e.failure.tag, 'environment');
          assert.equal(e.failure.reason, missingProgramReason);
          assert.match(e.failure.message, /trews-no-such-program/);
          assert.match([e.failure.message, ...(e.failure.notes ?? [])].join('\n'), /\/usr\/bin:\/bin/);
          return true;
        });
      }),
    );

    it(
      'kills a timed-out process and everything it started',
      withRunner(async (f) => {
        const t0 = Date.now();
        const r = await run(f, sh('sleep 60 & echo $!; sleep 60', { timeoutMs: 400 }));
        assert.equal(r.timedOut, true);
        assert.notEqual(r.exitCode, 0);
        assert.ok(Date.now() - t0 < 10_000, 'the timeout was enforced');
        if (sameMachine) {
          const pid = Number((await readText(f.store, r.stdout)).trim());
          assert.ok(pid > 0);
          await eventually(async () => !(await isProcessAlive(pid)), 3000, `background pid ${pid} to die`);
        }
      }),
    );

    it(
      'kills what a process left running in its group when it exits normally',
      withRunner(async (f) => {
        const r = await run(f, sh('sleep 60 & echo $!'));
        assert.equal(r.exitCode, 0);
        if (sameMachine) {
          const pid = Number((await readText(f.store, r.stdout)).trim());
          assert.ok(pid > 0);
          assert.equal(await isProcessAlive(pid), false, `background pid ${pid} survived its parent`);
        }
      }),
    );

    it(
      'on cancellation kills every process, removes the sandbox and rejects with an AbortError',
      { skip: options.writesOutside === false ? 'the process cannot write outside its sandbox' : false },
      withRunner(async (f) => {
        const dir = await makeTempDir('trews-contract-');
        try {
          const pidFile = join(dir, 'pids');
          const before = f.sandboxRoot === undefined ? [] : await entriesOf(f.sandboxRoot);
          const ac = new AbortController();
          // The pid file lies outside the sandbox on purpose: the test must see the pids while the process runs.
          const p = run(f, sh('sleep 60 & echo $! >> "$PIDS"; echo $$ >> "$PIDS"; sleep 60', { env: { PIDS: pidFile } }), ac.signal);
          let pids: number[] = [];
          await eventually(async () => {
            pids = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
            return pids.length === 2;
          }, 10_000, 'the process to start');
          ac.abort();
          await assert.rejects(p, (e: unknown) => isAbortError(e));
          if (sameMachine && killedOnCancel === 'before-rejecting') for (const pid of pids) assert.equal(await isProcessAlive(pid), false, `pid ${pid} survived cancellation`);
          if (sameMachine && killedOnCancel === 'soon-after') for (const pid of pids) await eventually(async () => !(await isProcessAlive(pid)), 10_000, `pid ${pid} to die after cancellation`);
          if (f.sandboxRoot !== undefined) assert.deepEqual(await entriesOf(f.sandboxRoot), before);
        } finally {
          await removeDir(dir);
        }
      }),
    );

    it(
      'rejects at once when the signal is already aborted',
      withRunner(async (f) => {
        const ac = new AbortController();
        ac.abort();
        await assert.rejects(run(f, sh('echo never'), ac.signal), (e: unknown) => isAbortError(e));
        await sleep(0);
      }),
    );

    it(
      'runs processes concurrently and independently',
      withRunner(async (f) => {
        const results = await Promise.all([1, 2, 3, 4].map((i) => run(f, sh(`echo ${i} > o.txt; exit ${i}`, { outputFiles: ['o.txt'] }))));
        for (const [i, r] of results.entries()) {
          assert.equal(r.exitCode, i + 1);
          const tree = await listTree(f.store, r.outputRoot);
          const o = tree.get('o.txt');
          assert.ok(o?.kind === 'file');
          assert.equal(await readText(f.store, o.digest), `${i + 1}\n`);
        }
      }),
    );
  });
}
