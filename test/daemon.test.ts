// End-to-end: the daemon through the real CLI (bin/trews, the launcher: the native client or the bundled thin
// client) and a real trewsd, in temp build roots. Every daemon started here is
// stopped at the end, by its recorded pid if `trews daemon stop` does not do it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

const viaDaemon = (repo: TempRepo, args: string[], extra: Parameters<DaemonJanitor['run']>[2] = {}): Promise<CliResult> => janitor.run(repo.root, args, extra);

function inProcess(repo: TempRepo, args: string[], extra: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<CliResult> {
  return runTrews(args, { cwd: extra.cwd ?? repo.root, ...(extra.env ? { env: extra.env } : {}), ...(extra.input !== undefined ? { input: extra.input } : {}) });
}

function count(text: string, re: RegExp): number {
  return text.match(re)?.length ?? 0;
}

const DEBUG_TOML = '[GLOBAL]\nlevel = "debug"\n';

/** The inotify watches process `pid` holds (/proc/PID/fdinfo of its inotify descriptors). */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe('a warm daemon', () => {
  it('serves the second run from the graph: same daemon, nothing parsed again', async () => {
    const repo = await makeRepo({
      'trews.toml': DEBUG_TOML,
      'a/BUILD': 'target(name="x")\ntarget(name="y", dependencies=[":x"])\n',
      'b/BUILD': 'files(name="f", sources=["*.txt"])\n',
      'b/one.txt': '1\n',
    });
    const first = await viaDaemon(repo, ['list', '::']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'a:x\na:y\nb/one.txt:f\nb:f\n');
    assert.equal(first.stderr, '');
    const pid = daemonPid(repo.root);
    assert.ok(pid !== undefined && isDaemonOf(pid, repo.root), 'a daemon titled `trewsd [<root>]` serves the root');
    const parsed = count(daemonLog(repo.root), / DEBUG parsing /g);
    assert.ok(parsed >= 2, `the first run parsed the BUILD files:\n${daemonLog(repo.root)}`);

    const second = await viaDaemon(repo, ['list', '::']);
    assert.deepEqual(second, first);
    assert.equal(daemonPid(repo.root), pid, 'the same daemon served it');
    const log = daemonLog(repo.root);
    assert.equal(count(log, / DEBUG parsing /g), parsed, `no BUILD file was parsed again:\n${log}`);
    assert.equal(count(log, /run #\d+ ended: exit 0/g), 2);
  });

  it('reflects edited, added and deleted BUILD files and sources in the next run', async () => {
    const repo = await makeRepo({
      'a/BUILD': 'target(name="x")\n',
      'b/BUILD': 'files(name="f", sources=["*.txt"])\n',
      'b/one.txt': '1\n',
    });
    const same = async (label: string, expected?: string): Promise<void> => {
      for (const args of [['list', '::'], ['filedeps', '::']]) {
        const d = await viaDaemon(repo, args);
        const p = await inProcess(repo, args);
        assert.deepEqual(d, p, `${label}: trews ${args.join(' ')} through the daemon differs from --no-daemon`);
        if (expected !== undefined && args[0] === 'list') assert.equal(d.stdout, expected, label);
      }
    };
    await same('at first', 'a:x\nb/one.txt:f\nb:f\n');
    await repo.write('a/BUILD', 'target(name="x")\ntarget(name="z")\n');
    await same('a BUILD file edited', 'a:x\na:z\nb/one.txt:f\nb:f\n');
    await repo.write('c/d/BUILD', 'target(name="new")\n');
    await same('a BUILD file added in a new directory', 'a:x\na:z\nb/one.txt:f\nb:f\nc/d:new\n');
    await repo.write('b/two.txt', '2\n');
    await same('a source added', 'a:x\na:z\nb/one.txt:f\nb/two.txt:f\nb:f\nc/d:new\n');
    await repo.remove('b/one.txt');
    await same('a source deleted', 'a:x\na:z\nb/two.txt:f\nb:f\nc/d:new\n');
    await repo.remove('a/BUILD');
    await same('a BUILD file deleted', 'b/two.txt:f\nb:f\nc/d:new\n');
    await repo.remove('c');
    await same('a directory deleted', 'b/two.txt:f\nb:f\n');
    await repo.write('b/BUILD', 'files(name="f", sources=["*.txt"]\n');
    await same('a syntax error');
    await repo.write('b/BUILD', 'files(name="g", sources=["*.txt"])\n');
    await same('the syntax error fixed', 'b/two.txt:g\nb:g\n');
  });

  it('gives 8 concurrent clients their own outputs and exit codes, from one daemon', async () => {
    const repo = await makeRepo({
      'trews.toml': DEBUG_TOML,
      BUILD: 'target(name="root", dependencies=["a:x", "b:f"])\nrun_shell_command(name="code", command="exit 3")\n',
      'a/BUILD': 'target(name="x", dependencies=[":y"])\ntarget(name="y")\n',
      'b/BUILD': 'files(name="f", sources=["*.txt"])\n',
      'b/one.txt': '1\n',
      'b/two.txt': '2\n',
      'c/BUILD': 'target(name="broken", dependencies=["//nope:missing"])\n',
    });
    const commands: string[][] = [
      ['list', '::'],
      ['list', 'a:'],
      ['peek', 'a:x'],
      ['dependencies', '--transitive', '//:root'],
      ['dependencies', 'c:broken'],
      ['run', '//:code'],
      ['filedeps', 'b:'],
      ['list', '::', '--no-such-flag'],
    ];
    const expected: CliResult[] = [];
    for (const args of commands) expected.push(await inProcess(repo, args));
    assert.deepEqual(
      expected.map((r) => r.code),
      [0, 0, 0, 0, 1, 3, 0, 2],
    );
    // No daemon yet: all eight race to start one.
    const results = await Promise.all(commands.map((args) => viaDaemon(repo, args)));
    results.forEach((r, i) => assert.deepEqual(r, expected[i], `trews ${commands[i]!.join(' ')}`));
    assert.equal(count(daemonLog(repo.root), /trewsd \S+ starting/g), 1, 'exactly one daemon was started');
  });

  it('passes stdin through to `trews run`', async () => {
    const repo = await makeRepo({ BUILD: 'run_shell_command(name="cat", command="cat")\n' });
    const input = `${'line of input\n'.repeat(20_000)}last line\n`;
    const r = await viaDaemon(repo, ['run', '//:cat'], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, input.length);
    assert.equal(r.stdout, input);
  });

  it('leaves out of its watch an ignored directory made after it started (as a store inside the root), and logs its memory after each run', async () => {
    const repo = await makeRepo({ 'trews.toml': DEBUG_TOML, '.gitignore': 'out/\n', 'a/BUILD': 'target(name="x")\n' });
    const first = await viaDaemon(repo, ['list', '::']);
    assert.equal(first.code, 0, first.stderr);
    const pid = daemonPid(repo.root)!;
    const before = inotifyWatches(pid);
    // Stamps that stand for the re-subscription's gap: the daemon checks them instead of invalidating everything.
    await waitUntil(() => /paths stamped \(0 too recent to trust\) and synced/.test(daemonLog(repo.root)), 'a proof with every path stamped');
    for (let i = 0; i < 20; i++) mkdirSync(join(repo.root, 'out', 'cas', String(i)), { recursive: true });
    await waitUntil(() => /INFO +ignored directories created since the watch began are left out of it \(out\); invalidating everything \(unless the paths read were stamped before it\)\n/.test(daemonLog(repo.root)), 'out/ to be left out');
    await waitUntil(() => inotifyWatches(pid) === before, `the daemon's watches to be ${before} again (${inotifyWatches(pid)})`);
    // The root's stamp moved (it gained out/): that path alone is read again, not everything.
    await waitUntil(() => /DEBUG watcher: the watch was set up again: 1 of \d+ paths changed since the last sync \(…\), 0 of them too recent to trust/.test(daemonLog(repo.root)), 'the gap checked by the stamps');
    const second = await viaDaemon(repo, ['list', '::']);
    assert.deepEqual(second, first);
    assert.equal(daemonPid(repo.root), pid);
    assert.match(daemonLog(repo.root), /DEBUG memory: rss \d+\.\d MiB; JS heap \d+\.\d of \d+\.\d MiB; external \d+\.\d MiB, of which array buffers \d+\.\d MiB\n/);
  });
});

describe('--no-daemon', () => {
  it('gives byte-identical output, errors and exit codes', async () => {
    const repo = await makeRepo({
      BUILD: 'target(name="root", dependencies=["a:x"])\n',
      'a/BUILD': 'target(name="x", description="x", tags=["t"])\nfiles(name="f", sources=["*.txt"])\n',
      'a/x.txt': 'x\n',
      'bad/BUILD': 'target(\n    name="x",\n    dependencies=["a" "b",\n)\n',
      'sub/dir/keep': '',
    });
    const commands: { args: string[]; cwd?: string; env?: Record<string, string> }[] = [
      { args: ['list', 'a:'] },
      { args: ['list', '::'] },
      { args: ['peek', 'a:x'] },
      { args: ['dependencies', '--transitive', '//:root'] },
      { args: ['dependents', 'a:x'] },
      { args: ['filedeps', 'a:'] },
      { args: ['list', ':'], cwd: 'a' },
      { args: ['list', '//a:x'], cwd: 'sub/dir' },
      { args: ['list', 'a:nope'] },
      { args: ['list', 'a:', '--remte-execution'] },
      { args: ['list'] },
      { args: ['::'] },
      { args: ['help'] },
      { args: ['help', 'list'] },
      { args: ['version'] },
      { args: ['--version'] },
      { args: ['list', 'a:'], env: { TREWS_REMOTE_EXECUTON: 'true' } },
      { args: ['list', 'a:', '--tag=t'] },
    ];
    for (const [i, c] of commands.entries()) {
      const opts = { ...(c.env ? { env: c.env } : {}), ...(c.cwd ? { cwd: join(repo.root, c.cwd) } : {}) };
      const daemon = await viaDaemon(repo, c.args, opts);
      const flag = await runTrews(['--no-daemon', ...c.args], { cwd: opts.cwd ?? repo.root, daemon: true, ...(c.env ? { env: c.env } : {}) });
      assert.deepEqual(daemon, flag, `trews ${c.args.join(' ')}: daemon vs --no-daemon`);
      // TREWS_DAEMON=false is the same switch; a few samples suffice.
      if (i < 3) assert.deepEqual(await inProcess(repo, c.args, opts), flag, `trews ${c.args.join(' ')}: TREWS_DAEMON=false vs --no-daemon`);
    }
    // The syntax error, on its own: the whole `list ::` fails the same way.
    const d = await viaDaemon(repo, ['list', 'bad:']);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /^error: bad\/BUILD:\d+:\d+: /);
    assert.deepEqual(d, await runTrews(['--no-daemon', 'list', 'bad:'], { cwd: repo.root, daemon: true }));
    assert.ok(daemonPid(repo.root) !== undefined, 'the commands above did go through a daemon');
  });

  it('without a build root, runs in-process and starts no daemon', async () => {
    const repo = await makeRepo({});
    rmSync(join(repo.root, 'trews.toml'));
    const v = await runTrews(['version'], { cwd: repo.root, daemon: true });
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    const l = await runTrews(['list', '::'], { cwd: repo.root, daemon: true });
    assert.equal(l.code, 2);
    assert.deepEqual(l, await runTrews(['list', '::'], { cwd: repo.root }));
    assert.equal(existsSync(join(repo.root, '.trews.d')), false);
  });
});

describe('trews daemon', () => {
  it('status, start, stop and restart', async () => {
    const repo = await makeRepo({});
    const status0 = await viaDaemon(repo, ['daemon', 'status']);
    assert.deepEqual(status0, { code: 1, stdout: `trewsd is not running for ${repo.root}\n`, stderr: '' });
    const start = await viaDaemon(repo, ['daemon', 'start']);
    assert.equal(start.code, 0, start.stderr);
    const pid = daemonPid(repo.root)!;
    assert.equal(start.stdout, `trewsd started for ${repo.root} (pid ${pid})\n`);
    assert.ok(isDaemonOf(pid, repo.root));
    assert.equal((await viaDaemon(repo, ['daemon', 'start'])).stdout, `trewsd is already running for ${repo.root} (pid ${pid})\n`);
    const status = await viaDaemon(repo, ['daemon', 'status']);
    assert.equal(status.code, 0);
    assert.match(status.stdout, new RegExp(`^trewsd is running for ${repo.root}\n  pid: +${pid}\n  socket: +\\S+\n  fingerprint: +[0-9a-f]{64}\n  log: +\\S+daemon.log\n$`));
    const restart = await viaDaemon(repo, ['daemon', 'restart']);
    const pid2 = daemonPid(repo.root)!;
    assert.notEqual(pid2, pid);
    assert.equal(restart.stdout, `trewsd restarted for ${repo.root} (pid ${pid2})\n`);
    await waitUntil(() => !isDaemonOf(pid, repo.root), 'the old daemon to exit');
    const stop = await viaDaemon(repo, ['daemon', 'stop']);
    assert.deepEqual(stop, { code: 0, stdout: `trewsd stopped (pid ${pid2})\n`, stderr: '' });
    assert.equal(isDaemonOf(pid2, repo.root), false);
    assert.equal(daemonPid(repo.root), undefined, 'its metadata is gone');
    assert.equal((await viaDaemon(repo, ['daemon', 'stop'])).stdout, `trewsd is not running for ${repo.root}\n`);
    const bad = await viaDaemon(repo, ['daemon', 'reload']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown daemon command `reload`/);
  });

  it('titles its process `trewsd [<root>]`, even for a root longer than its command line, with a short socket path', async () => {
    const repo = await makeRepo({});
    const deep = join(repo.root, 'a-rather-long-directory-name-for-a-build-root'.repeat(3));
    await repo.write(`${deep.slice(repo.root.length + 1)}/trews.toml`, '');
    await repo.write(`${deep.slice(repo.root.length + 1)}/BUILD`, 'target(name="t")\n');
    const r = await runTrews(['list', '::'], { cwd: deep, daemon: true });
    janitor.note(deep);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '//:t\n');
    const pid = daemonPid(deep)!;
    assert.equal(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, ''), `trewsd [${deep}]`);
    const socket = readFileSync(join(deep, '.trews.d', 'daemon', 'socket'), 'utf8');
    assert.ok(Buffer.byteLength(socket) <= 107, socket);
    assert.ok(!socket.startsWith(deep), `a root this long gets a short socket path elsewhere: ${socket}`);
    await runTrews(['daemon', 'stop'], { cwd: deep, daemon: true });
    assert.equal(existsSync(socket), false, 'the socket is removed when the daemon stops');
  });
});

describe('--loop', () => {
  for (const mode of ['daemon', 'no-daemon'] as const) {
    it(`re-runs the goals when their inputs change, until Ctrl-C (${mode})`, async () => {
      const repo = await makeRepo({ 'trews.toml': DEBUG_TOML, 'a/BUILD': 'target(name="x")\n', 'other/BUILD': 'target(name="o")\n' });
      const loop = spawnTrews(['--loop', 'list', 'a:'], { cwd: repo.root, daemon: mode === 'daemon' });
      try {
        const waits = (): number => count(loop.output().stderr, /waiting for changes/g);
        // stdout and stderr are two pipes: one may be read before the other, so wait for both.
        const iteration = (n: number, stdout: string): Promise<void> =>
          waitUntil(() => waits() === n && loop.output().stdout.length >= stdout.length, `iteration ${n} (its output, ${JSON.stringify(stdout)})`);
        await iteration(1, 'a:x\n');
        if (mode === 'daemon') janitor.note(repo.root);
        assert.equal(loop.output().stdout, 'a:x\n');
        if (mode === 'daemon') {
          // A change the goals never read is seen by the daemon but does not wake the loop.
          await repo.write('other/BUILD', 'target(name="o2")\n');
          await waitUntil(() => /watcher: .*other\/BUILD/.test(daemonLog(repo.root)), 'the daemon to see other/BUILD');
        }
        await repo.write('a/BUILD', 'target(name="x")\ntarget(name="y")\n');
        await iteration(2, 'a:x\na:x\na:y\n');
        assert.equal(loop.output().stdout, 'a:x\na:x\na:y\n');
        assert.equal(count(loop.output().stderr, /running again/g), 1, loop.output().stderr);
        assert.match(loop.output().stderr, /trews: a\/BUILD changed; running again\n/);
        loop.child.kill('SIGINT');
        const r = await loop.result;
        assert.equal(r.code, 130);
        assert.match(r.stderr, /trews: cancelled\n$/);
      } finally {
        if (loop.child.exitCode === null) loop.child.kill('SIGKILL');
      }
    });
  }
});

describe('Ctrl-C through the daemon', () => {
  it('cancels the run, stops what it started, and ends as an in-process run does', async () => {
    const repo = await makeRepo({ BUILD: 'run_shell_command(name="slow", command="echo $$ > started.pid && exec sleep 60")\n' });
    const run = spawnTrews(['run', '//:slow'], { cwd: repo.root, daemon: true });
    const marker = join(repo.root, 'started.pid');
    let sleeper: number | undefined;
    try {
      await waitUntil(() => existsSync(marker) && /^\d+\n/.test(readFileSync(marker, 'utf8')), 'the command to start');
      janitor.note(repo.root);
      sleeper = Number(readFileSync(marker, 'utf8').trim());
      run.child.kill('SIGINT');
      const r = await run.result;
      assert.equal(r.code, 130, r.stderr);
      await waitUntil(() => !pidAlive(sleeper!), 'the command to be stopped');
      assert.ok(isDaemonOf(daemonPid(repo.root)!, repo.root), 'the daemon itself goes on');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      if (sleeper !== undefined && pidAlive(sleeper)) process.kill(sleeper, 'SIGKILL');
    }
  });
});
