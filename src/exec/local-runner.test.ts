import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { isFailureError } from '../core/index.js';
import { createLocalStore, treeFromBytes, type LocalStore } from '../store/index.js';
import { commandRunnerContract } from './command-runner-contract.js';
import type { KeepSandboxes } from './local-runner.js';
import { isProcessAlive } from './process-group.js';
import { makeProcess } from './process.js';
import { spawnHelperPid } from './spawner.js';
import { RecordingObserver, entriesOf, eventually, localRunnerFixture, makeCtx, makeTempDir, readText, removeDir } from './test-support.js';
import type { CommandRunner } from './types.js';

const PATH = '/usr/bin:/bin';

interface Setup {
  readonly runner: CommandRunner;
  readonly store: LocalStore;
  readonly sandboxRoot: string;
  dispose(): Promise<void>;
}

function setup(keepSandboxes: KeepSandboxes = 'never', killGraceMs?: number): Promise<Setup> {
  return localRunnerFixture({ keepSandboxes, ...(killGraceMs === undefined ? {} : { killGraceMs }) });
}

commandRunnerContract('local sandbox runner', () => setup());

test('inputs are materialized read-only, and the sandbox is removed afterwards', async () => {
  const s = await setup();
  try {
    const inputRoot = await treeFromBytes(s.store, [{ path: 'in.txt', content: 'original\n' }]);
    // root ignores permission bits, so the mode is what we can check everywhere; writing fails for anyone else.
    const r = await s.runner.run(
      makeCtx(),
      makeProcess({ argv: ['sh', '-c', 'stat -c %a in.txt; [ "$(id -u)" = 0 ] || { echo changed > in.txt; echo "rc=$?"; }; cat in.txt'], env: { PATH }, inputRoot }),
    );
    const out = await readText(s.store, r.stdout);
    assert.match(out, /^444\n/);
    if (process.getuid?.() !== 0) assert.match(out, /rc=[1-9]/, 'writing an input fails');
    assert.match(out, /original/);
    assert.deepEqual(await entriesOf(s.sandboxRoot), []);
    assert.equal(r.source, 'ran locally');
    assert.equal(r.actionResult.executionMetadata?.worker, 'local');
    assert.ok(r.executionMs !== null && r.executionMs >= 0 && r.executionMs <= r.durationMs + 5);
  } finally {
    await s.dispose();
  }
});

test('a timed-out process that ignores SIGTERM is killed with SIGKILL after the grace period', async () => {
  const s = await setup('never', 200);
  try {
    const t0 = Date.now();
    // An ignored signal stays ignored across exec, so the sleeps ignore SIGTERM too.
    const r = await s.runner.run(makeCtx(), makeProcess({ argv: ['sh', '-c', 'trap "" TERM; sleep 60 & echo $!; sleep 60'], env: { PATH }, timeoutMs: 300 }));
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, 128 + 9, 'killed by SIGKILL');
    assert.ok(Date.now() - t0 < 5000);
    const pid = Number((await readText(s.store, r.stdout)).trim());
    assert.equal(await isProcessAlive(pid), false);
  } finally {
    await s.dispose();
  }
});

test('keep_sandboxes=on_failure keeps only failing sandboxes, with a __run.sh that reproduces the run', async () => {
  const s = await setup('on_failure');
  try {
    const observer = new RecordingObserver();
    const inputRoot = await treeFromBytes(s.store, [{ path: 'src/data.txt', content: 'some data\n' }]);
    const ok = await s.runner.run(makeCtx({ observer }), makeProcess({ argv: ['true'], env: { PATH } }));
    assert.equal(ok.exitCode, 0);
    assert.deepEqual(await entriesOf(s.sandboxRoot), []);

    const script = `cat data.txt; echo "$GREETING"; printf '%s|' "$@"; pwd; exit 7`;
    const failing = makeProcess({
      argv: ['sh', '-c', script, 'arg0', "it's", 'two words', '$HOME'],
      env: { PATH, GREETING: 'hello "world"' },
      inputRoot,
      workingDirectory: 'src',
      description: 'a failing process',
    });
    const r = await s.runner.run(makeCtx({ observer }), failing);
    assert.equal(r.exitCode, 7);
    const kept = await entriesOf(s.sandboxRoot);
    assert.equal(kept.length, 1);
    const dir = join(s.sandboxRoot, kept[0] ?? '');
    assert.deepEqual(observer.kept, [dir]);
    const runSh = join(dir, '__run.sh');
    assert.ok(((await stat(runSh)).mode & 0o100) !== 0, '__run.sh is executable');

    // Re-run it with a polluted environment: the script must not let it leak in.
    const { stdout } = await promisify(execFile)(runSh, [], { env: { PATH, GREETING: 'leaked', EXTRA: 'x' } }).catch((e: { stdout: string; code: number }) => {
      assert.equal(e.code, 7);
      return e;
    });
    assert.equal(stdout, await readText(s.store, r.stdout));
    assert.match(await readFile(runSh, 'utf8'), /a failing process/);
    await removeDir(dir);
  } finally {
    await s.dispose();
  }
});

test('keep_sandboxes=always keeps successful sandboxes too; never keeps none', async () => {
  for (const [mode, expected] of [['always', 2], ['never', 0]] as const) {
    const s = await setup(mode);
    try {
      await s.runner.run(makeCtx(), makeProcess({ argv: ['true'], env: { PATH } }));
      await s.runner.run(makeCtx(), makeProcess({ argv: ['false'], env: { PATH } }));
      assert.equal((await entriesOf(s.sandboxRoot)).length, expected, mode);
    } finally {
      await s.dispose();
    }
  }
});

test('a missing input blob fails the run and leaves no sandbox behind', async () => {
  const s = await setup();
  try {
    const other = await makeTempDir();
    const otherStore = createLocalStore({ dir: other });
    const inputRoot = await treeFromBytes(otherStore, [{ path: 'x.txt', content: 'only elsewhere' }]);
    await otherStore.close();
    await removeDir(other);
    await assert.rejects(s.runner.run(makeCtx(), makeProcess({ argv: ['true'], env: { PATH }, inputRoot })), (e: unknown) => isFailureError(e));
    assert.deepEqual(await entriesOf(s.sandboxRoot), []);
  } finally {
    await s.dispose();
  }
});

test('argv[0] with a slash is a path relative to the working directory; a non-executable one is named', async () => {
  const s = await setup();
  try {
    const inputRoot = await treeFromBytes(s.store, [
      { path: 'bin/tool', content: '#!/bin/sh\necho "tool $0 $1"\n', isExecutable: true },
      { path: 'bin/data', content: 'not a program' },
    ]);
    const r = await s.runner.run(makeCtx(), makeProcess({ argv: ['./tool', 'x'], env: { PATH }, inputRoot, workingDirectory: 'bin' }));
    assert.equal(await readText(s.store, r.stdout), 'tool ./tool x\n');
    await assert.rejects(
      s.runner.run(makeCtx(), makeProcess({ argv: ['bin/data'], env: { PATH }, inputRoot })),
      (e: unknown) => isFailureError(e) && e.failure.reason === 'program-not-found' && /not executable/.test((e.failure.notes ?? []).join()),
    );
  } finally {
    await s.dispose();
  }
});

test('without PATH in its env a process gets execvp’s default, never trews’ own', async () => {
  const s = await setup();
  try {
    // `env` itself is found on the default /bin:/usr/bin, and sees no PATH (sh would invent one).
    const r = await s.runner.run(makeCtx(), makeProcess({ argv: ['env'] }));
    assert.equal(r.exitCode, 0);
    assert.equal(await readText(s.store, r.stdout), '');
    await assert.rejects(s.runner.run(makeCtx(), makeProcess({ argv: ['node', '--version'], env: { PATH: '/nonexistent' } })), (e: unknown) =>
      isFailureError(e) && e.failure.tag === 'environment' && /\/nonexistent/.test((e.failure.notes ?? []).join()),
    );
  } finally {
    await s.dispose();
  }
});

test('the observer hears started then finished, with the result', async () => {
  const s = await setup();
  try {
    const observer = new RecordingObserver();
    await s.runner.run(makeCtx({ observer }), makeProcess({ argv: ['true'], env: { PATH } }));
    await s.runner.run(makeCtx({ observer }), makeProcess({ argv: ['no-such-tool'], env: { PATH } })).catch(() => undefined);
    assert.equal(observer.events.length, 4);
    const [a, b, c, d] = observer.events;
    assert.match(a ?? '', /^started \d+$/);
    assert.equal(b, a?.replace('started', 'finished'));
    assert.equal(d, c?.replace('started', 'finished'));
    assert.equal(observer.results[0]?.source, 'ran locally');
    assert.ok(isFailureError(observer.results[1]?.error));
  } finally {
    await s.dispose();
  }
});

test('many processes in a row leave nothing behind in the sandbox root', async () => {
  const s = await setup();
  try {
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.runner.run(makeCtx(), makeProcess({ argv: ['sh', '-c', `echo ${i} > o`], env: { PATH }, outputFiles: ['o'] }))));
    assert.deepEqual(await entriesOf(s.sandboxRoot), []);
    await writeFile(join(s.sandboxRoot, 'unrelated'), '');
  } finally {
    await s.dispose();
  }
});

test('an input file where an output needs a directory is a clear failure', async () => {
  const s = await setup();
  try {
    const inputRoot = await treeFromBytes(s.store, [{ path: 'gen', content: 'a file, not a directory' }]);
    await assert.rejects(
      s.runner.run(makeCtx(), makeProcess({ argv: ['true'], env: { PATH }, inputRoot, outputFiles: ['gen/out.txt'] })),
      (e: unknown) => isFailureError(e) && e.failure.reason === 'output-parent-conflict' && /`gen`/.test(e.failure.message),
    );
    assert.deepEqual(await entriesOf(s.sandboxRoot), []);
  } finally {
    await s.dispose();
  }
});

/**
 * A child "trews" that runs a process (a shell with a background sleep, both
 * writing their pids to `pidFile`) and, once both pids are written, leaves
 * by `leave` (JS code): the process group must not outlive it.
 */
function trewsThatLeaves(dir: string, pidFile: string, leave: string): string {
  return `
      import { createLocalStore } from ${JSON.stringify(new URL('../store/index.js', import.meta.url).href)};
      import { createLocalRunner, makeProcess } from ${JSON.stringify(new URL('./index.js', import.meta.url).href)};
      import { existsSync, readFileSync } from 'node:fs';
      const store = createLocalStore({ dir: ${JSON.stringify(join(dir, 'store'))} });
      const runner = createLocalRunner({ store, sandboxRoot: ${JSON.stringify(join(dir, 'sandboxes'))} });
      const ctx = { signal: new AbortController().signal, runId: 'r', logger: { enabled: () => false, debug() {}, info() {}, warn() {}, error() {}, trace() {}, level: 'error' } };
      runner.run(ctx, makeProcess({ argv: ['sh', '-c', 'sleep 60 & echo $! >> "$P"; echo $$ >> "$P"; sleep 60'], env: { PATH: '/usr/bin:/bin', P: ${JSON.stringify(pidFile)} } }));
      const poll = setInterval(() => {
        if (existsSync(${JSON.stringify(pidFile)}) && readFileSync(${JSON.stringify(pidFile)}, 'utf8').split('\\n').filter(Boolean).length === 2) ${leave};
      }, 10);
    `;
}

/**
 * The two pids the process wrote, once each is gone. The deadline is for a
 * machine under heavy load (the kill is sent at once; reaping can lag): 3 s
 * was missed at load 11–16.
 */
async function allDie(pidFile: string, timeoutMs = 20_000): Promise<void> {
  const pids = (await readFile(pidFile, 'utf8')).split('\n').filter(Boolean).map(Number);
  assert.equal(pids.length, 2);
  for (const pid of pids) await eventually(async () => !(await isProcessAlive(pid)), timeoutMs, `pid ${pid} to die`);
}

test('if trews exits while a process runs, the process group is killed on the way out', async () => {
  const dir = await makeTempDir();
  try {
    const pidFile = join(dir, 'pids');
    const script = trewsThatLeaves(dir, pidFile, 'process.exit(3)');
    const r = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]).catch((e: { code: number }) => e);
    assert.equal((r as { code?: number }).code, 3);
    await allDie(pidFile);
  } finally {
    await removeDir(dir);
  }
});

test('if trews is SIGKILLed while a process runs (no exit hook), the spawner kills the process group', async () => {
  const dir = await makeTempDir();
  try {
    const pidFile = join(dir, 'pids');
    const script = trewsThatLeaves(dir, pidFile, "process.kill(process.pid, 'SIGKILL')");
    const r = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]).catch((e: { signal: string }) => e);
    assert.equal((r as { signal?: string }).signal, 'SIGKILL');
    await allDie(pidFile);
  } finally {
    await removeDir(dir);
  }
});

test('processes are started by the spawner helper, not by trews: the same argv0, env and working directory as inline', async () => {
  const inline = await localRunnerFixture({ spawner: 'inline' });
  const helper = await setup();
  try {
    const inputRoot = await treeFromBytes(helper.store, [{ path: 'd/in.txt', content: 'x\n' }]);
    const proc = makeProcess({
      argv: ['sh', '-c', 'echo "$0 ppid-is-us=$([ "$PPID" = "$TREWS_PID" ] && echo yes || echo no)"; env | sed "s|^PWD=.*/root/|PWD=root/|" | sort; pwd -P | sed "s|.*/root/|root/|"; readlink /proc/self/fd/0'],
      env: { PATH, TREWS_PID: String(process.pid), ODD: 'a b\n"c"' },
      inputRoot,
      workingDirectory: 'd',
    });
    const fromHelper = await readText(helper.store, (await helper.runner.run(makeCtx(), proc)).stdout);
    const fromInline = await readText(inline.store, (await inline.runner.run(makeCtx(), makeProcess({ ...proc, inputRoot: await treeFromBytes(inline.store, [{ path: 'd/in.txt', content: 'x\n' }]) }))).stdout);
    assert.equal(fromHelper.replace('ppid-is-us=no', 'ppid-is-us=yes'), fromInline);
    assert.match(fromHelper, /^sh ppid-is-us=no\n/, 'its parent is the helper');
    assert.match(fromInline, /^sh ppid-is-us=yes\n/);
    assert.match(fromHelper, /^"c"\nODD=a b\nPATH=\/usr\/bin:\/bin\n(PWD=root\/d\n)?TREWS_PID=\d+\nroot\/d\n\/dev\/null\n$/m);
  } finally {
    await helper.dispose();
    await inline.dispose();
  }
});

test('a spawner that dies under a running process fails it (its group killed), and the next process gets a new spawner', async () => {
  const s = await setup();
  try {
    const dir = await makeTempDir();
    const pidFile = join(dir, 'pid');
    const running = s.runner.run(makeCtx(), makeProcess({ argv: ['sh', '-c', `echo $$ > ${pidFile}; sleep 60`], env: { PATH } }));
    await eventually(async () => (await readFile(pidFile, 'utf8').catch(() => '')).endsWith('\n'), 10_000, 'the process started');
    const helperPid = spawnHelperPid();
    assert.ok(helperPid !== undefined);
    process.kill(helperPid, 'SIGKILL');
    await assert.rejects(running, (e: unknown) => isFailureError(e) && e.failure.reason === 'spawner-died');
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    await eventually(async () => !(await isProcessAlive(pid)), 10_000, 'the orphaned process was killed');
    const r = await s.runner.run(makeCtx(), makeProcess({ argv: ['true'], env: { PATH } }));
    assert.equal(r.exitCode, 0);
    assert.notEqual(spawnHelperPid(), helperPid);
    await removeDir(dir);
  } finally {
    await s.dispose();
  }
});
