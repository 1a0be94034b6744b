// End-to-end: JavaScript workspaces build, test and run with no BUILD file,
// through the real CLI, with the real package managers (npm from node;
// pnpm and yarn from trews' own node_modules/.bin) and real lockfiles.
//
// Offline by construction: the npm workspace depends on semver at the
// version trews itself locks (so `npm ci` of trews put its tarball in the
// user's npm cache, which the install links in), with a lockfile built
// from trews' own entry (version and integrity); the pnpm and yarn
// workspaces depend on a tarball the test packs itself (`file:`), their
// lockfiles written by the package managers with the network off.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertGolden, DaemonJanitor, lockedSemverEntry, pidAlive, repoRoot, spawnTrews, stableResults, waitUntil } from './helpers/index.js';
import { startServer, type ServerProcess } from './helpers/remote-client.js';
import { makeShellRepo, summaryLine, type ShellRepo } from './helpers/shell.js';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
const HAVE_BWRAP = existsSync('/usr/bin/bwrap') || process.env['CI'] === 'true'; // CI installs it: there, its absence is a failure
const NO_BWRAP = 'bubblewrap (`bwrap`) is not installed here (CI installs it: .ci/run)';
const BIN = join(repoRoot(), 'node_modules', '.bin');
/** The client's PATH: pnpm and yarn from trews' devDependencies, then the machine's. */
const PATH = `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`;

/** lib builds dist/index.js with semver; app builds dist/main.js from lib; both have tests. */
function npmWorkspace(): Record<string, string> {
  const semver = lockedSemverEntry();
  const buildLib = "const fs=require('fs');fs.mkdirSync('dist',{recursive:true});fs.writeFileSync('dist/index.js','exports.v='+JSON.stringify(require('semver').valid('1.2.3'))+';\\n')";
  const buildApp = "const fs=require('fs');fs.mkdirSync('dist',{recursive:true});fs.writeFileSync('dist/main.js','console.log(require(\"@acme/lib\").v, process.argv.slice(2).join(\",\"))\\n')";
  return {
    'trews.toml': '[javascript.tasks.show]\noutputs = ["out/**"]\nenv = ["GREETING"]\n',
    'package.json': json({ name: 'acme', private: true, workspaces: ['packages/*'] }),
    'package-lock.json': json({
      name: 'acme',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'acme', workspaces: ['packages/*'] },
        'node_modules/@acme/app': { resolved: 'packages/app', link: true },
        'node_modules/@acme/lib': { resolved: 'packages/lib', link: true },
        'node_modules/semver': semver,
        'packages/app': { name: '@acme/app', version: '1.0.0', dependencies: { '@acme/lib': '*' } },
        'packages/lib': { name: '@acme/lib', version: '1.0.0', dependencies: { semver: semver.version } },
      },
    }),
    'packages/lib/package.json': json({
      name: '@acme/lib',
      version: '1.0.0',
      main: 'dist/index.js',
      scripts: {
        build: 'node build.js',
        test: "node -e \"require('assert').equal(require('semver').valid('2.0.0'), '2.0.0'); console.log('lib ok')\"",
        show: "mkdir -p out && node -e \"require('fs').writeFileSync('out/env.json', JSON.stringify({ g: process.env.GREETING || null, s: process.env.SECRET || null, e: process.env.npm_lifecycle_event, n: process.env.npm_package_name }))\"",
        poison: "node -e \"require('fs').writeFileSync(require.resolve('semver'), 'module.exports = null')\"",
      },
      dependencies: { semver: semver.version },
    }),
    'packages/lib/build.js': `${buildLib}\n`,
    'packages/app/package.json': json({
      name: '@acme/app',
      version: '1.0.0',
      scripts: {
        prebuild: 'echo prebuild ran > pre.txt',
        build: 'node build.js && cp pre.txt dist/pre.txt',
        test: 'node test.js',
        start: 'node dist/main.js',
        hang: 'node hang.js',
      },
      dependencies: { '@acme/lib': '*' },
    }),
    'packages/app/build.js': `${buildApp}\n`,
    'packages/app/test.js': "const assert = require('assert');\nassert.equal(require('@acme/lib').v, '1.2.3');\nconsole.log('app ok');\n",
    // Writes its pid and its child's, then waits to be killed.
    'packages/app/hang.js': [
      "const { spawn } = require('child_process');",
      "const fs = require('fs');",
      "const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });",
      "fs.writeFileSync(process.env.PIDS_FILE, `${process.pid} ${c.pid}\\n`);",
      'setInterval(() => {}, 1000);',
      '',
    ].join('\n'),
  };
}

function trews(repo: ShellRepo, args: string[], env: Record<string, string> = {}): ReturnType<ShellRepo['trews']> {
  return repo.trews(args, { env: { PATH, ...env }, timeoutMs: 240_000 });
}

function ok(r: { code: number | null; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed:\n${r.stderr}`);
}

describe('an npm workspace builds, tests and runs with no BUILD file', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo(npmWorkspace());
  });
  after(() => repo.cleanup());

  it('installs once, builds in dependency order and writes the outputs into the workspace', async () => {
    const r = await trews(repo, ['build', '::']);
    ok(r, 'build ::');
    // The install, two builds and `show` (it declares outputs); the package targets name the same builds as their scripts.
    assert.equal(summaryLine(r.stderr), '4 ran locally');
    assert.match(r.stderr, /✓ packages\/lib:show \(ran locally\): 1 file written, 0 unchanged/);
    assert.match(r.stderr, /✓ packages\/lib:build \(ran locally\): 1 file written, 0 unchanged/);
    assert.match(r.stderr, /✓ packages\/app:build \(ran locally\): 2 files written, 0 unchanged/);
    assert.equal(await readFile(join(repo.root, 'packages/lib/dist/index.js'), 'utf8'), 'exports.v="1.2.3";\n');
    // npm runs `prebuild` before `build`, and so does trews.
    assert.equal(await readFile(join(repo.root, 'packages/app/dist/pre.txt'), 'utf8'), 'prebuild ran\n');
    // What the workspace now holds runs as built.
    execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: repo.root, stdio: 'ignore', env: { ...process.env, PATH } });
    assert.equal(execFileSync(process.execPath, ['packages/app/dist/main.js'], { cwd: repo.root, encoding: 'utf8' }), '1.2.3 \n');
  });

  it('restores deleted outputs from the cache, with nothing run, touching only what differs', async () => {
    const kept = join(repo.root, 'packages/lib/dist/index.js');
    const before = statSync(kept);
    await rm(join(repo.root, 'packages/app/dist'), { recursive: true });
    await writeFile(join(repo.root, 'packages/lib/dist/stale.js'), 'old\n');
    const r = await trews(repo, ['build', '::']);
    ok(r, 'build ::');
    assert.equal(summaryLine(r.stderr), '4 from the local cache');
    assert.match(r.stderr, /✓ packages\/app:build \(local cache\): 2 files written, 0 unchanged/);
    assert.match(r.stderr, /✓ packages\/lib:build \(local cache\): 0 files written, 1 unchanged, 1 stale removed/);
    assert.ok(existsSync(join(repo.root, 'packages/app/dist/main.js')));
    assert.ok(!existsSync(join(repo.root, 'packages/lib/dist/stale.js')));
    const after = statSync(kept);
    assert.equal(after.ino, before.ino, 'an unchanged output is not rewritten');
    assert.equal(after.mtimeMs, before.mtimeMs);
  });

  it('does not install again when only sources change', async () => {
    await writeFile(join(repo.root, 'packages/lib/build.js'), `${readFileSync(join(repo.root, 'packages/lib/build.js'), 'utf8')}// edited\n`);
    const r = await trews(repo, ['build', 'packages/lib:build']);
    ok(r, 'build');
    assert.equal(summaryLine(r.stderr), '1 ran locally, 1 from the local cache');
  });

  it('runs each package\'s test script, cached; --force reruns', async () => {
    let r = await trews(repo, ['test', '::']);
    ok(r, 'test ::');
    assert.match(r.stderr, /✓ packages\/app:test succeeded in [0-9.]+s \(ran locally\)/);
    assert.match(r.stderr, /✓ packages\/lib:test succeeded in [0-9.]+s \(ran locally\)/);
    assert.doesNotMatch(r.stderr, /poison|:build succeeded/);
    r = await trews(repo, ['test', 'packages/app:test']);
    assert.match(r.stderr, /✓ packages\/app:test succeeded in [0-9.]+s \(local cache\)/);
    r = await trews(repo, ['test', '--force', 'packages/app:test']);
    assert.match(r.stderr, /✓ packages\/app:test succeeded in [0-9.]+s \(ran locally\)/);
  });

  it('fails a failing test, with its output', async () => {
    await writeFile(join(repo.root, 'packages/app/test.js'), "console.error('expected the answer');\nprocess.exit(3);\n");
    const r = await trews(repo, ['test', 'packages/app:test']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /✕ packages\/app:test failed in [0-9.]+s \(ran locally\)/);
    assert.match(r.stderr, /packages\/app:test stderr:\n {2}expected the answer/);
  });

  it('puts the values of `env` names in the cache key and strips every other variable', async () => {
    const show = async (env: Record<string, string>): Promise<{ summary: string | undefined; out: unknown }> => {
      const r = await trews(repo, ['build', 'packages/lib:show'], env);
      ok(r, 'build packages/lib:show');
      return { summary: summaryLine(r.stderr), out: JSON.parse(await readFile(join(repo.root, 'packages/lib/out/env.json'), 'utf8')) };
    };
    const first = await show({ GREETING: 'hello', SECRET: 'one' });
    assert.deepEqual(first.out, { g: 'hello', s: null, e: 'show', n: '@acme/lib' });
    assert.equal(first.summary, '1 ran locally, 1 from the local cache');
    // Another value of an unlisted variable: the same key.
    assert.equal((await show({ GREETING: 'hello', SECRET: 'two' })).summary, '2 from the local cache');
    // Another value of a listed one: another key.
    const third = await show({ GREETING: 'bye', SECRET: 'two' });
    assert.equal(third.summary, '1 ran locally, 1 from the local cache');
    assert.deepEqual(third.out, { g: 'bye', s: null, e: 'show', n: '@acme/lib' });
  });

  it('runs a script in the workspace, attached, with the arguments after --', async () => {
    const r = await trews(repo, ['run', 'packages/app:start', '--', 'a', 'b c']);
    ok(r, 'run');
    assert.equal(r.stdout, '1.2.3 a,b c\n');
  });

  it('a script that writes into node_modules fails, and does not poison later runs', async () => {
    await writeFile(join(repo.root, 'packages/lib/BUILD'), 'node_script(name="poison", skip_tests=False)\n');
    const r = await trews(repo, ['test', 'packages/lib:poison']);
    await rm(join(repo.root, 'packages/lib/BUILD'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /modified its shared read-only inputs \(node_modules, linked from /);
    assert.match(r.stderr, /a script must not write into node_modules packages/);
    const again = await trews(repo, ['test', '--force', 'packages/lib:test']);
    ok(again, 'test after the attack');
    assert.match(again.stderr, /✓ packages\/lib:test succeeded/);
  });

  it('Ctrl-C kills the process group of a running script', async () => {
    const pids = join(repo.tmp, 'pids.txt');
    await rm(pids, { force: true });
    await writeFile(join(repo.root, 'trews.toml'), `${readFileSync(join(repo.root, 'trews.toml'), 'utf8')}[javascript.tasks.hang]\nenv = ["PIDS_FILE"]\n`);
    await writeFile(join(repo.root, 'packages/app/BUILD'), 'node_script(name="hang", skip_tests=False)\n');
    const run = spawnTrews(['test', 'packages/app:hang'], { cwd: repo.root, env: { ...repo.env, PATH, PIDS_FILE: pids }, timeoutMs: 240_000 });
    run.child.stdin?.end('');
    await waitUntil(() => existsSync(pids) && readFileSync(pids, 'utf8').endsWith('\n'), 'the script to start', 120_000);
    const [leader, child] = readFileSync(pids, 'utf8').trim().split(' ').map(Number) as [number, number];
    assert.ok(pidAlive(leader) && pidAlive(child));
    run.child.kill('SIGINT');
    const r = await run.result;
    assert.notEqual(r.code, 0);
    await waitUntil(() => !pidAlive(leader) && !pidAlive(child), 'the script and its child to be killed');
    await rm(join(repo.root, 'packages/app/BUILD'));
  });

  it('a lockfile out of date with a package.json is an error that names the command', async () => {
    const p = join(repo.root, 'packages/app/package.json');
    const manifest = JSON.parse(await readFile(p, 'utf8')) as { dependencies: Record<string, string> };
    const original = await readFile(p, 'utf8');
    manifest.dependencies['semver'] = '^6.0.0';
    await writeFile(p, json(manifest));
    const r = await trews(repo, ['build', 'packages/lib:build']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error: package-lock\.json: the lockfile package-lock\.json is out of date: it does not match the package\.json files/);
    assert.match(r.stderr, /run `npm install` at the build root and commit package-lock\.json/);
    await writeFile(p, original);
  });

  it('a missing lockfile is an error that names the command', async () => {
    const lock = await readFile(join(repo.root, 'package-lock.json'), 'utf8');
    await rm(join(repo.root, 'package-lock.json'));
    const r = await trews(repo, ['test', 'packages/lib:test']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /the workspace has no lockfile \(package-lock\.json\), which installing its dependencies needs/);
    assert.match(r.stderr, /run `npm install` at the build root and commit package-lock\.json/);
    await writeFile(join(repo.root, 'package-lock.json'), lock);
  });
});

/**
 * A `typecheck` script that prints what tsc prints (`--pretty false`, from
 * the package) when a file BROKEN exists; tsc itself is not needed.
 */
const TYPECHECK_JS = [
  "const fs = require('fs');",
  "if (fs.existsSync('BROKEN')) {",
  "  console.log(\"src/index.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\");",
  "  console.log('  The expected type comes from here.');",
  "  console.log(\"src/other.ts(1,1): error TS2304: Cannot find name 'x'.\");",
  '  process.exit(2);',
  '}',
  '',
].join('\n');

/** The npm workspace, with a typecheck script in lib. */
function checkedWorkspace(): Record<string, string> {
  const files = npmWorkspace();
  const lib = JSON.parse(files['packages/lib/package.json']!) as { scripts: Record<string, string> };
  lib.scripts['typecheck'] = 'node typecheck.js';
  return {
    ...files,
    'trews.toml': `${files['trews.toml']!}[javascript.tasks.typecheck]\nenv = ["STRICTNESS"]\n`,
    'packages/lib/package.json': json(lib),
    'packages/lib/typecheck.js': TYPECHECK_JS,
  };
}

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

describe('build, check and export tell their results as test does', () => {
  let repo: ShellRepo;
  before(async () => {
    repo = await makeShellRepo(checkedWorkspace());
  });
  after(() => repo.cleanup());
  const viaDaemon = (args: string[]): ReturnType<ShellRepo['trews']> =>
    janitor.run(repo.root, args, { env: { ...repo.env, TREWS_DAEMON: 'true', PATH } });
  const shown = (args: string[], r: { code: number | null; stderr: string }, note = ''): string =>
    `$ trews ${args.join(' ')}${note}   (exit ${r.code})\n${stableResults(r.stderr.split(repo.root).join('<root>'))}`;

  it('a line per result as it finishes, the failures again, and one summary line; the same through the daemon', async () => {
    const out: string[] = [];
    const run = async (args: string[], note = '', daemon = false): Promise<void> => {
      const r = daemon ? await viaDaemon(args) : await trews(repo, args);
      out.push(shown(args, r, note));
    };
    await run(['build', '::']);
    const buildJs = join(repo.root, 'packages/lib/build.js');
    const good = await readFile(buildJs, 'utf8');
    await writeFile(buildJs, "console.error('lib cannot build'); process.exit(3);\n");
    await run(['build', '::'], ' (lib\'s build broken)');
    await writeFile(buildJs, good);
    await run(['check', '::']);
    await writeFile(join(repo.root, 'packages/lib/BROKEN'), '');
    await run(['check', '::'], ' (a type error)');
    await rm(join(repo.root, 'packages/lib/BROKEN'));
    await run(['export', '::']);
    await run(['build', '::'], ' (through the daemon)', true);
    await run(['build', '::'], ' (through the daemon, again)', true);
    await run(['check', '::'], ' (through the daemon)', true);
    assertGolden('javascript/goal-consoles', out.join(''));
  });

  it('check runs a package\'s typecheck script as its task says, and [javascript] check_scripts picks another', async () => {
    let r = await trews(repo, ['check', 'packages/lib'], { STRICTNESS: 'high' });
    ok(r, 'check');
    assert.match(r.stderr, /✓ packages\/lib:lib checked in [0-9.]+s \(ran locally\)/);
    // `env` of the typecheck task reached it, and a new value is a new key.
    r = await trews(repo, ['check', 'packages/lib'], { STRICTNESS: 'high' });
    assert.match(r.stderr, /✓ packages\/lib:lib checked in [0-9.]+s \(local cache\)/);
    r = await trews(repo, ['check', 'packages/lib'], { STRICTNESS: 'low' });
    assert.match(r.stderr, /✓ packages\/lib:lib checked in [0-9.]+s \(ran locally\)/);
    // A failing check is not cached: it runs again, and fails with the locations from the build root.
    await writeFile(join(repo.root, 'packages/lib/BROKEN'), '');
    for (let i = 0; i < 2; i++) {
      r = await trews(repo, ['check', 'packages/lib']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^✕ packages\/lib:lib failed with 2 errors \(ran locally\)\npackages\/lib\/src\/index\.ts:3:7: error TS2322: /m);
      assert.match(r.stderr, /^packages\/lib\/src\/other\.ts:1:1: error TS2304: Cannot find name 'x'\.$/m);
    }
    await rm(join(repo.root, 'packages/lib/BROKEN'));
    // No check script in the list and no tsconfig.json: nothing to check.
    r = await trews(repo, ['check', '--javascript-check-scripts=[]', 'packages/lib']);
    ok(r, 'check with no check scripts');
    assert.match(r.stderr, /^nothing to check: none of the \d+ targets the specs select has a type-checker$/m);
    // Other names, the first the package has: app's test script, which passes.
    r = await trews(repo, ['check', '--javascript-check-scripts=["verify", "test"]', 'packages/app']);
    ok(r, 'check with app\'s test script');
    assert.match(r.stderr, /✓ packages\/app:app checked in [0-9.]+s \(ran locally\)/);
  });
});

/** Packs `tiny` (a one-file package) into vendor/, so pnpm and yarn install it with no network. */
async function packTiny(root: string): Promise<void> {
  const src = join(root, 'vendor-src/tiny');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'package.json'), json({ name: 'tiny', version: '1.0.0', main: 'index.js' }));
  await writeFile(join(src, 'index.js'), 'module.exports = (s) => s.toUpperCase();\n');
  await mkdir(join(root, 'vendor'), { recursive: true });
  execFileSync('npm', ['pack', '--pack-destination', join(root, 'vendor')], { cwd: src, stdio: 'ignore', env: { ...process.env, PATH } });
  await rm(join(root, 'vendor-src'), { recursive: true });
}

function twoPackages(link: string): Record<string, string> {
  return {
    'packages/lib/package.json': json({
      name: '@acme/lib',
      version: '1.0.0',
      main: 'dist/index.js',
      scripts: { build: "mkdir -p dist && node -e \"require('fs').writeFileSync('dist/index.js', 'exports.v = ' + JSON.stringify(require('tiny')('ok')))\"" },
      dependencies: { tiny: 'file:../../vendor/tiny-1.0.0.tgz' },
    }),
    'packages/app/package.json': json({
      name: '@acme/app',
      version: '1.0.0',
      scripts: { test: "node -e \"require('assert').equal(require('@acme/lib').v, 'OK')\"" },
      dependencies: { '@acme/lib': link },
    }),
  };
}

for (const pm of ['pnpm', 'yarn'] as const) {
  describe(`a ${pm} workspace builds and tests with no BUILD file`, () => {
    let repo: ShellRepo;
    before(async () => {
      const files: Record<string, string> =
        pm === 'pnpm'
          ? {
              'package.json': json({ name: 'acme', private: true, packageManager: 'pnpm@9.15.9' }),
              'pnpm-workspace.yaml': 'packages:\n  - "packages/*"\n',
              ...twoPackages('workspace:*'),
            }
          : {
              'package.json': json({ name: 'acme', private: true, packageManager: 'yarn@4.18.1', workspaces: ['packages/*'] }),
              '.yarnrc.yml': 'nodeLinker: node-modules\nenableTelemetry: false\n',
              'yarn.lock': '',
              ...twoPackages('workspace:*'),
            };
      repo = await makeShellRepo(files);
      await packTiny(repo.root);
      const env = { ...process.env, PATH, YARN_ENABLE_NETWORK: '0', npm_config_offline: 'true', YARN_ENABLE_TELEMETRY: '0' };
      // The package managers write the real lockfiles, with the network off.
      if (pm === 'pnpm') execFileSync(BIN + '/pnpm', ['install', '--lockfile-only', '--offline'], { cwd: repo.root, stdio: 'ignore', env });
      else execFileSync(BIN + '/yarn', ['install', '--mode=update-lockfile'], { cwd: repo.root, stdio: 'ignore', env });
      await rm(join(repo.root, 'node_modules'), { recursive: true, force: true });
      await rm(join(repo.root, '.yarn'), { recursive: true, force: true });
    });
    after(() => repo.cleanup());

    it('installs with its lockfile, builds the dependency first and tests; then all from the cache', async () => {
      let r = await trews(repo, ['test', '::']);
      ok(r, 'test ::');
      assert.match(r.stderr, /✓ packages\/app:test succeeded in [0-9.]+s \(ran locally\)/);
      assert.equal(summaryLine(r.stderr), '3 ran locally');
      r = await trews(repo, ['build', '::']);
      ok(r, 'build ::');
      assert.equal(await readFile(join(repo.root, 'packages/lib/dist/index.js'), 'utf8'), 'exports.v = "OK"');
      assert.equal(summaryLine(r.stderr), '2 from the local cache');
      assert.ok(!readdirSync(repo.root).includes('node_modules'), 'the workspace gets no node_modules');
    });

    it(`packs each publishable package with ${pm} pack into dist/, workspace: ranges made versions; then from the cache`, async () => {
      let r = await trews(repo, ['package', '::']);
      ok(r, 'package ::');
      assert.match(r.stderr, /^Packages: 2 built, 2 total · /m);
      const names = readdirSync(join(repo.root, 'dist')).sort();
      assert.deepEqual(names, ['acme-app-1.0.0.tgz', 'acme-lib-1.0.0.tgz']);
      const tar = (name: string, ...args: string[]): string => execFileSync('tar', ['xzf', join(repo.root, 'dist', name), '-O', ...args], { encoding: 'utf8' });
      const listing = (name: string): string[] => execFileSync('tar', ['tzf', join(repo.root, 'dist', name)], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
      // lib's tarball holds its build's output, which trews built first.
      assert.deepEqual(listing('acme-lib-1.0.0.tgz'), ['package/dist/index.js', 'package/package.json']);
      assert.equal(tar('acme-lib-1.0.0.tgz', 'package/dist/index.js'), 'exports.v = "OK"');
      // As their publish does, the package manager wrote the version it links for `workspace:*`.
      const app = JSON.parse(tar('acme-app-1.0.0.tgz', 'package/package.json')) as { dependencies: Record<string, string> };
      assert.deepEqual(app.dependencies, { '@acme/lib': '1.0.0' });
      await rm(join(repo.root, 'dist'), { recursive: true });
      r = await trews(repo, ['package', '::']);
      ok(r, 'package :: again');
      assert.doesNotMatch(summaryLine(r.stderr) ?? '', /ran locally/);
      assert.deepEqual(readdirSync(join(repo.root, 'dist')).sort(), names);
    });

    it(`under strict isolation, ${pm} (from trews' node_modules, outside the system directories) installs, builds, tests and packs under bwrap`, { skip: HAVE_BWRAP ? false : NO_BWRAP }, async () => {
      await rm(join(repo.root, 'dist'), { recursive: true, force: true });
      const strict = { TREWS_SANDBOX_ISOLATION: 'strict' };
      let r = await trews(repo, ['test', '::'], strict);
      ok(r, 'test :: (strict)');
      // Strict results are other actions: all run again.
      assert.equal(summaryLine(r.stderr), '3 ran locally');
      r = await trews(repo, ['package', '::'], strict);
      ok(r, 'package :: (strict)');
      assert.deepEqual(readdirSync(join(repo.root, 'dist')).sort(), ['acme-app-1.0.0.tgz', 'acme-lib-1.0.0.tgz']);
    });
  });
}

describe('a JavaScript workspace with remote execution', () => {
  let server: ServerProcess;
  let repo: ShellRepo;
  before(async () => {
    server = await startServer();
    repo = await makeShellRepo({
      'package.json': json({ name: 'acme', private: true, packageManager: 'pnpm@9.15.9' }),
      'pnpm-workspace.yaml': 'packages:\n  - "packages/*"\n',
      ...twoPackages('workspace:*'),
    });
    await packTiny(repo.root);
    execFileSync(BIN + '/pnpm', ['install', '--lockfile-only', '--offline'], { cwd: repo.root, stdio: 'ignore', env: { ...process.env, PATH } });
  });
  after(async () => {
    await server.stop();
    await repo.cleanup();
  });

  it('installs, builds and tests on the server, then a fresh store is served from the remote cache', async () => {
    const remote = { TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_STORE_SERVER: `grpc://${server.address}`, TREWS_REMOTE_EXECUTION_SERVER: `grpc://${server.address}` };
    let r = await trews(repo, ['test', '::'], remote);
    ok(r, 'test :: remotely');
    assert.equal(summaryLine(r.stderr), '3 ran remotely');
    await rm(repo.store, { recursive: true, force: true });
    r = await trews(repo, ['build', '::'], { TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_STORE_SERVER: `grpc://${server.address}` });
    ok(r, 'build :: from the remote cache');
    assert.equal(summaryLine(r.stderr), '2 from the remote cache');
    assert.equal(await readFile(join(repo.root, 'packages/lib/dist/index.js'), 'utf8'), 'exports.v = "OK"');
  });
});
