// The npm package as a user gets it: `npm pack`, installed into a fresh
// project from the tarball (from npm's cache where it can: `npm ci` caches
// the dependencies' tarballs but not the registry's metadata an install from a
// tarball resolves them with, so a fresh machine asks the registry), then run through
// `npx` from node_modules/.bin — the daemon included.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectOutput, daemonPid, isDaemonOf, pidAlive, repoRoot, waitUntil } from './helpers/index.js';

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], cwd: string, env: Record<string, string>): Promise<Ran> {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return collectOutput(child, `${cmd} ${args.join(' ')}`, 180_000).result;
}

describe('the npm package', () => {
  let dir = '';
  let project = '';
  let tarball = '';
  let packedFiles: string[] = [];
  let env: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trews-pack-'));
    project = join(dir, 'project');
    await mkdir(project);
    // npm's own cache (the dependencies come from it where it has them), nothing of a developer's TREWS_*.
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      XDG_CACHE_HOME: join(dir, 'cache'),
      npm_config_update_notifier: 'false',
    };
    // dist/ is what `npm test` just built; prepack would build it again
    // under the other tests running from it, so the scripts are skipped here.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repoRoot(), env);
    assert.equal(packed.code, 0, packed.stderr);
    const info = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, info[0]!.filename);
    packedFiles = info[0]!.files.map((f) => f.path);
  });

  after(async () => {
    const pid = daemonPid(project);
    if (pid !== undefined && isDaemonOf(pid, project)) {
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !pidAlive(pid), `daemon ${pid} to exit`);
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });

  it('ships what runs and no tests', () => {
    const files = packedFiles;
    assert.ok(files.includes('bin/trews'), files.join('\n'));
    assert.ok(files.includes('bin/trews.cjs'), files.join('\n'));
    assert.ok(files.includes('bin/trewsd.cjs'), files.join('\n'));
    assert.ok(files.includes('bin/code-cache.cjs'), files.join('\n'));
    assert.ok(files.includes('dist/trews-client.cjs'));
    // The in-process runner and the daemon run this bundle; `trews graph` inlines the page scripts.
    for (const f of ['dist/trews-main.cjs', 'dist/graph-page.js', 'dist/timeline-page.js']) assert.ok(files.includes(f), `${f} is packed:\n${files.join('\n')}`);
    assert.ok(files.includes('dist/src/cli/main.js'));
    assert.ok(files.some((f) => f.startsWith('dist/src/reapi/gen/')), 'the generated protobuf code');
    const stray = files.filter((f) => /\.test\.js$|(^|\/)(test-support|test-helpers|testing|[a-z-]+-contract)\.js$|^(test|bench|examples|src|scripts)\//.test(f));
    assert.deepEqual(stray, []);
  });

  it('installs from the tarball and runs from node_modules/.bin, with and without the daemon', async () => {
    await writeFile(join(project, 'package.json'), '{ "name": "try-trews", "version": "1.0.0", "private": true }\n');
    const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project, env);
    assert.equal(installed.code, 0, installed.stderr);
    for (const e of await readdir(join(repoRoot(), 'examples'))) await cp(join(repoRoot(), 'examples', e), join(project, e), { recursive: true });

    const version = await run('npx', ['trews', '--version'], project, env);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);

    const tested = await run('npx', ['trews', 'test', '::'], project, env);
    assert.equal(tested.code, 0, tested.stderr);
    assert.match(tested.stderr, /✓ greeting:test succeeded/);
    assert.match(tested.stderr, /✓ app:test succeeded/);
    assert.match(tested.stderr, /^Tests: 2 passed, 2 total · Processes: /m);
    const pid = daemonPid(project);
    assert.ok(pid !== undefined && isDaemonOf(pid, project), 'the test ran through a daemon of the project');

    const listed = await run('npx', ['trews', '--no-daemon', 'list', '::'], project, env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^app:test$/m);
    assert.match(listed.stdout, /^greeting:cards$/m);

    const stopped = await run('npx', ['trews', 'daemon', 'stop'], project, env);
    assert.equal(stopped.code, 0, stopped.stderr);
    await waitUntil(() => !pidAlive(pid), `daemon ${pid} to exit`);
  });

  it('installs globally (npm install -g, into a prefix of its own) and runs in any build root', async () => {
    const prefix = join(dir, 'global');
    const installed = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], dir, env);
    assert.equal(installed.code, 0, installed.stderr);
    const root = join(dir, 'elsewhere');
    await mkdir(join(root, 'lib'), { recursive: true });
    await writeFile(join(root, 'trews.toml'), '');
    await writeFile(join(root, 'lib', 'BUILD'), 'target(name="util")\n');
    const listed = await run(join(prefix, 'bin', 'trews'), ['--no-daemon', 'list', '::'], join(root, 'lib'), env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout, 'lib:util\n');
  });
});
