// End-to-end: the JavaScript backend's processes under strict isolation
// (bubblewrap), through the real CLI on real workspaces: the install (npm
// from the machine's npm cache, as in javascript-run.test.ts), tsc builds,
// tests, check and pack of examples/ts-workspace; and the attacks — a
// script reading a workspace file it did not declare, or the user's
// ~/.npmrc, by absolute path (which an unconfined sandbox lets it do), and
// a script writing into the shared node_modules copy.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lockedSemverEntry, repoRoot, runTrews, type CliResult } from './helpers/index.js';
import { makeShellRepo, resultLines, summaryLine, type ShellRepo } from './helpers/shell.js';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
const STRICT = { TREWS_SANDBOX_ISOLATION: 'strict' };
const HAVE_BWRAP = (existsSync('/usr/bin/bwrap') && existsSync('/usr/bin/strace')) || process.env['CI'] === 'true'; // CI installs them: there, their absence is a failure
const NO_BWRAP = 'bubblewrap and strace are not installed here (CI installs them: .ci/run)';
/** The machine's npm cache, where `npm ci` of trews put semver and typescript (the tests' HOME is not always the real one). */
const NPM_CACHE = process.env.npm_config_cache ?? join(homedir(), '.npm');

function ok(r: { code: number | null; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed:\n${r.stderr}`);
}

describe('examples/ts-workspace under strict isolation', { skip: HAVE_BWRAP ? false : NO_BWRAP }, () => {
  const EXAMPLE = join(repoRoot(), 'examples', 'ts-workspace');
  const LEFT_OUT = new Set(['node_modules', 'dist', '.trews.d']);
  let scratch: string;
  let root: string;
  const trews = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runTrews(args, {
      cwd: root,
      env: { TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: join(scratch, 'store'), TMPDIR: scratch, npm_config_cache: NPM_CACHE, ...env },
      timeoutMs: 300_000,
    });

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'trews-js-strict-'));
    root = join(scratch, 'ts-workspace');
    await cp(EXAMPLE, root, { recursive: true, filter: (src) => !LEFT_OUT.has(src.split('/').pop() ?? '') || src === EXAMPLE });
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('installs, builds with tsc, tests, type-checks and packs, each process under bwrap', async () => {
    let r = await trews(['test', '::'], STRICT);
    ok(r, 'test :: (strict)');
    // Each test file runs by itself (the packages test with `node --test dist/`), under bwrap too.
    assert.deepEqual(resultLines(r.stderr), [
      '✓ apps/cli/src/message.test.ts:../cli succeeded (ran locally): 1 case',
      '✓ packages/greeter/src/index.test.ts:../greeter succeeded (ran locally): 2 cases',
      '✓ packages/strings/src/index.test.ts:../strings succeeded (ran locally): 2 cases',
    ]);
    assert.equal(summaryLine(r.stderr), '7 ran locally');
    r = await trews(['check', '::'], STRICT);
    ok(r, 'check :: (strict)');
    assert.match(r.stderr, /✓ packages\/greeter:greeter checked in [0-9.]+s \(ran locally\)/);
    r = await trews(['package', 'packages/strings'], STRICT);
    ok(r, 'package (strict)');
    assert.ok(readdirSync(join(root, 'dist')).includes('demo-strings-1.0.0.tgz'));
    // Isolation is in the action: the unconfined run finds none of the strict results.
    r = await trews(['test', '::']);
    ok(r, 'test :: (none)');
    assert.equal(summaryLine(r.stderr), '7 ran locally');
  });
});

describe('a JavaScript script under strict isolation sees only its sandbox, its tools and its node_modules', { skip: HAVE_BWRAP ? false : NO_BWRAP }, () => {
  let repo: ShellRepo;
  let home: string;
  before(async () => {
    const semver = lockedSemverEntry();
    repo = await makeShellRepo({
      'package.json': json({ name: 'acme', private: true, workspaces: ['packages/*'] }),
      'package-lock.json': json({
        name: 'acme',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'acme', workspaces: ['packages/*'] },
          'node_modules/@acme/lib': { resolved: 'packages/lib', link: true },
          'node_modules/semver': semver,
          'packages/lib': { name: '@acme/lib', version: '1.0.0', dependencies: { semver: semver.version } },
        },
      }),
      'trews.toml': ['[javascript.tasks.leak]', 'outputs = ["out/**"]', '[javascript.tasks.npmrc]', 'outputs = ["out/**"]', '[javascript.tasks.poison]', 'outputs = ["out/**"]', '[javascript.tasks.store]', 'outputs = ["out/**"]', '[javascript.tasks.relative]', 'outputs = ["out/**"]', ''].join('\n'),
      'secret.txt': 'the secret\n',
      'packages/lib/package.json': json({
        name: '@acme/lib',
        version: '1.0.0',
        private: true,
        scripts: {
          build: "node -e \"require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/v.txt', require('semver').valid('1.2.3'))\"",
          leak: 'node leak.js',
          npmrc: 'node npmrc.js',
          store: 'node store.js',
          relative: "node -e \"require('fs').readFileSync('../../secret.txt')\"",
          poison: "node -e \"require('fs').writeFileSync(require.resolve('semver'), 'module.exports = null')\"",
        },
        dependencies: { semver: semver.version },
      }),
    });
    // The attacks read by absolute path, which an unconfined sandbox does not stop.
    await writeFile(
      join(repo.root, 'packages/lib/leak.js'),
      `const fs = require('fs');\nfs.mkdirSync('out', { recursive: true });\nfs.writeFileSync('out/secret.txt', fs.readFileSync(${JSON.stringify(join(repo.root, 'secret.txt'))}));\n`,
    );
    await writeFile(
      join(repo.root, 'packages/lib/store.js'),
      `const fs = require('fs');\nfs.mkdirSync('out', { recursive: true });\nfs.writeFileSync('out/cas.txt', fs.readdirSync(${JSON.stringify(join(repo.store, 'cas'))}).join('\\n'));\n`,
    );
    home = await mkdtemp(join(tmpdir(), 'trews-js-strict-home-'));
    await writeFile(join(home, '.npmrc'), '//registry.npmjs.org/:_authToken=npm_SECRET\n');
    await writeFile(
      join(repo.root, 'packages/lib/npmrc.js'),
      `const fs = require('fs');\nfs.mkdirSync('out', { recursive: true });\nfs.writeFileSync('out/npmrc', fs.readFileSync(${JSON.stringify(join(home, '.npmrc'))}));\n`,
    );
  });
  after(async () => {
    await repo.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  const trews = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    repo.trews(args, { env: { HOME: home, npm_config_cache: NPM_CACHE, ...env }, timeoutMs: 240_000 });

  it('installs (from the npm cache, network kept) and builds with the shared node_modules bound read-only', async () => {
    const r = await trews(['build', 'packages/lib:build'], STRICT);
    ok(r, 'build (strict)');
    assert.equal(summaryLine(r.stderr), '2 ran locally');
    assert.equal(await readFile(join(repo.root, 'packages/lib/dist/v.txt'), 'utf8'), '1.2.3');
  });

  it('a script reading an undeclared workspace file succeeds unconfined and fails strict, naming the file and extra_inputs', async () => {
    let r = await trews(['build', 'packages/lib:leak']);
    ok(r, 'leak (none)');
    assert.equal(await readFile(join(repo.root, 'packages/lib/out/secret.txt'), 'utf8'), 'the secret\n');
    await rm(join(repo.root, 'packages/lib/out'), { recursive: true });
    r = await trews(['build', 'packages/lib:leak'], STRICT);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`tried to read \`${join(repo.root, 'secret.txt')}\`, which is not among its inputs`), r.stderr);
    assert.match(r.stderr, /add it to `extra_inputs` of packages\/lib:leak/);
  });

  it('a script reading an undeclared workspace file by a relative path is told, strict, which file and where to declare it', async () => {
    // Unconfined, the path leads to the sandbox's root too: a plain failure with node's message.
    let r = await trews(['build', 'packages/lib:relative']);
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /which is not among its inputs/);
    r = await trews(['build', 'packages/lib:relative'], STRICT);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`tried to read \`${join(repo.root, 'secret.txt')}\`, which is not among its inputs`), r.stderr);
    assert.match(r.stderr, /add it to `extra_inputs` of packages\/lib:relative/);
  });

  it('a script reading the user\'s ~/.npmrc succeeds unconfined and fails strict, naming it', async () => {
    let r = await trews(['build', 'packages/lib:npmrc']);
    ok(r, 'npmrc (none)');
    r = await trews(['build', 'packages/lib:npmrc'], STRICT);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`tried to read \`${join(home, '.npmrc')}\``), r.stderr);
    assert.match(r.stderr, /files outside the build root \(the home directory, \/tmp, \/opt…\) cannot be inputs/);
  });

  it('a script listing the local store (beyond its node_modules copy) succeeds unconfined and fails strict', async () => {
    let r = await trews(['build', 'packages/lib:store']);
    ok(r, 'store (none)');
    r = await trews(['build', 'packages/lib:store'], STRICT);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`tried to read \`${join(repo.store, 'cas')}\``), r.stderr);
  });

  it('the target overrides [sandbox] isolation: node_script(sandbox_isolation=...), package_json(sandbox_isolation=...) for its scripts, and [javascript.tasks.x]', async () => {
    await writeFile(join(repo.root, 'packages/lib/BUILD'), 'node_script(name="leak", sandbox_isolation="none")\n');
    try {
      const r = await trews(['build', 'packages/lib:leak'], STRICT);
      ok(r, 'leak with sandbox_isolation="none" under [sandbox] isolation = "strict"');
    } finally {
      await rm(join(repo.root, 'packages/lib/BUILD'));
    }
    // A package_json's isolation is its scripts' default.
    await writeFile(join(repo.root, 'packages/lib/BUILD'), 'package_json(sandbox_isolation="strict")\n');
    try {
      const r = await trews(['build', 'packages/lib:leak']);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`tried to read \`${join(repo.root, 'secret.txt')}\``), r.stderr);
    } finally {
      await rm(join(repo.root, 'packages/lib/BUILD'));
    }
    const toml = await readFile(join(repo.root, 'trews.toml'), 'utf8');
    await writeFile(join(repo.root, 'trews.toml'), toml.replace('[javascript.tasks.npmrc]\n', '[javascript.tasks.npmrc]\nsandbox_isolation = "strict"\n'));
    try {
      const r = await trews(['build', 'packages/lib:npmrc']);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`tried to read \`${join(home, '.npmrc')}\``), r.stderr);
    } finally {
      await writeFile(join(repo.root, 'trews.toml'), toml);
    }
  });

  it('a script cannot write into the shared node_modules copy: read-only file system, and the copy stays intact', async () => {
    const r = await trews(['build', 'packages/lib:poison'], STRICT);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /EROFS: read-only file system/);
    const shared = join(repo.store, 'shared');
    const copies = readdirSync(shared).filter((n) => /^[0-9a-f]{64}-[0-9]+$/.test(n));
    assert.ok(copies.length > 0, 'the install has a shared copy');
    for (const copy of copies) {
      const file = join(shared, copy, 'node_modules/semver/index.js');
      assert.doesNotMatch(readFileSync(file, 'utf8'), /module\.exports = null/);
    }
  });

  it('bwrap and strace are found on [nodejs] search_path, not in fixed system directories; missing bwrap says what to install', async () => {
    const bin = join(repo.tmp, 'bin-without-bwrap');
    await mkdir(bin, { recursive: true });
    for (const p of ['node', 'sh', 'npm']) await symlink(join('/usr/bin', p), join(bin, p)).catch(() => undefined);
    const search = { TREWS_NODEJS_SEARCH_PATH: JSON.stringify([bin]) };
    let r = await trews(['build', 'packages/lib:leak'], { ...STRICT, ...search });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /strict sandboxes need bubblewrap \(`bwrap`\), which is not on the search path/);
    assert.ok(r.stderr.includes(`searched: ${bin}`), r.stderr);
    assert.match(r.stderr, /apt-get install bubblewrap/);
    await symlink('/usr/bin/bwrap', join(bin, 'bwrap'));
    r = await trews(['build', 'packages/lib:leak', '--sandbox-explain'], { ...STRICT, ...search });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--sandbox-explain traces processes with strace, which is not on/);
    await symlink('/usr/bin/strace', join(bin, 'strace'));
    r = await trews(['build', 'packages/lib:leak', '--sandbox-explain'], { ...STRICT, ...search });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`tried to read \`${join(repo.root, 'secret.txt')}\``), r.stderr);
  });
});
