// End-to-end: the launcher (bin/trews) and the native client set glibc's
// malloc tunables for the Node client they exec (GLIBC_TUNABLES), only when
// the user set no tunables, and the Node client takes that back out of its
// environment: nothing trews starts (a `trews run` command, the daemon) sees it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { collectOutput, DaemonJanitor, makeRepo, pathWithStandInNode, repoRoot, runTrews, type CliResult, type TempRepo } from './helpers/index.js';

const janitor = new DaemonJanitor();
const scratch = mkdtempSync(join(tmpdir(), 'trews-launcher-env-'));
after(async () => {
  await janitor.stopAll();
  rmSync(scratch, { recursive: true, force: true });
});

const SHOW = 'run_shell_command(name="env", command="echo tunables=${GLIBC_TUNABLES-unset} marker=${TREWS_UNSET_GLIBC_TUNABLES-unset}")\n';

/** What bin/trews and the native client set (the same string in both). */
const OUR_TUNABLES = 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=16777216';

/** A directory with a `node` that prints the two variables it was given and exits 97. */
const STAND_IN_PATH = pathWithStandInNode(join(scratch, 'stand-in'), 'echo "node got tunables=${GLIBC_TUNABLES-unset} marker=${TREWS_UNSET_GLIBC_TUNABLES-unset}"\nexit 97\n');

/**
 * A copy of the launcher beside a dist/ without the native client (each
 * entry of the real one linked, `trews-native` left out): what an install
 * without a C compiler runs, the shell launcher exec'ing node itself.
 */
const SHELL_ONLY = ((): string => {
  const root = join(scratch, 'shell-only');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'dist'));
  for (const name of readdirSync(join(repoRoot(), 'bin'))) copyFileSync(join(repoRoot(), 'bin', name), join(root, 'bin', name));
  chmodSync(join(root, 'bin', 'trews'), 0o755);
  for (const name of readdirSync(join(repoRoot(), 'dist'))) {
    if (name !== 'trews-native') symlinkSync(join(repoRoot(), 'dist', name), join(root, 'dist', name));
  }
  return join(root, 'bin', 'trews');
})();

function launch(launcher: string, repo: TempRepo, args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawn(launcher, args, { cwd: repo.root, env: { HOME: process.env.HOME ?? '/tmp', TREWS_DAEMON: 'false', TREWS_PERSIST_GRAPH: 'false', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return collectOutput(child, `${launcher} ${args.join(' ')}`, 60_000).result;
}

describe('the launcher and glibc tunables', () => {
  it('sets the huge-page tunable for the Node client, and only when the user set none (shell launcher)', async () => {
    const repo = await makeRepo({ BUILD: SHOW });
    const mine = await launch(SHELL_ONLY, repo, ['--no-daemon', 'list', '::'], { PATH: STAND_IN_PATH });
    assert.deepEqual(mine, { code: 97, stdout: `node got tunables=${OUR_TUNABLES} marker=1\n`, stderr: '' });
    const theirs = await launch(SHELL_ONLY, repo, ['--no-daemon', 'list', '::'], { PATH: STAND_IN_PATH, GLIBC_TUNABLES: 'glibc.malloc.check=0' });
    assert.deepEqual(theirs, { code: 97, stdout: 'node got tunables=glibc.malloc.check=0 marker=unset\n', stderr: '' });
    const empty = await launch(SHELL_ONLY, repo, ['--no-daemon', 'list', '::'], { PATH: STAND_IN_PATH, GLIBC_TUNABLES: '' });
    assert.deepEqual(empty, { code: 97, stdout: 'node got tunables= marker=unset\n', stderr: '' }, 'set, though empty, is the user’s');
  });

  it('sets it the same way when the native client execs the Node client', { skip: existsSync(join(repoRoot(), 'dist', 'trews-native')) ? false : 'no native client was built here' }, async () => {
    const repo = await makeRepo({ BUILD: SHOW });
    const launcher = join(repoRoot(), 'bin', 'trews');
    const mine = await launch(launcher, repo, ['--no-daemon', 'list', '::'], { PATH: STAND_IN_PATH });
    assert.deepEqual(mine, { code: 97, stdout: `node got tunables=${OUR_TUNABLES} marker=1\n`, stderr: '' });
    const theirs = await launch(launcher, repo, ['--no-daemon', 'list', '::'], { PATH: STAND_IN_PATH, GLIBC_TUNABLES: 'glibc.malloc.check=0' });
    assert.deepEqual(theirs, { code: 97, stdout: 'node got tunables=glibc.malloc.check=0 marker=unset\n', stderr: '' });
  });

  it('gives what trews starts the environment the user gave, with a daemon and without, through either launcher', async () => {
    const repo = await makeRepo({ BUILD: SHOW });
    for (const launcher of [SHELL_ONLY, join(repoRoot(), 'bin', 'trews')]) {
      const plain = await launch(launcher, repo, ['--no-daemon', 'run', '//:env'], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
      assert.deepEqual(plain, { code: 0, stdout: 'tunables=unset marker=unset\n', stderr: '' }, launcher);
      const theirs = await launch(launcher, repo, ['--no-daemon', 'run', '//:env'], { PATH: process.env.PATH ?? '/usr/bin:/bin', GLIBC_TUNABLES: 'glibc.malloc.check=0' });
      assert.deepEqual(theirs, { code: 0, stdout: 'tunables=glibc.malloc.check=0 marker=unset\n', stderr: '' }, launcher);
    }
    // The daemon the Node client starts, and a run it serves.
    const first = await janitor.run(repo.root, ['run', '//:env']);
    assert.deepEqual(first, { code: 0, stdout: 'tunables=unset marker=unset\n', stderr: '' });
    const served = await janitor.run(repo.root, ['run', '//:env']);
    assert.deepEqual(served, { code: 0, stdout: 'tunables=unset marker=unset\n', stderr: '' });
    const status = await runTrews(['daemon', 'status'], { cwd: repo.root, daemon: true });
    const pid = /pid: +(\d+)/.exec(status.stdout)?.[1];
    assert.ok(pid !== undefined, status.stdout + status.stderr);
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(!environ.some((e) => e.startsWith('GLIBC_TUNABLES=') || e.startsWith('TREWS_UNSET_GLIBC_TUNABLES=')), environ.join('\n'));
  });
});
