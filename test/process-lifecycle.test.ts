// End-to-end: what a run leaves behind when it is interrupted or its daemon
// dies, and what a daemon answers while other clients and the file system keep
// it busy. Real CLI, real daemons, real processes in temp build roots; every
// daemon started here is stopped at the end (by its recorded pid if need be),
// and every process a test starts is stopped by its pid.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DaemonJanitor, daemonPid, isDaemonOf, makeRepo, spawnTrews, waitUntil, type SpawnedTrews, type TempRepo } from './helpers/index.js';

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

/** Alive and not a zombie (an orphan's zombie lingers until init reaps it, and some container inits never do). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function killIfRunning(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // Gone in between.
    }
  }
}

/** Pids written one per line into `file`, once there are `count` of them. */
function pidsIn(file: string, count: number): number[] | undefined {
  if (!existsSync(file)) return undefined;
  const pids = readFileSync(file, 'utf8').split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
  return pids.length >= count ? pids : undefined;
}

/**
 * A build root with its own store, sandbox directory (TMPDIR) and a scratch
 * directory processes report to (SCRATCH), so a test sees exactly the
 * sandboxes and processes it caused.
 */
interface Fixture {
  readonly repo: TempRepo;
  readonly env: Record<string, string>;
  readonly scratch: string;
  readonly sandboxes: string;
  cleanup(): Promise<void>;
}

async function fixture(files: Record<string, string>): Promise<Fixture> {
  const repo = await makeRepo(files);
  const base = await mkdtemp(join(tmpdir(), 'trews-lifecycle-'));
  const scratch = join(base, 'scratch');
  const tmp = join(base, 'tmp');
  await mkdir(scratch, { recursive: true });
  await mkdir(tmp, { recursive: true });
  return {
    repo,
    env: { TREWS_LOCAL_STORE_DIR: join(base, 'store'), TMPDIR: tmp, SCRATCH: scratch },
    scratch,
    sandboxes: join(tmp, `trews-${process.getuid?.() ?? ''}`, 'sandboxes'),
    cleanup: async () => {
      // A daemon still writing into .trews.d would race the removal.
      await janitor.stopAll();
      await repo.cleanup();
      await rm(base, { recursive: true, force: true });
    },
  };
}

function sandboxesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

function spawnVia(f: Fixture, args: string[], daemon: boolean): SpawnedTrews {
  const spawned = spawnTrews(args, { cwd: f.repo.root, env: f.env, daemon });
  spawned.child.stdin?.end('');
  return spawned;
}

describe('Ctrl-C in-process (--no-daemon)', () => {
  const BUILD = [
    // One dies at SIGTERM; the other ignores it, so only the SIGKILL a second later ends it.
    'test_shell_command(name="plain", command="echo $$ > $SCRATCH/plain; exec sleep 60", tools=["sleep"], extra_env_vars=["SCRATCH"])',
    'test_shell_command(name="stubborn", command="trap \\"\\" TERM; echo $$ > $SCRATCH/stubborn; sleep 60", tools=["sleep"], extra_env_vars=["SCRATCH"])',
    '',
  ].join('\n');

  // The first Ctrl-C waits for the processes to end; the second leaves at once, while the stubborn one still runs.
  for (const interrupts of [1, 2]) {
    it(`leaves no process and no sandbox behind (${interrupts === 1 ? 'one Ctrl-C' : 'a second Ctrl-C before the processes ended'})`, async () => {
      const f = await fixture({ 'a/BUILD': BUILD });
      const started: number[] = [];
      const run = spawnVia(f, ['--no-daemon', 'test', 'a:'], true);
      try {
        await waitUntil(() => pidsIn(join(f.scratch, 'plain'), 1) !== undefined && pidsIn(join(f.scratch, 'stubborn'), 1) !== undefined, 'both tests to start');
        const plain = pidsIn(join(f.scratch, 'plain'), 1)![0]!;
        const stubborn = pidsIn(join(f.scratch, 'stubborn'), 1)![0]!;
        started.push(plain, stubborn);
        assert.equal(sandboxesIn(f.sandboxes).length, 2, 'a sandbox per running test');
        run.child.kill('SIGINT');
        if (interrupts === 2) {
          await waitUntil(() => !isRunning(plain), 'the first Ctrl-C to stop the plain test');
          assert.ok(isRunning(stubborn), 'the stubborn test is still running (it ignores SIGTERM for a second)');
          run.child.kill('SIGINT');
        }
        const r = await run.result;
        assert.equal(r.code, 130, r.stderr);
        // Checked the moment trews has exited: cleaning up is part of the run, not left to chance.
        assert.deepEqual(sandboxesIn(f.sandboxes), [], 'no sandbox is left behind');
        for (const pid of started) await waitUntil(() => !isRunning(pid), `process ${pid} to be gone`, 5000);
      } finally {
        if (run.child.exitCode === null) run.child.kill('SIGKILL');
        killIfRunning(started);
        await f.cleanup();
      }
    });
  }
});

describe('a daemon killed with SIGKILL', () => {
  it('its spawner ends the process groups it orphaned, and the next daemon removes their sandboxes', async () => {
    const f = await fixture({
      // The test's shell and a background child of it: both in the test's process group.
      'a/BUILD': 'test_shell_command(name="long", command="sleep 60 & echo $! >> $SCRATCH/pids; echo $$ >> $SCRATCH/pids; wait", tools=["sleep"], extra_env_vars=["SCRATCH"])\n',
      'b/BUILD': 'target(name="t")\n',
    });
    let started: number[] = [];
    const run = spawnVia(f, ['test', 'a:long'], true);
    try {
      await waitUntil(() => pidsIn(join(f.scratch, 'pids'), 2) !== undefined, 'the test to start');
      janitor.note(f.repo.root);
      started = pidsIn(join(f.scratch, 'pids'), 2)!;
      const stale = sandboxesIn(f.sandboxes);
      assert.equal(stale.length, 1, 'the running test has a sandbox');
      const pid = daemonPid(f.repo.root)!;
      process.kill(pid, 'SIGKILL');
      const lost = await run.result;
      assert.equal(lost.code, 1, lost.stderr);
      assert.match(lost.stderr, /the trews daemon went away during the run/);
      await waitUntil(() => !isDaemonOf(pid, f.repo.root), 'the daemon to be gone');
      // The spawner that forked them (exec/spawner.ts) sees its pipe close and SIGKILLs their group; no successor needed.
      await waitUntil(() => started.every((p) => !isRunning(p)), 'the orphaned test processes to be ended');

      const next = await janitor.run(f.repo.root, ['list', 'b:'], { env: f.env });
      assert.deepEqual(next, { code: 0, stdout: 'b:t\n', stderr: '' });
      assert.notEqual(daemonPid(f.repo.root), pid);
      await waitUntil(() => !sandboxesIn(f.sandboxes).some((s) => stale.includes(s)), 'the stale sandbox to be removed');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      killIfRunning(started);
      await f.cleanup();
    }
  });
});

describe('Ctrl-C of `trews run`', () => {
  // The program starts a grandchild that writes a marker file until it is stopped;
  // a background job of a non-interactive shell ignores SIGINT, so only signalling
  // the program's whole process group ends it.
  const BUILD = [
    'run_shell_command(',
    '    name="spawner",',
    '    command="(while true; do date > $SCRATCH/marker; sleep 0.05; done) & echo $! > $SCRATCH/grandchild; wait",',
    ')',
    '',
  ].join('\n');

  for (const daemon of [true, false]) {
    it(`reaches the program and everything it started (${daemon ? 'through the daemon' : 'in-process'})`, async () => {
      const f = await fixture({ BUILD });
      let grandchild: number | undefined;
      const run = spawnVia(f, ['run', '//:spawner'], daemon);
      try {
        await waitUntil(() => pidsIn(join(f.scratch, 'grandchild'), 1) !== undefined && existsSync(join(f.scratch, 'marker')), 'the program to start');
        if (daemon) janitor.note(f.repo.root);
        grandchild = pidsIn(join(f.scratch, 'grandchild'), 1)![0]!;
        assert.ok(isRunning(grandchild));
        run.child.kill('SIGINT');
        await waitUntil(() => !isRunning(grandchild!), 'the grandchild to be stopped');
        const r = await run.result;
        assert.equal(r.code, 130, r.stderr);
        if (daemon) assert.ok(isDaemonOf(daemonPid(f.repo.root)!, f.repo.root), 'the daemon itself goes on');
      } finally {
        if (run.child.exitCode === null) run.child.kill('SIGKILL');
        if (grandchild !== undefined) killIfRunning([grandchild]);
        await f.cleanup();
      }
    });
  }
});

describe('a client whose options need another daemon', () => {
  it('never cancels another client’s run: that run finishes with its own exit code and output, and the new client is told', async () => {
    const f = await fixture({
      'a/BUILD': [
        'test_shell_command(',
        '    name="long",',
        '    command="echo $$ >> $SCRATCH/pids; while [ ! -e $SCRATCH/gate ]; do sleep 0.05; done; echo long output",',
        '    tools=["sleep"],',
        '    extra_env_vars=["SCRATCH"],',
        ')',
        '',
      ].join('\n'),
      'gen/BUILD': 'target(name="g")\n',
    });
    let started: number[] = [];
    const first = spawnVia(f, ['test', '--test-output=all', 'a:long'], true);
    try {
      await waitUntil(() => pidsIn(join(f.scratch, 'pids'), 1) !== undefined, 'the long test to start');
      janitor.note(f.repo.root);
      started = pidsIn(join(f.scratch, 'pids'), 1)!;
      const oldPid = daemonPid(f.repo.root)!;

      const second = await janitor.run(f.repo.root, ['--ignore=+["/gen/"]', 'list', '::'], { env: f.env });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, 'a:long\n');
      assert.equal(
        second.stderr,
        'trews: restarting daemon: option --ignore changed; the old daemon stays until its 1 run in progress ends, a new one serves this run\n',
      );
      const newPid = daemonPid(f.repo.root)!;
      assert.notEqual(newPid, oldPid);
      assert.ok(isDaemonOf(oldPid, f.repo.root), 'the old daemon still serves the first run');
      assert.equal(first.child.exitCode, null, 'the first run goes on');

      await writeFile(join(f.scratch, 'gate'), '');
      const r = await first.result;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /✓ a:long succeeded/);
      assert.match(r.stderr, /long output/);
      await waitUntil(() => !isDaemonOf(oldPid, f.repo.root), 'the old daemon to exit once its run is done');
      assert.equal(daemonPid(f.repo.root), newPid, 'the new daemon keeps serving');
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      killIfRunning(started);
      await f.cleanup();
    }
  });
});

describe('a burst of file events', () => {
  it('a run never sees a state older than its start, however far behind the watcher is', async () => {
    const f = await fixture({ BUILD: 'target(name="before")\n' });
    try {
      // 50,000 files (hard links: cheap to make) in 2,000 directories, whose deletion takes the
      // watcher seconds to digest (its tree is scanned whole for each directory removed), and
      // overflows the kernel's queue of events on the way.
      const junk = join(f.repo.root, 'junk');
      const one = join(f.scratch, 'empty');
      await writeFile(one, '');
      for (let d = 0; d < 2000; d++) {
        mkdirSync(join(junk, `d${d}`), { recursive: true });
        for (let i = 0; i < 25; i++) linkSync(one, join(junk, `d${d}`, `f${i}.txt`));
      }
      const first = await janitor.run(f.repo.root, ['list', '::'], { env: f.env });
      assert.deepEqual(first, { code: 0, stdout: '//:before\n', stderr: '' });
      execFileSync('rm', ['-rf', junk]);
      await f.repo.write('BUILD', 'target(name="after")\n');
      const next = await janitor.run(f.repo.root, ['list', '::'], { env: f.env });
      assert.deepEqual(next, { code: 0, stdout: '//:after\n', stderr: '' });
    } finally {
      await f.cleanup();
    }
  });
});
