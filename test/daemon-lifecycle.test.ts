// End-to-end: when a daemon goes away and how the next run copes, through the
// real CLI and real daemons in temp build roots. Every daemon started here is
// stopped at the end, by its recorded pid if need be.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DaemonJanitor,
  daemonLog,
  daemonPid,
  isDaemonOf,
  makeRepo,
  pidAlive,
  runTrews,
  spawnTrews,
  waitUntil,
  type CliResult,
  type TempRepo,
} from './helpers/index.js';

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

const viaDaemon = (repo: TempRepo, args: string[]): Promise<CliResult> => janitor.run(repo.root, args);

async function startedDaemon(repo: TempRepo): Promise<number> {
  const r = await viaDaemon(repo, ['list', '::']);
  assert.equal(r.code, 0, r.stderr);
  const pid = daemonPid(repo.root);
  assert.ok(pid !== undefined && isDaemonOf(pid, repo.root));
  return pid;
}

describe('restarts', () => {
  it('a trews.toml change makes the daemon exit, and the next run starts a new one', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'target(name="x")\n' });
    const pid = await startedDaemon(repo);
    await repo.write('trews.toml', '[GLOBAL]\ntag = []\n');
    await waitUntil(() => !isDaemonOf(pid, repo.root), 'the daemon to exit');
    assert.match(daemonLog(repo.root), /shutting down: trews\.toml changed/);
    const r = await viaDaemon(repo, ['list', '::']);
    assert.deepEqual(r, { code: 0, stdout: 'a:x\n', stderr: '' });
    const next = daemonPid(repo.root)!;
    assert.notEqual(next, pid);
    assert.ok(isDaemonOf(next, repo.root));
  });

  it('a changed daemon option restarts the daemon, saying which in one line', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'target(name="x")\n', 'gen/BUILD': 'target(name="g")\n' });
    const pid = await startedDaemon(repo);
    const r = await viaDaemon(repo, ['--ignore=+["/gen/"]', 'list', '::']);
    assert.deepEqual(r, { code: 0, stdout: 'a:x\n', stderr: 'trews: restarting daemon: option --ignore changed\n' });
    const next = daemonPid(repo.root)!;
    assert.notEqual(next, pid);
    assert.equal(isDaemonOf(pid, repo.root), false, 'the old daemon was stopped');
    const back = await viaDaemon(repo, ['--level=debug', 'list', '::']);
    assert.deepEqual(back, { code: 0, stdout: 'a:x\ngen:g\n', stderr: 'trews: restarting daemon: options --ignore, --level changed\n' });
    // Options that are not part of the fingerprint reach the run without a restart.
    const third = daemonPid(repo.root)!;
    const tagged = await viaDaemon(repo, ['--level=debug', '--tag=none', 'list', '::']);
    assert.deepEqual(tagged, { code: 0, stdout: '', stderr: '' });
    assert.equal(daemonPid(repo.root), third);
  });

  it('a change to a file matching daemon_invalidation_globs makes the daemon exit', async () => {
    const repo = await makeRepo({ 'trews.toml': '[GLOBAL]\ndaemon_invalidation_globs = ["tools/*.lock"]\n', 'a/BUILD': 'target(name="x")\n', 'tools/a.lock': '1' });
    const pid = await startedDaemon(repo);
    await repo.write('tools/README', 'not matched');
    await repo.write('tools/a.lock', '2');
    await waitUntil(() => !isDaemonOf(pid, repo.root), 'the daemon to exit');
    assert.match(daemonLog(repo.root), /shutting down: tools\/a\.lock changed/);
    assert.doesNotMatch(daemonLog(repo.root), /shutting down: tools\/README/);
  });

  it('exits when idle for daemon_idle_timeout', async () => {
    const repo = await makeRepo({ 'trews.toml': '[GLOBAL]\ndaemon_idle_timeout = 1\n', 'a/BUILD': 'target(name="x")\n' });
    const pid = await startedDaemon(repo);
    await waitUntil(() => !isDaemonOf(pid, repo.root), 'the idle daemon to exit');
    assert.match(daemonLog(repo.root), /shutting down: no client for 1 s \(daemon_idle_timeout\)/);
    assert.equal(daemonPid(repo.root), undefined, 'it removed its metadata');
  });

  it('exits after a run that leaves it above daemon_max_memory_usage; the next run starts afresh', async () => {
    const repo = await makeRepo({ 'trews.toml': '[GLOBAL]\ndaemon_max_memory_usage = "1MB"\n', 'a/BUILD': 'target(name="x")\n' });
    const first = await viaDaemon(repo, ['list', '::']);
    assert.deepEqual(first, { code: 0, stdout: 'a:x\n', stderr: '' });
    // It may be gone already, so its pid comes from its log.
    const pid = Number(/\[(\d+)\] INFO {2}trewsd \S+ starting/.exec(daemonLog(repo.root))?.[1]);
    janitor.note(repo.root);
    await waitUntil(() => !isDaemonOf(pid, repo.root), 'the daemon over its memory limit to exit');
    assert.match(daemonLog(repo.root), /shutting down: memory use \d+ MiB is over daemon_max_memory_usage \(1 MiB\)/);
    const r = await viaDaemon(repo, ['list', '::']);
    assert.deepEqual(r, { code: 0, stdout: 'a:x\n', stderr: '' });
  });
});

describe('a daemon that goes away', () => {
  it('killed with SIGKILL mid-run: the client says so clearly, and the next run starts a new daemon', async () => {
    const repo = await makeRepo({ BUILD: 'run_shell_command(name="slow", command="echo $$ > started.pid && exec sleep 60")\ntarget(name="t")\n' });
    const run = spawnTrews(['run', '//:slow'], { cwd: repo.root, daemon: true });
    const marker = join(repo.root, 'started.pid');
    let sleeper: number | undefined;
    try {
      await waitUntil(() => existsSync(marker) && /^\d+\n/.test(readFileSync(marker, 'utf8')), 'the command to start');
      janitor.note(repo.root);
      sleeper = Number(readFileSync(marker, 'utf8').trim());
      const pid = daemonPid(repo.root)!;
      process.kill(pid, 'SIGKILL');
      const r = await run.result;
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: the trews daemon went away during the run: .+\n/);
      assert.match(r.stderr, /run the command again: the next run starts a new daemon/);
      assert.match(r.stderr, /daemon\.log/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      const next = await viaDaemon(repo, ['list', '::']);
      assert.deepEqual(next, { code: 0, stdout: '//:slow\n//:t\n', stderr: '' });
      const pid2 = daemonPid(repo.root)!;
      assert.notEqual(pid2, pid);
      assert.ok(isDaemonOf(pid2, repo.root));
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      if (sleeper !== undefined && pidAlive(sleeper)) process.kill(sleeper, 'SIGKILL');
    }
  });

  it('a stale pid file whose pid now belongs to another process: that process is left alone, a daemon is started', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'target(name="x")\n' });
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const dir = join(repo.root, '.trews.d', 'daemon');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'socket'), join(dir, 'trewsd.sock'));
      writeFileSync(join(dir, 'fingerprint'), '0'.repeat(64));
      writeFileSync(join(dir, 'process_name'), `trewsd [${repo.root}]`);
      writeFileSync(join(dir, 'pid'), String(other.pid));
      const r = await viaDaemon(repo, ['list', '::']);
      assert.deepEqual(r, { code: 0, stdout: 'a:x\n', stderr: '' });
      const pid = daemonPid(repo.root)!;
      assert.notEqual(pid, other.pid);
      assert.ok(isDaemonOf(pid, repo.root));
      assert.ok(pidAlive(other.pid!), 'the unrelated process was not signalled');
      // And a pid that is gone altogether.
      const gone = spawn('true');
      await new Promise((r) => gone.on('exit', r));
      await runTrews(['daemon', 'stop'], { cwd: repo.root, daemon: true });
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'socket'), join(dir, 'trewsd.sock'));
      writeFileSync(join(dir, 'fingerprint'), '0'.repeat(64));
      writeFileSync(join(dir, 'process_name'), `trewsd [${repo.root}]`);
      writeFileSync(join(dir, 'pid'), String(gone.pid));
      assert.equal((await viaDaemon(repo, ['daemon', 'status'])).code, 1);
      assert.deepEqual(await viaDaemon(repo, ['list', '::']), { code: 0, stdout: 'a:x\n', stderr: '' });
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('a daemon that cannot be used: one warning line, and the run goes on in-process', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'target(name="x")\n' });
    // The daemon's metadata directory cannot be created.
    mkdirSync(join(repo.root, '.trews.d'), { recursive: true });
    writeFileSync(join(repo.root, '.trews.d', 'daemon'), 'in the way');
    const r = await viaDaemon(repo, ['list', '::']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'a:x\n');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^trews: cannot use the daemon \(.+\); running without it$/);
  });
});
