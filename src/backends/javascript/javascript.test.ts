import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isFailureError, type AbsPath } from '../../core/index.js';
import { createEngine } from '../../engine/index.js';
import type { Workspace } from '../../fs/index.js';
import { renderFailure } from '../../ui/index.js';
import { readManifest } from './package-json.js';
import { PackageDependenciesKey } from './package-dependencies.js';
import { resolveTask, checkTasks } from './pipeline.js';
import { readPnpmWorkspace } from './pnpm-workspace.js';
import { scriptTargetName } from './synthetic-targets.js';
import { JsWorkspaceKey, requireLockfile, requirePackageManager } from './workspace.js';

/** The rendered error `f` throws, as users see it. */
function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isFailureError(e)) return renderFailure(e.failure);
    throw e;
  }
  assert.fail('no error');
}

describe('package.json with positions', () => {
  it('reads what targets need, with the location of each script and dependency range', () => {
    const m = readManifest('pkg', 'pkg/package.json', '\ufeff{\n  "name": "a",\n  "scripts": {"build": "tsc", "build": "tsc -b"},\n  "devDependencies": {"b": "^1"}\n}\n');
    assert.deepEqual(
      [m.name, m.version, m.scripts.map((s) => [s.name, s.command, s.at.line, s.at.col]), m.dependencies.map((d) => [d.name, d.range, d.field, d.at.line, d.at.col])],
      // A repeated key keeps the last value, as JSON.parse does.
      ['a', null, [['build', 'tsc -b', 3, 31]], [['b', '^1', 'devDependencies', 4, 28]]],
    );
  });

  it('says where a broken file breaks', () => {
    const cases: [string, string][] = [
      ['{"name": "a",}', 'error: p/package.json:1:13: invalid JSON: a trailing comma is not allowed in JSON'],
      ['{"name": "a" "version": "1"}', 'error: p/package.json:1:14: invalid JSON: expected `,`'],
      ["{'name': 'a'}", 'error: p/package.json:1:2: invalid JSON: unexpected character'],
      ['{"name": "a"', 'error: p/package.json:1:13: invalid JSON: expected `}`'],
      ['', 'error: p/package.json:1:1: invalid JSON: the file is empty; a package.json holds an object, at least `{}`'],
      ['[]', 'error: p/package.json:1:1: a package.json must be an object, not an array'],
      ['{"version": 1}', 'error: p/package.json:1:13: `version` must be a string, not a number'],
      ['{"dependencies": {"x": true}}', 'error: p/package.json:1:24: `dependencies` entry `x` must be a string (a version range), not `true`'],
    ];
    for (const [text, first] of cases) assert.equal(errorOf(() => readManifest('p', 'p/package.json', text)).split('\n')[0], first, text);
  });

  it('keeps a malformed `workspaces` as a problem, raised only for the root', () => {
    const m = readManifest('p', 'p/package.json', '{"workspaces": {"nohoist": []}}');
    assert.equal(m.workspacesProblem?.message, '`workspaces` must be an array of globs, or an object with a `packages` array, not an object');
  });
});

describe('pnpm-workspace.yaml', () => {
  it('reads `packages`, and points at what is wrong', () => {
    assert.deepEqual(
      readPnpmWorkspace('packages:\n  - "a/*"\n  - \'!**/test/**\'\ncatalog:\n  x: 1\n').map((p) => [p.pattern, p.at.line, p.at.col]),
      [
        ['a/*', 2, 5],
        ['!**/test/**', 3, 5],
      ],
    );
    assert.deepEqual(readPnpmWorkspace(''), []);
    assert.equal(
      errorOf(() => readPnpmWorkspace('packages:\n  - a\n  - [b]\n')),
      'error: pnpm-workspace.yaml:3:5: every entry of `packages` must be a string (a glob of package directories)\n    - [b]\n      ^^^\n',
    );
  });
});

describe('script target names', () => {
  it('keep valid names, turn other characters into `.`, and step aside for the package target', () => {
    assert.equal(scriptTargetName('build', 'lib'), 'build');
    assert.equal(scriptTargetName('build:types', 'lib'), 'build.types');
    assert.equal(scriptTargetName('test/unit e2e', 'lib'), 'test.unit.e2e');
    assert.equal(scriptTargetName('docs', 'docs'), 'docs.script');
  });
});

describe('the pipeline', () => {
  it('layers defaults, [javascript] tasks and BUILD settings field by field', () => {
    const t = resolveTask('build', { build: { outputs: ['out/**'] } }, [{ config: { timeout: 60 }, origin: 'p/BUILD:1:1' }]);
    assert.deepEqual([t.depends_on, t.outputs, t.timeout, t.cache], [['^build'], ['out/**'], 60, true]);
    assert.deepEqual([t.origins.depends_on, t.origins.outputs, t.origins.timeout], ['the default for `build`', '`[javascript] tasks`', 'p/BUILD:1:1']);
    assert.deepEqual(resolveTask('codegen', {}).depends_on, []);
    // `constructor` is no default task name, whatever Object.prototype says.
    assert.deepEqual(resolveTask('constructor', {}).outputs, []);
  });

  it('rejects what is not a task, naming the field', () => {
    assert.equal(checkTasks({ build: { outputs: 'dist' } }, 'tasks'), '`tasks.build.outputs` must be a list of globs');
    assert.equal(checkTasks({ build: { env: ['A-B'] } }, 'tasks'), '`tasks.build.env`: `A-B` is not a variable name (letters, digits and _, optionally ending in *)');
    assert.equal(checkTasks({ build: { depends_on: ['^'] } }, 'tasks'), '`tasks.build.depends_on`: `^` is not `script`, `^script` or `package#script`');
    assert.equal(checkTasks({ build: { timeout: 0 } }, 'tasks'), '`tasks.build.timeout` must be a positive number of seconds');
    assert.equal(checkTasks({ build: { depends_on: ['^build', 'ui#build'], env: ['NEXT_PUBLIC_*'], inputs: null } }, 'tasks'), undefined);
    assert.equal(checkTasks({ test: { sandbox_isolation: 'jail' } }, 'tasks'), '`tasks.test.sandbox_isolation` must be "none" or "strict"');
    assert.equal(checkTasks({ test: { network: 'yes' } }, 'tasks'), '`tasks.test.network` must be true or false');
    assert.equal(checkTasks({ test: { sandbox_isolation: 'strict', network: true } }, 'tasks'), undefined);
  });

  it('layers sandbox_isolation and network like the other fields; unset, isolation is null (the package\'s, else [sandbox])', () => {
    assert.deepEqual([resolveTask('test', {}).sandbox_isolation, resolveTask('test', {}).network], [null, false]);
    const t = resolveTask('test', { test: { sandbox_isolation: 'strict' } }, [{ config: { network: true }, origin: 'p/BUILD:1:1' }]);
    assert.deepEqual([t.sandbox_isolation, t.network, t.origins.network], ['strict', true, 'p/BUILD:1:1']);
  });
});

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function workspace(files: Record<string, string>): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), 'trews-js-'));
  roots.push(root);
  for (const [p, t] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), t);
  }
  return { root: root as AbsPath, rules: { buildPatterns: ['BUILD'], ignorePatterns: [], useGitignore: false } };
}

describe('the package manager and the lockfile', () => {
  const manager = async (files: Record<string, string>) => createEngine().startRun().get(new JsWorkspaceKey(await workspace({ 'package.json': '{}', ...files })));

  it('comes from `packageManager`, else the one lockfile, else pnpm-workspace.yaml, else npm', async () => {
    const pm = (w: Awaited<ReturnType<typeof manager>>) => [w.packageManager.name, w.packageManager.version, w.packageManager.lockfile, w.problem?.reason ?? null];
    assert.deepEqual(pm(await manager({ 'package.json': '{"packageManager": "pnpm@9.1.0+sha256.abc"}', 'pnpm-lock.yaml': '' })), ['pnpm', '9.1.0', 'pnpm-lock.yaml', null]);
    assert.deepEqual(pm(await manager({ 'yarn.lock': '' })), ['yarn', null, 'yarn.lock', null]);
    assert.deepEqual(pm(await manager({ 'pnpm-workspace.yaml': '' })), ['pnpm', null, null, null]);
    assert.deepEqual(pm(await manager({})), ['npm', null, null, null]);
    assert.deepEqual(pm(await manager({ 'package-lock.json': '{}', 'yarn.lock': '' })), ['npm', null, 'package-lock.json', 'several-lockfiles']);
    assert.deepEqual(pm(await manager({ 'package.json': '{"packageManager": "yarn@4.0.0"}', 'package-lock.json': '{}' })), ['yarn', '4.0.0', null, 'package-manager-mismatch']);
  });

  it('disagreement and a missing lockfile are errors only when asked for, saying what to do', async () => {
    const several = await manager({ 'package-lock.json': '{}', 'pnpm-lock.yaml': '' });
    assert.equal(
      errorOf(() => requirePackageManager(several)),
      [
        'error: package-lock.json: the build root has lockfiles of several package managers: package-lock.json, pnpm-lock.yaml',
        '  delete the ones of the package managers you do not use, or name the one you use in the root package.json: `"packageManager": "pnpm@9.1.0"`',
        '',
      ].join('\n'),
    );
    const mismatch = await manager({ 'package.json': '{\n  "packageManager": "yarn@4.0.0"\n}\n', 'package-lock.json': '{}' });
    assert.equal(
      errorOf(() => requirePackageManager(mismatch)),
      [
        'error: package.json:2:21: `packageManager` says yarn, but package-lock.json belongs to npm',
        '    "packageManager": "yarn@4.0.0"',
        '                      ^^^^^^^^^^^^',
        '  delete package-lock.json if yarn is the package manager, or fix `packageManager`',
        '',
      ].join('\n'),
    );
    const none = await manager({ 'pnpm-workspace.yaml': 'packages: []\n' });
    assert.equal(
      errorOf(() => requireLockfile(none)),
      [
        'error: pnpm-workspace.yaml: the workspace has no lockfile (pnpm-lock.yaml), which installing its dependencies needs',
        '  the package manager is pnpm, decided by pnpm-workspace.yaml',
        '  run `pnpm install` at the build root and commit pnpm-lock.yaml',
        '',
      ].join('\n'),
    );
  });
});

describe('first-party dependencies', () => {
  it('are workspace: ranges, file: paths to a package, and ranges the workspace version satisfies', async () => {
    const ws = await workspace({
      'package.json': JSON.stringify({ workspaces: ['p/*'] }),
      'p/lib/package.json': JSON.stringify({ name: 'lib', version: '1.4.0' }),
      'p/pre/package.json': JSON.stringify({ name: 'pre', version: '2.0.0-rc.1' }),
      'p/app/package.json': JSON.stringify({
        name: 'app',
        dependencies: { lib: '~1.4.0', pre: '^2.0.0', react: '^18' },
        devDependencies: { lib: 'workspace:^1.0.0' },
        optionalDependencies: { local: 'file:../lib' },
      }),
      'p/old/package.json': JSON.stringify({ name: 'old', dependencies: { lib: '^2.0.0', pre: '2.0.0-rc.1', app: 'github:acme/app' } }),
    });
    const run = createEngine().startRun();
    const app = await run.get(new PackageDependenciesKey(ws, 'p/app'));
    assert.deepEqual(
      app.firstParty.map((d) => [d.dir, d.field]),
      [['p/lib', 'dependencies']],
    );
    // A prerelease satisfies no plain range that does not name it, as for npm.
    assert.deepEqual(
      app.thirdParty.map((d) => d.name),
      ['pre', 'react'],
    );
    const old = await run.get(new PackageDependenciesKey(ws, 'p/old'));
    assert.deepEqual([old.firstParty.map((d) => d.dir), old.thirdParty.map((d) => d.name)], [['p/pre'], ['lib', 'app']]);
  });
});
