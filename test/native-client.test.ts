// End-to-end: the native thin client (src/native-client/, dist/trews-native),
// which bin/trews execs when the build made it. Real daemons in temp build
// roots, real processes; every daemon is stopped at the end.
//
// To prove that a run was served by the native client and not handed to the
// Node client, those runs get a PATH whose first `node` is a stand-in that
// fails loudly: the native client never runs node unless it falls back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NATIVE_CLIENT_COMMAND, NATIVE_FALLBACK_EXIT_CODE } from '../src/daemon/index.js';
import { acceptSession } from '../src/daemon/protocol/index.js';
import {
  collectOutput,
  DaemonJanitor,
  daemonLog,
  daemonPid,
  isDaemonOf,
  makeRepo,
  pathWithStandInNode,
  pidAlive,
  repoRoot,
  runTrews,
  spawnTrews,
  TREWS_NODE_ENTRY,
  waitUntil,
  type CliResult,
  type TempRepo,
} from './helpers/index.js';

const BUILT = existsSync(join(repoRoot(), 'dist', 'trews-native'));
// CI installs a C compiler (.ci/run): there, a missing native client is a failure, not a skip.
const skip = BUILT || process.env.CI === 'true' ? false : 'no native client was built here (npm run build found no C compiler); CI builds and tests it';

const janitor = new DaemonJanitor();
const scratch = mkdtempSync(join(tmpdir(), 'trews-native-'));
after(async () => {
  await janitor.stopAll();
  rmSync(scratch, { recursive: true, force: true });
});

/** A PATH whose `node` fails with exit 97: a run that still succeeds never reached the Node client. */
const NO_NODE_PATH = pathWithStandInNode(join(scratch, 'no-node'), 'echo "the Node client ran: $*" >&2\nexit 97\n');

/** Through the launcher (the native client), never falling back to Node. */
function native(repo: TempRepo, args: string[], extra: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return janitor.run(repo.root, args, { env: { PATH: NO_NODE_PATH, ...extra.env }, ...(extra.input !== undefined ? { input: extra.input } : {}) });
}

/** `node bin/trews.cjs`: the Node client, with the environment runTrews gives the launcher. */
function nodeClient(repo: TempRepo, args: string[]): Promise<CliResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TREWS_PERSIST_GRAPH: 'false' };
  const child = spawn(process.execPath, [TREWS_NODE_ENTRY, ...args], { cwd: repo.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return collectOutput(child, `node trews.cjs ${args.join(' ')}`, 60_000).result;
}

/** Runs through the daemon so far, by the lines it logs. */
const runsLogged = (repo: TempRepo): number => (daemonLog(repo.root).match(/ run #\d+ ended/g) ?? []).length;

const SLOW = 'run_shell_command(name="slow", command="echo $$ > started.pid && exec sleep 60")\n';

/** Starts `trews run //:slow` through the native client and waits until its command runs; returns the sleeper's pid. */
async function slowRun(repo: TempRepo): Promise<{ run: ReturnType<typeof spawnTrews>; sleeper: number }> {
  const run = spawnTrews(['run', '//:slow'], { cwd: repo.root, daemon: true, env: { PATH: NO_NODE_PATH } });
  const marker = join(repo.root, 'started.pid');
  await waitUntil(() => existsSync(marker) && /^\d+\n/.test(readFileSync(marker, 'utf8')), 'the command to start');
  return { run, sleeper: Number(readFileSync(marker, 'utf8').trim()) };
}

/**
 * A build root whose daemon metadata points at `server` instead of a trewsd: a
 * stand-in built on the daemon's own protocol code, for what a real daemon does
 * too briefly to be caught (a run still cancelling, a daemon on its way out).
 */
async function standInDaemon(server: Server): Promise<string> {
  const root = mkdtempSync(join(scratch, 'stand-in-'));
  writeFileSync(join(root, 'trews.toml'), '');
  const dir = join(root, '.trews.d', 'daemon');
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'trewsd.sock');
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  writeFileSync(join(dir, 'socket'), socket);
  // No process has this pid: nothing may ever signal it, and the native client only reads it.
  writeFileSync(join(dir, 'pid'), '2147483646');
  return root;
}

describe('the native client', { skip }, () => {
  it('agrees with the daemon on the command it sends and the exit code that hands a run back', () => {
    const source = readFileSync(join(repoRoot(), 'src', 'native-client', 'trews-native.c'), 'utf8');
    assert.equal(/#define NATIVE_COMMAND "([^"]*)"/.exec(source)?.[1], NATIVE_CLIENT_COMMAND);
    assert.equal(Number(/#define FALLBACK_EXIT_CODE (\d+)/.exec(source)?.[1]), NATIVE_FALLBACK_EXIT_CODE);
  });

  it('leaves starting the daemon to the Node client, then serves warm runs itself, with its output and exit codes', async () => {
    const repo = await makeRepo({
      BUILD: 'target(name="root", dependencies=["a:x"])\nrun_shell_command(name="seven", command="echo out; echo err >&2; exit 7")\n',
      'a/BUILD': 'target(name="x")\n',
    });
    // No daemon: the stand-in node proves the native client handed this to the Node client.
    const first = await native(repo, ['list', '::']);
    assert.equal(first.code, 97, first.stderr);
    assert.match(first.stderr, /^the Node client ran: \S*\/bin\/trews\.cjs list ::\n$/);
    assert.equal(daemonPid(repo.root), undefined);
    // With node on PATH, the Node client starts the daemon.
    const started = await janitor.run(repo.root, ['list', '::']);
    assert.deepEqual(started, { code: 0, stdout: '//:root\n//:seven\na:x\n', stderr: '' });
    const pid = daemonPid(repo.root)!;
    assert.ok(isDaemonOf(pid, repo.root));
    for (const args of [['list', '::'], ['list', '//nope:x'], ['run', '//:seven'], ['--tag=none', 'list', '::']]) {
      const before = runsLogged(repo);
      const served = await native(repo, args);
      assert.deepEqual(served, await nodeClient(repo, args), `trews ${args.join(' ')}`);
      assert.equal(runsLogged(repo), before + 2, 'both runs went through the daemon');
    }
    assert.equal((await native(repo, ['run', '//:seven'])).code, 7);
    assert.equal(daemonPid(repo.root), pid, 'the same daemon served them all');
    assert.doesNotMatch(daemonLog(repo.root), /handed a native client's run back/);
  });

  it('sends stdin to a process that reads it', async () => {
    const repo = await makeRepo({ BUILD: 'run_shell_command(name="cat", command="cat")\n' });
    await janitor.run(repo.root, ['list', '::']);
    const input = `${'line of input\n'.repeat(20_000)}last line\n`;
    const r = await native(repo, ['run', '//:cat'], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, input.length);
    assert.equal(r.stdout, input);
  });

  it('cancels the run in the daemon on Ctrl-C and exits 130', async () => {
    const repo = await makeRepo({ BUILD: SLOW });
    await janitor.run(repo.root, ['list', '::']);
    const pid = daemonPid(repo.root)!;
    const { run, sleeper } = await slowRun(repo);
    try {
      run.child.kill('SIGINT');
      const r = await run.result;
      assert.equal(r.code, 130, r.stderr);
      assert.doesNotMatch(r.stderr, /the Node client ran/);
      await waitUntil(() => !pidAlive(sleeper), 'the command to be stopped');
      await waitUntil(() => / run #\d+ ended: exit 130 /.test(daemonLog(repo.root)), 'the daemon to end the run as cancelled');
      assert.ok(isDaemonOf(pid, repo.root), 'the daemon itself goes on');
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      if (pidAlive(sleeper)) process.kill(sleeper, 'SIGKILL');
    }
  });

  it('leaves at once on a second Ctrl-C, while the daemon is still cancelling the run', async () => {
    let cancelSeen!: () => void;
    const cancelled = new Promise<void>((resolve) => (cancelSeen = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      void (async () => {
        const accepted = await acceptSession(socket, { keepaliveIntervalMs: 100 });
        if (!accepted.ok) return;
        const session = accepted.session;
        assert.equal(session.request.command, NATIVE_CLIENT_COMMAND);
        session.signal.addEventListener('abort', () => cancelSeen(), { once: true });
        session.stdout.write('running\n');
        // A run whose cancellation does not end while the client waits for it.
        await held;
        await session.exit(1);
      })();
    });
    const root = await standInDaemon(server);
    const run = spawnTrews(['run', '//:x'], { cwd: root, daemon: true, env: { PATH: NO_NODE_PATH } });
    try {
      await waitUntil(() => run.output().stdout === 'running\n', 'the run to start');
      run.child.kill('SIGINT');
      await cancelled; // the first Ctrl-C reached the daemon as a cancel
      run.child.kill('SIGINT');
      const r = await run.result;
      assert.deepEqual(r, { code: 130, stdout: 'running\n', stderr: '' });
    } finally {
      release();
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      server.close();
    }
  });

  it('hands the command to the Node client when the daemon closes the connection before it answers', async () => {
    // A daemon on its way out: it took the connection, then closed it unanswered.
    const server = createServer((socket) => socket.once('data', () => socket.destroy()));
    const root = await standInDaemon(server);
    try {
      const r = await runTrews(['list', '::'], { cwd: root, daemon: true, env: { PATH: NO_NODE_PATH }, input: 'for the Node client\n' });
      assert.equal(r.code, 97, r.stderr);
      assert.match(r.stderr, /^the Node client ran: \S*\/bin\/trews\.cjs list ::\n$/);
    } finally {
      server.close();
    }
  });

  it('says clearly that the daemon went away mid-run, rather than hanging', async () => {
    const repo = await makeRepo({ BUILD: SLOW });
    await janitor.run(repo.root, ['list', '::']);
    const pid = daemonPid(repo.root)!;
    const { run, sleeper } = await slowRun(repo);
    try {
      process.kill(pid, 'SIGKILL');
      const r = await run.result;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^error: the trews daemon went away during the run: .+\n/);
      assert.match(r.stderr, new RegExp(`\n {2}what it logged is in ${repo.root.replace(/[.]/g, '\\.')}/\\.trews\\.d/daemon\\.log\n`));
      assert.match(r.stderr, /\n {2}run the command again: the next run starts a new daemon \(or use --no-daemon\)\n$/);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
      if (pidAlive(sleeper)) process.kill(sleeper, 'SIGKILL');
    }
  });

  it('hands a run with other daemon options to the Node client, which restarts the daemon, stdin untouched', async () => {
    const repo = await makeRepo({ BUILD: 'run_shell_command(name="cat", command="cat")\n', 'a/BUILD': 'target(name="x")\n', 'gen/BUILD': 'target(name="g")\n' });
    await janitor.run(repo.root, ['list', '::']);
    const pid = daemonPid(repo.root)!;
    // A flag: the native client cannot tell it changes the fingerprint; the daemon can.
    const flagged = await janitor.run(repo.root, ['--ignore=+["/gen/"]', 'run', '//:cat'], { input: 'typed ahead\n' });
    assert.deepEqual(flagged, { code: 0, stdout: 'typed ahead\n', stderr: 'trews: restarting daemon: option --ignore changed\n' });
    assert.match(daemonLog(repo.root), new RegExp(`\\[${pid}\\] INFO {2}handed a native client's run back to the Node client: other daemon options\n`));
    const next = daemonPid(repo.root)!;
    assert.notEqual(next, pid);
    // An environment variable: the same, and the daemon after it serves natively again.
    const viaEnv = await janitor.run(repo.root, ['--ignore=+["/gen/"]', 'list', '::'], { env: { TREWS_LEVEL: 'debug' } });
    assert.deepEqual(viaEnv, { code: 0, stdout: '//:cat\na:x\n', stderr: 'trews: restarting daemon: option --level changed\n' });
    const third = daemonPid(repo.root)!;
    assert.notEqual(third, next);
    const again = await native(repo, ['--ignore=+["/gen/"]', 'list', '::'], { env: { TREWS_LEVEL: 'debug' } });
    assert.deepEqual(again, { code: 0, stdout: '//:cat\na:x\n', stderr: '' });
    assert.equal(daemonPid(repo.root), third);
  });

  it('hands --no-daemon, daemon = false, an options error, --loop, `trews daemon` and a run outside any build root to the Node client', async () => {
    const repo = await makeRepo({ 'a/BUILD': 'target(name="x")\n' });
    await janitor.run(repo.root, ['list', '::']);
    const pid = daemonPid(repo.root)!;
    const runs = runsLogged(repo);
    // Decided before connecting: the daemon never hears of these.
    for (const args of [['--no-daemon', 'list', '::'], ['daemon', 'status']]) {
      const r = await native(repo, args);
      assert.equal(r.code, 97, `trews ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /the Node client ran: /);
    }
    assert.deepEqual(await janitor.run(repo.root, ['--no-daemon', 'list', '::']), { code: 0, stdout: 'a:x\n', stderr: '' });
    const status = await janitor.run(repo.root, ['daemon', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^trewsd is running for .*\n {2}pid: {9}${pid}\n`));
    assert.equal(runsLogged(repo), runs, 'none of them went through the daemon');
    // Only the daemon can tell that these turn it off or are wrong: it hands them back, and the Node client runs them in-process.
    assert.deepEqual(await native(repo, ['--daemon=false', 'list', '::']).then((r) => r.code), 97);
    assert.deepEqual(await janitor.run(repo.root, ['--daemon=false', 'list', '::']), { code: 0, stdout: 'a:x\n', stderr: '' });
    assert.match(daemonLog(repo.root), /handed a native client's run back to the Node client: daemon = false\n/);
    // A loop follows its daemon across restarts, which only the Node client does.
    assert.equal((await native(repo, ['--loop', 'list', '::'])).code, 97);
    assert.match(daemonLog(repo.root), /handed a native client's run back to the Node client: --loop\n/);
    const bad = await janitor.run(repo.root, ['--level=loud', 'list', '::']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^error: .*--level/);
    assert.match(daemonLog(repo.root), /handed a native client's run back to the Node client: the options have an error\n/);
    assert.equal(daemonPid(repo.root), pid, 'the daemon goes on');
    // No build root at all.
    const outside = mkdtempSync(join(scratch, 'no-root-'));
    const version = await runTrews(['version'], { cwd: outside, daemon: true });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /\d+\.\d+\.\d+/);
    const notFound = await runTrews(['version'], { cwd: outside, daemon: true, env: { PATH: NO_NODE_PATH } });
    assert.equal(notFound.code, 97, 'without a build root the native client goes straight to the Node client');
  });
});
