import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { digestString, isAbortError, isFailureError } from '../core/index.js';
import { commandRunnerContract } from './command-runner-contract.js';
import { makeProcess } from './process.js';
import { enoentPaths, tracedMissingPaths } from './strict-sandbox.js';
import { entriesOf, eventually, localRunnerFixture, makeCtx, readText, type LocalRunnerFixture } from './test-support.js';
import { toAction } from './to-action.js';

const PATH = '/usr/bin:/bin';
const HAVE_BWRAP = existsSync('/usr/bin/bwrap') || process.env['CI'] === 'true'; // CI installs them: there, their absence is a failure
const NO_BWRAP = 'bubblewrap (`bwrap`) is not installed here (CI installs it: .ci/run)';

function setup(o: { hostPath?: string; explain?: boolean } = {}): Promise<LocalRunnerFixture> {
  return localRunnerFixture({ isolation: 'strict', ...o }, 'trews-strict-');
}

// Everything a local runner promises (outputs, timeouts, cancellation, no process left behind) holds under bwrap too.
// Pids written inside are those of its PID namespace, so the suite cannot look them up here.
describe('strict local runner', { skip: HAVE_BWRAP ? false : NO_BWRAP }, () => {
  commandRunnerContract('strict local sandbox runner', () => setup(), { sameMachine: false, writesOutside: false });
});

test('strict isolation is in the action (its salt): strict, strict with network and none are three keys', () => {
  const none = makeProcess({ argv: ['true'] });
  const strict = makeProcess({ argv: ['true'], isolation: 'strict' });
  const net = makeProcess({ argv: ['true'], isolation: 'strict', network: true });
  const digests = [none, strict, net].map((p) => digestString(toAction(p).actionDigest));
  assert.equal(new Set(digests).size, 3);
  // An unconfined process keeps the digest other REAPI clients compute: no salt at all.
  assert.equal(toAction(none).action.salt.length, 0);
  assert.equal(new TextDecoder().decode(toAction(net).action.salt), 'trews-isolation=strict;network');
  // `network` means nothing without strict isolation, and is dropped rather than splitting the cache.
  assert.equal(digestString(toAction(makeProcess({ argv: ['true'], network: true })).actionDigest), digests[0]);
});

test('missing files are read from the stderr of node, bash, sh and cat', () => {
  const stderr = [
    "Error: ENOENT: no such file or directory, open '/work/repo/secret.txt'",
    '/usr/bin/cat: /home/me/.npmrc: No such file or directory',
    'bash: line 1: /opt/tool/bin/x: No such file or directory',
    'sh: 1: cannot open /etc/x.conf: No such file',
    "python3: can't open file '/srv/a.py': [Errno 2] No such file or directory",
    'cat: relative.txt: No such file or directory',
  ].join('\n');
  assert.deepEqual(enoentPaths(stderr), ['/work/repo/secret.txt', '/home/me/.npmrc', '/opt/tool/bin/x', '/etc/x.conf', '/srv/a.py']);
});

test('missing files are read from an strace -f -e trace=file log', () => {
  const log = [
    '12    openat(AT_FDCWD, "/work/repo/secret.txt", O_RDONLY) = -1 ENOENT (No such file or directory)',
    '12    newfstatat(AT_FDCWD, "/root/.config", 0x7ffd, 0) = -1 ENOENT (No such file or directory)',
    '13    execve("/usr/bin/cat", ["cat"], 0x0 /* 1 var */) = 0',
    '13    openat(AT_FDCWD, "in.txt", O_RDONLY) = -1 ENOENT (No such file or directory)',
    'access("/etc/ld.so.preload", R_OK)      = -1 ENOENT (No such file or directory)',
  ].join('\n');
  assert.deepEqual(tracedMissingPaths(log), ['/work/repo/secret.txt', '/root/.config', '/etc/ld.so.preload']);
});

test('without bubblewrap a strict process fails at once, naming the package', async () => {
  const s = await setup({ hostPath: '/nonexistent-dir' });
  try {
    await assert.rejects(s.runner.run(makeCtx(), makeProcess({ argv: ['true'], env: { PATH } })), (e: unknown) => {
      assert.ok(isFailureError(e));
      assert.equal(e.failure.reason, 'bwrap-not-found');
      assert.equal(e.failure.message, 'strict sandboxes need bubblewrap (`bwrap`), which is not on the search path');
      assert.deepEqual(e.failure.notes, ['searched: /nonexistent-dir']);
      assert.match(e.failure.hints?.[0] ?? '', /apt-get install bubblewrap/);
      return true;
    });
  } finally {
    await s.dispose();
  }
});

test('bwrap is looked for on the process\'s hostSearchPath (its tools\' search path), not the runner\'s default', async () => {
  const s = await setup();
  try {
    const proc = makeProcess({ argv: ['true'], env: { PATH }, hostSearchPath: ['/nonexistent-tools', 'relative/bin'] });
    await assert.rejects(s.runner.run(makeCtx(), proc), (e: unknown) => {
      assert.ok(isFailureError(e));
      assert.equal(e.failure.reason, 'bwrap-not-found');
      assert.deepEqual(e.failure.notes, ['searched: /nonexistent-tools, relative/bin']);
      return true;
    });
  } finally {
    await s.dispose();
  }
});

test('a strict process sees a host tool directory under /tmp (bound over its private /tmp) and nothing else there', { skip: HAVE_BWRAP ? false : NO_BWRAP }, async () => {
  const s = await setup();
  const pkg = join(s.dir, 'tool-package');
  await mkdir(join(pkg, 'lib'), { recursive: true });
  await writeFile(join(pkg, 'lib', 'data.txt'), 'beside the program\n');
  await writeFile(join(s.dir, 'other.txt'), 'not a tool\n');
  try {
    const r = await s.runner.run(
      makeCtx(),
      makeProcess({ argv: ['sh', '-c', `cat ${pkg}/lib/data.txt; test -e ${s.dir}/other.txt && echo SAW-OTHER; true`], env: { PATH }, hostTools: [pkg] }),
    );
    assert.equal(await readText(s.store, r.stdout), 'beside the program\n');
  } finally {
    await s.dispose();
  }
});

test('a strict process sees no file of the machine outside its sandbox and the system, and writes none', { skip: HAVE_BWRAP ? false : NO_BWRAP }, async () => {
  const s = await setup();
  const secret = join(s.dir, 'secret.txt');
  await writeFile(secret, 'secret\n');
  try {
    const r = await s.runner.run(
      makeCtx(),
      makeProcess({ argv: ['sh', '-c', `ls /; test -e ${secret} && echo SAW-SECRET; echo x > ${s.dir}/planted; echo x > /tmp/planted; ls /tmp; true`], env: { PATH } }),
    );
    const out = await readText(s.store, r.stdout);
    assert.doesNotMatch(out, /SAW-SECRET/);
    assert.doesNotMatch(out, /^(root|home|work)$/m, out);
    assert.equal(existsSync(join(s.dir, 'planted')), false);
  } finally {
    await s.dispose();
  }
});

test('a strict process that fails for a hidden file names it; with explain, even when it printed nothing', { skip: HAVE_BWRAP ? false : NO_BWRAP }, async () => {
  for (const explain of [false, true]) {
    const s = await setup({ explain });
    const secret = join(s.dir, 'secret.txt');
    await writeFile(secret, 'secret\n');
    try {
      const quiet = makeProcess({ argv: ['sh', '-c', `cat ${secret} 2>/dev/null || exit 3`], env: { PATH }, description: 'quiet' });
      if (!explain) {
        const r = await s.runner.run(makeCtx(), quiet);
        assert.equal(r.exitCode, 3, 'nothing names the file: a plain failure');
      } else {
        await assert.rejects(s.runner.run(makeCtx(), quiet), (e: unknown) => {
          assert.ok(isFailureError(e));
          assert.equal(e.failure.reason, 'sandbox-undeclared-input');
          assert.equal(e.failure.message, `process \`quiet\` tried to read \`${secret}\`, which is not among its inputs: a strict sandbox shows it only its inputs, its tools and the system directories`);
          return true;
        });
      }
    } finally {
      await s.dispose();
    }
  }
});

/** Pids of this machine running `sleep marker` (looked up, never signalled). */
async function pidsWith(marker: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // The sleeps themselves, not the sh, env and bwrap whose arguments name them too.
    const [program, arg] = cmd.split('\0');
    if (program?.endsWith('sleep') === true && arg === marker && !/\) [ZX] /.test(state)) out.push(pid);
  }
  return out;
}

test('cancelling a strict process kills everything in its sandbox, even what left its session, and removes the sandbox', { skip: HAVE_BWRAP ? false : NO_BWRAP }, async () => {
  const s = await setup();
  try {
    const marker = `600.${process.pid}1`;
    const ac = new AbortController();
    // The background sleep calls setsid: it leaves the process group, which only the PID namespace still holds.
    const p = s.runner.run(makeCtx({ signal: ac.signal }), makeProcess({ argv: ['sh', '-c', `setsid sleep ${marker} & sleep ${marker}`], env: { PATH } }));
    try {
      await eventually(async () => (await pidsWith(marker)).length === 2, 20_000, 'both sleeps to start');
    } finally {
      ac.abort();
    }
    await assert.rejects(p, (e: unknown) => isAbortError(e));
    await eventually(async () => (await pidsWith(marker)).length === 0, 10_000, 'the sleeps to be gone');
    assert.deepEqual(await entriesOf(s.sandboxRoot), []);
  } finally {
    await s.dispose();
  }
});
