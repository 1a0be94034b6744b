import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DaemonUnavailableError } from './errors.js';
import { acquireLaunchLock } from './launch-lock.js';
import { daemonDir, maxSocketPathBytes, processTitle, socketPathFor } from './layout.js';
import { pidExists } from '../core/index.js';
import { isProcessTitled, processCommandLine } from './liveness.js';
import { readMetadata, readPid, readStartError, removeMetadata, writeMetadata, writeStartError, type DaemonMetadata } from './metadata.js';
import { clearStale, daemonArgv, daemonStatus, restartReason, stopDaemon } from './process-manager.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'trews-pm-'));
  roots.push(r);
  return r;
}

function meta(root: string, pid: number): DaemonMetadata {
  return {
    pid,
    socket: join(daemonDir(root), 'trewsd.sock'),
    fingerprint: 'f'.repeat(64),
    processName: processTitle(root),
    options: { version: '1.0.0', options: { 'GLOBAL.ignore': ['a/'], 'GLOBAL.level': 'info' } },
  };
}

/** A live process that is certainly not a daemon: its pid stands in for a recycled one. */
async function otherProcess(): Promise<{ pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  return { pid: child.pid!, stop: () => child.kill('SIGKILL') };
}

describe('metadata', () => {
  test('round-trips, with pid as the commit marker', () => {
    const root = tempRoot();
    assert.equal(readMetadata(root), undefined);
    writeMetadata(root, meta(root, 1234));
    assert.deepEqual(readMetadata(root), meta(root, 1234));
    assert.equal(readPid(root), 1234);
    for (const f of ['pid', 'socket', 'fingerprint', 'process_name', 'options.json']) assert.ok(existsSync(join(daemonDir(root), f)), f);
    assert.deepEqual(
      readdirSync(daemonDir(root)).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp files are left',
    );
    // Without a pid file the rest is not trusted.
    rmSync(join(daemonDir(root), 'pid'));
    assert.equal(readMetadata(root), undefined);
  });

  test('garbage in any file reads as no daemon, never as an error', () => {
    const root = tempRoot();
    writeMetadata(root, meta(root, 77));
    writeFileSync(join(daemonDir(root), 'pid'), 'not a pid');
    assert.equal(readMetadata(root), undefined);
    writeFileSync(join(daemonDir(root), 'pid'), '77\n');
    writeFileSync(join(daemonDir(root), 'options.json'), '{broken');
    const m = readMetadata(root)!;
    assert.equal(m.pid, 77);
    assert.equal(m.options, undefined, 'unreadable options only lose the restart reason');
  });

  test('removal is only by the owner: an exiting daemon never erases its successor', () => {
    const root = tempRoot();
    writeMetadata(root, meta(root, 200));
    assert.equal(removeMetadata(root, 100), false);
    assert.equal(readPid(root), 200);
    assert.equal(removeMetadata(root, 200), true);
    assert.equal(readMetadata(root), undefined);
  });

  test('a start error is read back only for the daemon that wrote it', () => {
    const root = tempRoot();
    writeStartError(root, 42, 'the watch limit was reached');
    assert.equal(readStartError(root, 42), 'the watch limit was reached');
    assert.equal(readStartError(root, 43), undefined);
  });
});

describe('liveness', () => {
  test('a live pid is the daemon only with the daemon\'s title', async () => {
    const other = await otherProcess();
    try {
      assert.equal(pidExists(other.pid), true);
      assert.match(processCommandLine(other.pid) ?? '', /setTimeout/);
      assert.equal(isProcessTitled(other.pid, processTitle('/some/root')), false);
      assert.equal(isProcessTitled(process.pid, process.title), true);
    } finally {
      other.stop();
    }
  });

  test('a gone pid is neither alive nor titled', async () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => child.once('exit', r));
    assert.equal(pidExists(child.pid!), false);
    assert.equal(processCommandLine(child.pid!), undefined);
    assert.equal(pidExists(0), false);
    assert.equal(pidExists(-1), false);
  });
});

describe('status and stale metadata', () => {
  test('a recycled pid (alive, another title) is stale; clearing it never signals that process', async () => {
    const root = tempRoot();
    const other = await otherProcess();
    try {
      writeMetadata(root, meta(root, other.pid));
      mkdirSync(daemonDir(root), { recursive: true });
      writeFileSync(meta(root, other.pid).socket, '');
      const s = daemonStatus(root);
      assert.equal(s.state, 'stale');
      assert.deepEqual(await stopDaemon(root), { stopped: false });
      assert.equal(pidExists(other.pid), true, 'the unrelated process is alive');
      assert.equal(readMetadata(root), undefined, 'the stale metadata is gone');
      assert.equal(existsSync(meta(root, other.pid).socket), false, 'and its socket file');
    } finally {
      other.stop();
    }
  });

  test('no metadata is stopped; a dead pid is stale', async () => {
    const root = tempRoot();
    assert.deepEqual(daemonStatus(root), { state: 'stopped' });
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => child.once('exit', r));
    writeMetadata(root, meta(root, child.pid!));
    const s = daemonStatus(root);
    assert.equal(s.state, 'stale');
    if (s.state === 'stale') clearStale(root, s.metadata);
    assert.deepEqual(daemonStatus(root), { state: 'stopped' });
  });

  test('a process carrying the title is running, and stopDaemon ends it with SIGTERM', async () => {
    const root = tempRoot();
    const title = processTitle(root);
    const child = spawn(
      process.execPath,
      ['-e', `process.title = ${JSON.stringify(title)}; process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000)`, '.'.repeat(title.length)],
      { stdio: 'ignore' },
    );
    try {
      await waitFor(() => processCommandLine(child.pid!) === title);
      writeMetadata(root, meta(root, child.pid!));
      assert.equal(daemonStatus(root).state, 'running');
      const r = await stopDaemon(root);
      assert.deepEqual(r, { stopped: true, pid: child.pid, killed: false });
      assert.equal(readMetadata(root), undefined);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('a daemon that ignores SIGTERM is killed after the grace period', async () => {
    const root = tempRoot();
    const title = processTitle(root);
    // SIGTERM is ignored before the title is set: the title is what says "ready" (a
    // SIGTERM sent between the two would kill it the default way).
    const child = spawn(process.execPath, ['-e', `process.on('SIGTERM', () => {}); process.title = ${JSON.stringify(title)}; setInterval(() => {}, 1000)`, '.'.repeat(title.length)], {
      stdio: 'ignore',
    });
    try {
      await waitFor(() => processCommandLine(child.pid!) === title);
      writeMetadata(root, meta(root, child.pid!));
      const r = await stopDaemon(root, { graceMs: 200 });
      assert.deepEqual(r, { stopped: true, pid: child.pid, killed: true });
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('socket path', () => {
  test('in the work dir when it fits', () => {
    const p = socketPathFor('/repo', { platform: 'linux', uid: 1000 });
    assert.equal(p, '/repo/.trews.d/daemon/trewsd.sock');
  });

  test('a root too long for sun_path gets a short path from a hash of the root', () => {
    const root = `/home/someone/${'deeply/nested/'.repeat(8)}repo`;
    const tmp = socketPathFor(root, { platform: 'linux', uid: 1000 });
    assert.match(tmp, /^\/tmp\/trews-1000\/[0-9a-f]{20}\.sock$/);
    assert.ok(Buffer.byteLength(tmp) <= maxSocketPathBytes('linux'));
    assert.equal(socketPathFor(root, { platform: 'linux', uid: 1000 }), tmp, 'deterministic');
    assert.notEqual(socketPathFor(`${root}2`, { platform: 'linux', uid: 1000 }), tmp, 'one per root');
    const run = socketPathFor(root, { platform: 'linux', uid: 1000, runtimeDir: '/run/user/1000' });
    assert.equal(run, `/run/user/1000/trews/${tmp.slice(tmp.lastIndexOf('/') + 1)}`);
    assert.equal(socketPathFor(root, { platform: 'linux', uid: 1000, runtimeDir: 'relative' }), tmp, 'a relative XDG_RUNTIME_DIR is ignored');
  });

  test('the limit is the OS\'s: 107 bytes on Linux, 103 on macOS', () => {
    const root = `/r/${'x'.repeat(72)}`; // 75 + 28 = 103 bytes in the work dir
    assert.equal(socketPathFor(root, { platform: 'linux', uid: 1 }).startsWith(root), true);
    assert.equal(socketPathFor(`${root}yyyyy`, { platform: 'darwin', uid: 1 }).startsWith('/tmp/trews-1/'), true);
  });
});

describe('starting', () => {
  test('the daemon\'s argv leaves room for its title, however long the root', () => {
    const root = `/${'long-directory/'.repeat(20)}root`;
    const argv = ['/usr/bin/node', ...daemonArgv(root, { script: '/t/trewsd.js', args: ['list', '::'] })];
    const room = argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
    assert.ok(room > Buffer.byteLength(processTitle(root)) + 1);
    assert.deepEqual(argv.slice(-3), ['--', 'list', '::'], 'the client\'s command line comes last, after --');
    assert.ok(argv.includes(`--root=${root}`));
  });

  test('restart reasons name the changed options, or the version', () => {
    const now = { version: '1.0.0', options: { 'GLOBAL.ignore': ['b/'], 'GLOBAL.level': 'info' } };
    assert.equal(restartReason({ version: '1.0.0', options: { 'GLOBAL.ignore': ['a/'], 'GLOBAL.level': 'info' } }, now), 'option --ignore changed');
    assert.equal(restartReason({ version: '1.0.0', options: { 'GLOBAL.ignore': ['a/'], 'GLOBAL.level': 'debug' } }, now), 'options --ignore, --level changed');
    assert.equal(restartReason({ version: '0.9.0', options: now.options }, now), 'trews version changed (0.9.0 → 1.0.0)');
    assert.equal(restartReason(undefined, now), 'its options are unknown');
  });
});

describe('launch lock', () => {
  test('is exclusive; a second holder waits until it is released', async () => {
    const root = tempRoot();
    const release = await acquireLaunchLock(root, { timeoutMs: 1000, pid: process.pid });
    let second = false;
    const waiting = acquireLaunchLock(root, { timeoutMs: 10_000, pid: process.pid }).then((r) => {
      second = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(second, false);
    release();
    (await waiting)();
    assert.equal(existsSync(join(daemonDir(root), 'launch.lock')), false);
  });

  test('times out with a DaemonUnavailableError naming the holder', async () => {
    const root = tempRoot();
    const release = await acquireLaunchLock(root, { timeoutMs: 1000, pid: process.pid });
    try {
      await assert.rejects(acquireLaunchLock(root, { timeoutMs: 100, pid: process.pid }), (e: unknown) => {
        assert.ok(e instanceof DaemonUnavailableError);
        assert.equal(e.reason, 'lock-timeout');
        assert.match(e.message, new RegExp(`pid ${process.pid}`));
        return true;
      });
    } finally {
      release();
    }
  });

  test('a lock left by a dead process, or an old one, is taken over', async () => {
    const root = tempRoot();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((r) => child.once('exit', r));
    mkdirSync(daemonDir(root), { recursive: true });
    const path = join(daemonDir(root), 'launch.lock');
    writeFileSync(path, String(child.pid));
    (await acquireLaunchLock(root, { timeoutMs: 1000, pid: process.pid }))();
    writeFileSync(path, String(process.pid));
    const old = (Date.now() - 10 * 60_000) / 1000;
    utimesSync(path, old, old);
    const release = await acquireLaunchLock(root, { timeoutMs: 1000, pid: process.pid });
    assert.equal(readFileSync(path, 'utf8'), String(process.pid));
    release();
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  // A safety net only: what is waited for comes, however slowly.
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
