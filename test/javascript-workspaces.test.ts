// End-to-end: JavaScript workspaces (npm, pnpm, yarn) without BUILD files,
// through the real CLI: inferred targets in list, peek, dependencies,
// dependents and --changed-since; BUILD files and trews.toml configuring
// them; broken package.json files as text; a daemon re-validating edits.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertGolden, DaemonJanitor, makeRepo, runTrews, type TempRepo } from './helpers/index.js';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/** The npm workspace of the issue: lib; util on lib by `*`; app on util and lib by ranges, and on a registry package. */
const NPM_WORKSPACE: Record<string, string> = {
  'package.json': json({ name: 'acme', private: true, workspaces: ['packages/*'], scripts: { lint: 'eslint .' } }),
  'package-lock.json': '{}\n',
  'packages/lib/package.json': json({ name: '@acme/lib', version: '1.2.0', scripts: { build: 'tsc -p .', test: 'node --test' } }),
  'packages/lib/src/index.ts': 'export const lib = 1;\n',
  'packages/lib/dist/index.js': 'exports.lib = 1;\n',
  'packages/util/package.json': json({ name: '@acme/util', version: '0.1.0', dependencies: { '@acme/lib': '*' }, scripts: { test: 'node --test', lint: 'eslint .' } }),
  'packages/util/index.js': 'module.exports = {};\n',
  'packages/app/package.json': json({
    name: '@acme/app',
    version: '0.0.1',
    dependencies: { '@acme/util': '^0.1.0', 'left-pad': '^1.3.0' },
    devDependencies: { '@acme/lib': '^1.0.0' },
    scripts: { build: 'vite build', test: 'vitest run', dev: 'vite' },
  }),
  'packages/app/main.ts': 'import "@acme/util";\n',
  'packages/app/node_modules/left-pad/package.json': json({ name: 'left-pad', version: '1.3.0' }),
  'packages/app/node_modules/left-pad/index.js': '',
};

async function trews(repo: TempRepo, args: string[], env?: Record<string, string>): Promise<string> {
  const r = await runTrews(args, { cwd: repo.root, ...(env ? { env } : {}) });
  assert.equal(r.code, 0, `trews ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** The lines of an output, with the build root's name (the root package's target name) as ROOT. */
function lines(repo: TempRepo, out: string): string[] {
  const name = basename(repo.root);
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(`//:${name}`).join('//:ROOT'))
    .sort();
}

function git(repo: TempRepo, ...args: string[]): void {
  execFileSync('git', args, {
    cwd: repo.root,
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  });
}

describe('an npm workspace with no BUILD file', () => {
  let repo: TempRepo;
  before(async () => {
    repo = await makeRepo(NPM_WORKSPACE);
  });
  after(() => repo.cleanup());

  it('lists a package target and a target per script for the root and each package', async () => {
    assert.deepEqual(lines(repo, await trews(repo, ['list', '::'])), [
      '//:ROOT',
      '//:lint',
      'packages/app/main.ts:app',
      'packages/app:app',
      'packages/app:build',
      'packages/app:dev',
      'packages/app:test',
      'packages/lib/src/index.ts:../lib',
      'packages/lib:build',
      'packages/lib:lib',
      'packages/lib:test',
      'packages/util/index.js:util',
      'packages/util:lint',
      'packages/util:test',
      'packages/util:util',
    ].sort());
    assert.deepEqual(lines(repo, await trews(repo, ['list', 'packages/lib:'])), ['packages/lib/src/index.ts:../lib', 'packages/lib:build', 'packages/lib:lib', 'packages/lib:test']);
    // A file spec names the file's own target (its package and scripts own it too, for --changed-since).
    assert.deepEqual(lines(repo, await trews(repo, ['list', 'packages/lib/src/index.ts'])), ['packages/lib/src/index.ts:../lib']);
  });

  it('peeks at what was inferred: package fields, the task of a script, its files', async () => {
    const [build, pkg] = JSON.parse(await trews(repo, ['peek', 'packages/lib:lib', 'packages/lib:build'])) as Record<string, unknown>[];
    assert.deepEqual(
      { address: pkg!.address, type: pkg!.target_type, file: pkg!.build_file, line: pkg!.line, package: pkg!.package, version: pkg!.version, files: pkg!.source_files },
      {
        address: 'packages/lib:lib',
        type: 'package_json',
        file: 'packages/lib/package.json',
        line: 2,
        package: '@acme/lib',
        version: '1.2.0',
        // dist/ is the default output of `build`, so it is no source.
        files: ['packages/lib/package.json', 'packages/lib/src/index.ts'],
      },
    );
    assert.deepEqual(
      {
        address: build!.address,
        type: build!.target_type,
        line: build!.line,
        script: build!.script,
        command: build!.command,
        depends_on: build!.depends_on,
        outputs: build!.outputs,
        cache: build!.cache,
        dependencies: build!.dependencies,
      },
      {
        address: 'packages/lib:build',
        type: 'node_script',
        line: 5,
        script: 'build',
        command: 'tsc -p .',
        depends_on: ['^build'],
        outputs: ['dist/**', 'build/**', '.next/**', '!.next/cache/**'],
        cache: true,
        dependencies: ['packages/lib:lib'],
      },
    );
    const [app] = JSON.parse(await trews(repo, ['peek', 'packages/app:app'])) as Record<string, unknown>[];
    assert.deepEqual(app!.source_files, ['packages/app/main.ts', 'packages/app/package.json'], 'node_modules is no part of a package');
  });

  it('follows first-party dependencies by `*` and by range, and ^build through a package without build', async () => {
    assert.deepEqual(lines(repo, await trews(repo, ['dependencies', 'packages/app:app'])), ['packages/lib:lib', 'packages/util:util']);
    // util has no build script: app's ^build reaches lib's through it (and through app's devDependency on lib).
    assert.deepEqual(lines(repo, await trews(repo, ['dependencies', 'packages/app:build'])), ['packages/app:app', 'packages/lib:build']);
    assert.deepEqual(lines(repo, await trews(repo, ['dependencies', 'packages/app:test'])), ['packages/app:app', 'packages/app:build', 'packages/lib:build']);
    assert.deepEqual(lines(repo, await trews(repo, ['dependencies', '--transitive', 'packages/app:test'])), [
      'packages/app:app',
      'packages/app:build',
      'packages/lib:build',
      'packages/lib:lib',
      'packages/util:util',
    ]);
  });

  it('answers dependents of inferred targets', async () => {
    assert.deepEqual(lines(repo, await trews(repo, ['dependents', 'packages/lib:lib'])), ['packages/app:app', 'packages/lib:build', 'packages/lib:test', 'packages/util:util']);
    assert.deepEqual(lines(repo, await trews(repo, ['dependents', '--transitive', 'packages/util:util'])), [
      'packages/app:app',
      'packages/app:build',
      'packages/app:dev',
      'packages/app:test',
      'packages/util:lint',
      'packages/util:test',
    ]);
  });

  it('--changed-since maps changed files, and changed package.json files, to inferred targets', async () => {
    const r = await makeRepo(NPM_WORKSPACE);
    try {
      git(r, 'init', '-q');
      git(r, 'add', '-A');
      git(r, 'commit', '-qm', 'init');
      await r.write('packages/lib/src/index.ts', 'export const lib = 2;\n');
      assert.deepEqual(lines(r, await trews(r, ['list', '--changed-since=HEAD'])), ['packages/lib/src/index.ts:../lib', 'packages/lib:build', 'packages/lib:lib', 'packages/lib:test']);
      assert.deepEqual(lines(r, await trews(r, ['list', '--changed-since=HEAD', '--changed-dependents=direct'])), [
        'packages/app:app',
        'packages/app:build',
        'packages/app:dev',
        'packages/app:test',
        'packages/lib/src/index.ts:../lib',
        'packages/lib:build',
        'packages/lib:lib',
        'packages/lib:test',
        'packages/util:lint',
        'packages/util:test',
        'packages/util:util',
      ]);
      git(r, 'commit', '-qam', 'lib');
      // A script's command changed: every target the package.json declares changed.
      const util = JSON.parse(NPM_WORKSPACE['packages/util/package.json']!) as { scripts: Record<string, string> };
      util.scripts.test = 'node --test --experimental-test-coverage';
      await r.write('packages/util/package.json', json(util));
      // Its per-file targets too: package.json decides how their imports resolve.
      assert.deepEqual(lines(r, await trews(r, ['list', '--changed-since=HEAD'])), ['packages/util/index.js:util', 'packages/util:lint', 'packages/util:test', 'packages/util:util']);
    } finally {
      await r.cleanup();
    }
  });

  it('a range no workspace version satisfies is a registry dependency, not the workspace package', async () => {
    const r = await makeRepo({
      ...NPM_WORKSPACE,
      'packages/app/package.json': json({ name: '@acme/app', version: '0.0.1', dependencies: { '@acme/lib': '^2.0.0', '@acme/util': '0.1.x' } }),
    });
    try {
      assert.deepEqual(lines(r, await trews(r, ['dependencies', 'packages/app:app'])), ['packages/util:util']);
    } finally {
      await r.cleanup();
    }
  });
});

describe('pnpm and yarn workspaces', () => {
  it('pnpm: pnpm-workspace.yaml globs with `!` and `**`, workspace: ranges, node_modules never a package', async () => {
    const repo = await makeRepo({
      'pnpm-workspace.yaml': 'packages:\n  - "packages/**"\n  - "!**/fixtures/**"\n',
      'pnpm-lock.yaml': "lockfileVersion: '9.0'\n",
      'package.json': json({ name: 'mono', private: true }),
      'packages/core/package.json': json({ name: 'core', version: '2.0.0', scripts: { build: 'tsc', 'build:types': 'tsc -d' } }),
      'packages/core/test/fixtures/pkg/package.json': json({ name: 'fixture' }),
      'packages/core/node_modules/dep/package.json': json({ name: 'dep', version: '1.0.0' }),
      'packages/ui/web/package.json': json({ name: 'web', version: '0.1.0', dependencies: { core: 'workspace:^' }, scripts: { build: 'vite build', web: 'vite' } }),
    });
    try {
      assert.deepEqual(lines(repo, await trews(repo, ['list', '::'])), [
        '//:ROOT',
        'packages/core:build',
        'packages/core:build.types',
        'packages/core:core',
        'packages/ui/web:build',
        'packages/ui/web:web',
        'packages/ui/web:web.script',
      ]);
      assert.deepEqual(lines(repo, await trews(repo, ['list', 'packages/ui::'])), ['packages/ui/web:build', 'packages/ui/web:web', 'packages/ui/web:web.script']);
      assert.deepEqual(lines(repo, await trews(repo, ['dependencies', '--transitive', 'packages/ui/web:build'])), [
        'packages/core:build',
        'packages/core:core',
        'packages/ui/web:web',
      ]);
      const [core] = JSON.parse(await trews(repo, ['peek', 'packages/core:core'])) as Record<string, unknown>[];
      assert.deepEqual(core!.source_files, ['packages/core/package.json', 'packages/core/test/fixtures/pkg/package.json'], 'an excluded fixture is a file of its package');
    } finally {
      await repo.cleanup();
    }
  });

  it('yarn: `workspaces: {packages: [...]}` and yarn.lock', async () => {
    const repo = await makeRepo({
      'package.json': json({ name: 'y', private: true, workspaces: { packages: ['libs/*', 'apps/site'] } }),
      'yarn.lock': '',
      'libs/a/package.json': json({ name: 'a', version: '1.0.0', scripts: { build: 'babel src -d lib' } }),
      'libs/b/package.json': json({ name: 'b', version: '1.0.0', peerDependencies: { a: '1.x' }, scripts: { build: 'babel src -d lib', test: 'jest' } }),
      'apps/site/package.json': json({ name: 'site', private: true, dependencies: { b: 'workspace:*' }, scripts: { build: 'next build' } }),
    });
    try {
      assert.deepEqual(lines(repo, await trews(repo, ['list', '::'])), [
        '//:ROOT',
        'apps/site:build',
        'apps/site:site',
        'libs/a:a',
        'libs/a:build',
        'libs/b:b',
        'libs/b:build',
        'libs/b:test',
      ]);
      assert.deepEqual(lines(repo, await trews(repo, ['dependencies', '--transitive', 'apps/site:build'])), [
        'apps/site:site',
        'libs/a:a',
        'libs/a:build',
        'libs/b:b',
        'libs/b:build',
      ]);
    } finally {
      await repo.cleanup();
    }
  });
});

describe('BUILD files and trews.toml configure what is inferred', () => {
  it('package_json(...) and node_script(...) extend the inferred targets; other targets mix in', async () => {
    const repo = await makeRepo({
      ...NPM_WORKSPACE,
      'packages/lib/BUILD': [
        'package_json(',
        '    scripts={"build": {"outputs": ["out/**"], "env": ["NODE_ENV"], "timeout": 600}},',
        '    tags=["core"],',
        ')',
        '',
        'node_script(name="test", dependencies=["!:lib"], extra_inputs=["//tsconfig.base.json"])',
        '',
        'files(name="fixtures", sources=["src/*.ts"])',
        '',
      ].join('\n'),
      'tsconfig.base.json': '{}\n',
      'packages/lib/out/index.js': '',
      'BUILD': 'target(name="everything", dependencies=["packages/lib", "packages/app:build"])\n',
    });
    try {
      assert.deepEqual(lines(repo, await trews(repo, ['list', 'packages/lib:'])), [
        'packages/lib/dist/index.js:../lib', // dist is no output of this package's build: a source
        'packages/lib/src/index.ts:../fixtures',
        'packages/lib/src/index.ts:../lib',
        'packages/lib:build',
        'packages/lib:fixtures',
        'packages/lib:lib',
        'packages/lib:test',
      ]);
      const [build, pkg, test] = JSON.parse(await trews(repo, ['peek', 'packages/lib:lib', 'packages/lib:build', 'packages/lib:test'])) as Record<string, unknown>[];
      assert.equal(pkg!.build_file, 'packages/lib/BUILD', 'an extended target points at the BUILD file');
      assert.deepEqual(pkg!.source_files, ['packages/lib/BUILD', 'packages/lib/dist/index.js', 'packages/lib/package.json', 'packages/lib/src/index.ts']);
      assert.deepEqual([build!.outputs, build!.env, build!.timeout, build!.tags, build!.build_file], [['out/**'], ['NODE_ENV'], 600, ['core'], 'packages/lib/package.json']);
      assert.deepEqual([test!.dependencies, test!.extra_inputs, test!.build_file, test!.line], [['packages/lib:build'], ['//tsconfig.base.json'], 'packages/lib/BUILD', 6]);
      assert.ok((test!.source_files as string[]).includes('tsconfig.base.json'));
      assert.deepEqual(lines(repo, await trews(repo, ['--tag=core', 'list', '::'])), ['packages/lib:build', 'packages/lib:lib', 'packages/lib:test']);
      assert.deepEqual(lines(repo, await trews(repo, ['dependents', 'packages/lib:lib'])), ['//:everything', 'packages/app:app', 'packages/lib:build', 'packages/util:util']);
    } finally {
      await repo.cleanup();
    }
  });

  it('a BUILD target of another type replaces the inferred one of its name', async () => {
    const repo = await makeRepo({ ...NPM_WORKSPACE, 'packages/util/BUILD': 'target(name="util", tags=["replaced"])\n' });
    try {
      const [util] = JSON.parse(await trews(repo, ['peek', 'packages/util:util'])) as Record<string, unknown>[];
      assert.equal(util!.target_type, 'target');
      // app's dependency on the util package has no package target to point at any more.
      assert.deepEqual(lines(repo, await trews(repo, ['dependencies', 'packages/app:app'])), ['packages/lib:lib']);
    } finally {
      await repo.cleanup();
    }
  });

  it('[javascript] tasks in trews.toml, written as tables, changes the pipeline', async () => {
    const repo = await makeRepo({
      ...NPM_WORKSPACE,
      'trews.toml': ['[javascript.tasks.test]', 'depends_on = ["^test"]', '', '[javascript.tasks.lint]', 'depends_on = ["@acme/lib#build"]', ''].join('\n'),
    });
    try {
      assert.deepEqual(lines(repo, await trews(repo, ['dependencies', 'packages/app:test'])), ['packages/app:app', 'packages/lib:test', 'packages/util:test']);
      assert.deepEqual(lines(repo, await trews(repo, ['dependencies', 'packages/util:lint'])), ['packages/lib:build', 'packages/util:util']);
      // The same option from the environment, merged over the file's (`+{...}`).
      const env = { TREWS_JAVASCRIPT_TASKS: '+{"test": {"depends_on": []}}' };
      assert.deepEqual(lines(repo, await trews(repo, ['dependencies', 'packages/app:test'], env)), ['packages/app:app']);
    } finally {
      await repo.cleanup();
    }
  });

  it('listing needs no lockfile', async () => {
    const files = { ...NPM_WORKSPACE };
    delete files['package-lock.json'];
    const repo = await makeRepo(files);
    try {
      assert.equal(lines(repo, await trews(repo, ['list', '::'])).length, 15, '12 package and script targets, and 3 source files');
    } finally {
      await repo.cleanup();
    }
  });
});

interface ErrorCase {
  readonly name: string;
  readonly files: Record<string, string>;
  readonly args: string[];
}

const errorCases: ErrorCase[] = [
  {
    name: 'bad-json',
    files: { ...NPM_WORKSPACE, 'packages/util/package.json': '{\n  "name": "@acme/util",\n  "dependencies": { "@acme/lib": "*", },\n}\n' },
    args: ['list', '::'],
  },
  { name: 'bad-json-comment', files: { ...NPM_WORKSPACE, 'package.json': '{\n  // the root\n  "workspaces": ["packages/*"]\n}\n' }, args: ['list', '::'] },
  { name: 'workspaces-wrong-type', files: { ...NPM_WORKSPACE, 'package.json': '{\n  "name": "acme",\n  "workspaces": "packages/*"\n}\n' }, args: ['list', '::'] },
  {
    name: 'scripts-wrong-type',
    files: { ...NPM_WORKSPACE, 'packages/lib/package.json': '{\n  "name": "@acme/lib",\n  "scripts": { "build": ["tsc"] }\n}\n' },
    args: ['list', 'packages/lib:'],
  },
  {
    name: 'workspace-range-mismatch',
    files: {
      'pnpm-workspace.yaml': 'packages:\n  - packages/*\n',
      'packages/lib/package.json': json({ name: 'lib', version: '1.0.0' }),
      'packages/app/package.json': json({ name: 'app', dependencies: { lib: 'workspace:^2.0.0' } }),
    },
    args: ['dependencies', 'packages/app:app'],
  },
  {
    name: 'workspace-unknown-package',
    files: {
      'pnpm-workspace.yaml': 'packages:\n  - packages/*\n',
      'packages/lib/package.json': json({ name: 'lib', version: '1.0.0' }),
      'packages/app/package.json': json({ name: 'app', dependencies: { lbi: 'workspace:*' } }),
    },
    args: ['dependencies', 'packages/app:app'],
  },
  { name: 'bad-pnpm-workspace', files: { 'pnpm-workspace.yaml': 'packages:\n  - "packages/*\n' }, args: ['list', '::'] },
  {
    name: 'duplicate-package-name',
    files: { ...NPM_WORKSPACE, 'packages/util/package.json': '{\n  "name": "@acme/lib",\n  "version": "0.1.0"\n}\n' },
    args: ['list', '::'],
  },
  { name: 'missing-workspace-dir', files: { 'package.json': '{\n  "workspaces": ["packages/*", "tools/cli"]\n}\n' }, args: ['list', '::'] },
  { name: 'unknown-script-in-build', files: { ...NPM_WORKSPACE, 'packages/lib/BUILD': 'node_script(name="tset", timeout=60)\n' }, args: ['list', '::'] },
  { name: 'inferred-field-in-build', files: { ...NPM_WORKSPACE, 'packages/lib/BUILD': 'package_json(\n    version="2.0.0",\n)\n' }, args: ['list', '::'] },
  { name: 'package-json-outside-workspace', files: { ...NPM_WORKSPACE, 'tools/BUILD': 'package_json()\n' }, args: ['list', '::'] },
  { name: 'bad-task-in-build', files: { ...NPM_WORKSPACE, 'packages/lib/BUILD': 'package_json(scripts={"build": {"outptus": ["out/**"]}})\n' }, args: ['list', '::'] },
  { name: 'bad-task-in-config', files: { ...NPM_WORKSPACE, 'trews.toml': '[javascript.tasks.build]\ndepends_on = "^build"\n' }, args: ['list', '::'] },
  { name: 'missing-extra-input', files: { ...NPM_WORKSPACE, 'trews.toml': '[javascript.tasks.build]\nextra_inputs = ["//tsconfig.base.json"]\n' }, args: ['list', '::'] },
];

describe('broken workspaces are errors at file:line:col', () => {
  for (const c of errorCases) {
    it(c.name, async () => {
      const repo = await makeRepo(c.files);
      try {
        const r = await runTrews(c.args, { cwd: repo.root });
        const stderr = r.stderr.split(repo.root).join('<root>');
        assert.equal(r.code, 1, `exit code of trews ${c.args.join(' ')}; stderr:\n${stderr}`);
        assert.equal(r.stdout, '');
        assert.doesNotMatch(stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
        assertGolden(`javascript/${c.name}`, `$ trews ${c.args.join(' ')}\n${stderr}`);
      } finally {
        await repo.cleanup();
      }
    });
  }
});

describe('a package that reaches out of the build root', () => {
  it('is an error naming the symlink, not a package without the file', async () => {
    const repo = await makeRepo(NPM_WORKSPACE);
    try {
      await symlink('/etc/hostname', join(repo.root, 'packages/lib/src/host.txt'));
      const r = await runTrews(['list', '::'], { cwd: repo.root });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assertGolden('javascript/symlink-out-of-root', `$ trews list ::\n${r.stderr.split(repo.root).join('<root>')}`);
    } finally {
      await repo.cleanup();
    }
  });
});

describe('a daemon re-validates inferred targets when package.json files change', () => {
  const janitor = new DaemonJanitor();
  after(() => janitor.stopAll());

  it('sees a new script, a new dependency, a new package, a broken package.json and new tasks', async () => {
    const repo = await makeRepo(NPM_WORKSPACE);
    try {
      const run = async (args: string[]): Promise<string[]> => {
        const r = await janitor.run(repo.root, args);
        assert.equal(r.code, 0, `trews ${args.join(' ')} failed:\n${r.stderr}`);
        return lines(repo, r.stdout);
      };
      assert.deepEqual(await run(['list', 'packages/util:']), ['packages/util/index.js:util', 'packages/util:lint', 'packages/util:test', 'packages/util:util']);
      assert.deepEqual(await run(['dependencies', 'packages/util:test']), ['packages/lib:build', 'packages/util:util']);

      await repo.write('packages/util/package.json', json({ name: '@acme/util', version: '0.1.0', dependencies: { '@acme/lib': '*' }, scripts: { test: 'node --test', build: 'tsc' } }));
      assert.deepEqual(await run(['list', 'packages/util:']), ['packages/util/index.js:util', 'packages/util:build', 'packages/util:test', 'packages/util:util']);
      // util has a build now: app's ^build stops there.
      assert.deepEqual(await run(['dependencies', 'packages/app:build']), ['packages/app:app', 'packages/lib:build', 'packages/util:build']);

      await repo.write('packages/extra/package.json', json({ name: '@acme/extra', version: '1.0.0', dependencies: { '@acme/app': '*' } }));
      assert.deepEqual(await run(['dependents', 'packages/app:app']), ['packages/app:build', 'packages/app:dev', 'packages/app:test', 'packages/extra:extra']);

      await repo.write('packages/extra/package.json', '{ "name": "@acme/extra", }\n');
      const broken = await janitor.run(repo.root, ['list', '::']);
      assert.equal(broken.code, 1);
      assert.equal(
        broken.stderr,
        [
          'error: packages/extra/package.json:1:24: invalid JSON: a trailing comma is not allowed in JSON',
          '  { "name": "@acme/extra", }',
          '                         ^',
          '',
        ].join('\n'),
      );
      await repo.remove('packages/extra');
      assert.equal((await run(['list', '::'])).length, 15);

      // [javascript] tasks is an input of the run: the daemon's graph follows trews.toml too.
      assert.deepEqual(await run(['dependencies', 'packages/util:test']), ['packages/lib:build', 'packages/util:build', 'packages/util:util']);
      await repo.write('trews.toml', '[javascript.tasks.test]\ndepends_on = []\n');
      assert.deepEqual(await run(['dependencies', 'packages/util:test']), ['packages/util:util']);
    } finally {
      await janitor.stopAll();
      await repo.cleanup();
    }
  });
});
