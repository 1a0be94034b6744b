// End-to-end: per-file targets of JavaScript/TypeScript workspace packages
// and the dependencies inferred from their imports, through the real CLI on
// real workspaces in temp dirs: every import form, every resolution rule,
// unresolved imports as warnings (an error under the flag), and a warm
// daemon parsing again only the file that was edited.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DaemonJanitor, daemonLog, makeRepo, runTrews, type TempRepo } from './helpers/index.js';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/**
 * lib: ESM with `exports` conditions pointing at dist (built from src by its
 * tsconfig's outDir/rootDir), `imports` (#internal), a third-party dependency.
 * app: depends on lib, reaches src through tsconfig `paths` from an extended
 * base config, and uses every import form.
 */
const WORKSPACE: Record<string, string> = {
  'trews.toml': '',
  'package.json': json({ name: 'acme', private: true, workspaces: ['packages/*'] }),
  'package-lock.json': '{}\n',
  'tsconfig.base.json': '{ // comments and trailing commas, as tsc reads them\n  "compilerOptions": { "strict": true, "paths": { "@app/*": ["./packages/app/src/*"] }, },\n}\n',
  'packages/lib/package.json': json({
    name: '@acme/lib',
    version: '1.0.0',
    type: 'module',
    exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './feature': { import: './dist/feature.js', require: './dist/feature.cjs' } },
    imports: { '#internal/*': './src/internal/*.ts' },
    dependencies: { 'left-pad': '^1.3.0' },
    scripts: { build: 'tsc' },
  }),
  'packages/lib/tsconfig.json': json({ compilerOptions: { outDir: 'dist', rootDir: 'src' } }),
  'packages/lib/src/index.ts': 'import { helper } from "#internal/helper";\nimport pad from "left-pad";\nexport * from "./feature.js";\nexport const lib = helper + pad;\n',
  'packages/lib/src/feature.ts': 'export const feature = 1;\n',
  'packages/lib/src/feature.cts': 'module.exports = { feature: 1 };\n',
  'packages/lib/src/internal/helper.ts': 'export const helper = 2;\n',
  'packages/lib/src/index.test.ts': 'import { lib } from "./index.js";\nimport test from "node:test";\n',
  'packages/lib/dist/index.js': 'export const lib = 1;\n',
  'packages/lib/node_modules/left-pad/index.js': 'module.exports = 1;\n',
  'packages/app/package.json': json({ name: '@acme/app', version: '1.0.0', dependencies: { '@acme/lib': '*' }, scripts: { build: 'tsc' } }),
  'packages/app/tsconfig.json': json({ extends: '../../tsconfig.base.json' }),
  'packages/app/src/main.ts': [
    '/// <reference path="./globals.d.ts" />',
    "import { lib } from '@acme/lib';",
    "import { feature } from '@acme/lib/feature';",
    "import type { Config } from '@app/config';",
    "import { util } from './util.js';",
    "import fs from 'node:fs';",
    "const lazy = await import('./lazy');",
    "export { shared } from './shared';",
    '',
  ].join('\n'),
  'packages/app/src/util.ts': 'export const util = 1;\n',
  'packages/app/src/config.ts': 'export interface Config { a: number }\n',
  'packages/app/src/lazy.ts': 'export const lazy = 1;\n',
  'packages/app/src/shared/index.ts': 'export const shared = 1;\n',
  'packages/app/src/globals.d.ts': 'declare const G: number;\n',
  'packages/app/src/legacy.cjs': "const f = require('@acme/lib/feature');\nconst u = require(`./util.js`);\nmodule.exports = f;\n",
  'packages/app/src/util.spec.ts': "import { util } from './util';\n",
  'packages/app/src/__tests__/a.ts': "import { util } from '../util';\n",
  'packages/app/test/e2e.ts': "import { lazy } from '../src/lazy';\n",
  'packages/app/README.md': '# app\n',
};

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

async function trews(repo: TempRepo, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await runTrews(['--no-daemon', ...args], { cwd: repo.root });
  assert.equal(r.code, 0, `trews ${args.join(' ')} failed:\n${r.stderr}`);
  return r;
}

describe('per-file targets of a JavaScript/TypeScript workspace', () => {
  let repo: TempRepo;
  before(async () => {
    repo = await makeRepo(WORKSPACE);
  });

  it('lists a target per source and test file, outside node_modules and build outputs', async () => {
    const { stdout } = await trews(repo, ['list', 'packages/app::', 'packages/lib::']);
    assert.equal(
      stdout,
      [
        'packages/app/src/__tests__/a.ts:../../app',
        'packages/app/src/config.ts:../app',
        'packages/app/src/globals.d.ts:../app',
        'packages/app/src/lazy.ts:../app',
        'packages/app/src/legacy.cjs:../app',
        'packages/app/src/main.ts:../app',
        'packages/app/src/shared/index.ts:../../app',
        'packages/app/src/util.spec.ts:../app',
        'packages/app/src/util.ts:../app',
        'packages/app/test/e2e.ts:../app',
        'packages/app:app',
        'packages/app:build',
        'packages/lib/src/feature.cts:../lib',
        'packages/lib/src/feature.ts:../lib',
        'packages/lib/src/index.test.ts:../lib',
        'packages/lib/src/index.ts:../lib',
        'packages/lib/src/internal/helper.ts:../../lib',
        'packages/lib:build',
        'packages/lib:lib',
        '',
      ].join('\n'),
    );
    const all = (await trews(repo, ['list', '::'])).stdout;
    assert.ok(all.includes('packages/app/src/main.ts:../app\n') && !all.includes('node_modules') && !all.includes('dist/'), all);
  });

  it('tells test files by the runners\' conventions, and [javascript] test_patterns', async () => {
    const types = async (extra: string[]): Promise<Record<string, string>> => {
      const r = await runTrews(['--no-daemon', ...extra, 'peek', 'packages/app::'], { cwd: repo.root });
      assert.equal(r.code, 0, r.stderr);
      const out: Record<string, string> = {};
      for (const t of JSON.parse(r.stdout) as { address: string; target_type: string }[]) if (t.address.includes('.')) out[t.address] = t.target_type;
      return out;
    };
    const byDefault = await types([]);
    assert.equal(byDefault['packages/app/src/util.spec.ts:../app'], 'javascript_test');
    assert.equal(byDefault['packages/app/src/__tests__/a.ts:../../app'], 'javascript_test');
    assert.equal(byDefault['packages/app/test/e2e.ts:../app'], 'javascript_test');
    assert.equal(byDefault['packages/app/src/util.ts:../app'], 'javascript_source');
    const configured = await types(['--javascript-test-patterns=["test/**"]']);
    assert.equal(configured['packages/app/src/util.spec.ts:../app'], 'javascript_source');
    assert.equal(configured['packages/app/test/e2e.ts:../app'], 'javascript_test');
  });

  it('a file spec names the file\'s own target', async () => {
    assert.equal((await trews(repo, ['list', 'packages/app/src/util.ts'])).stdout, 'packages/app/src/util.ts:../app\n');
  });

  it('infers dependencies from every import form, by Node\'s and TypeScript\'s resolution rules', async () => {
    const { stdout, stderr } = await trews(repo, ['dependencies', 'packages/app/src/main.ts']);
    assert.equal(
      stdout,
      [
        'packages/app/src/config.ts:../app', // tsconfig paths from an extended config, a type-only import
        'packages/app/src/globals.d.ts:../app', // triple-slash reference
        'packages/app/src/lazy.ts:../app', // dynamic import(), extensionless
        'packages/app/src/shared/index.ts:../../app', // export … from a directory's index
        'packages/app/src/util.ts:../app', // a `.js` import of a `.ts` file
        'packages/lib/src/feature.ts:../lib', // exports subpath, `import` condition, dist mapped back to src
        'packages/lib/src/index.ts:../lib', // cross-package: `types` condition's dist/index.d.ts → src/index.ts
        '',
      ].join('\n'),
    );
    assert.equal(stderr, '', 'node:fs is a built-in, no warning');
    // require() (a template literal too), and the `require` condition of the same exports entry.
    assert.equal((await trews(repo, ['dependencies', 'packages/app/src/legacy.cjs'])).stdout, 'packages/app/src/util.ts:../app\npackages/lib/src/feature.cts:../lib\n');
    // package.json `imports` (#internal), a third-party package (its declaring package), export * from.
    assert.equal(
      (await trews(repo, ['dependencies', 'packages/lib/src/index.ts'])).stdout,
      'packages/lib/src/feature.ts:../lib\npackages/lib/src/internal/helper.ts:../../lib\npackages/lib:lib\n',
    );
    assert.equal((await trews(repo, ['dependencies', 'packages/app/test/e2e.ts'])).stdout, 'packages/app/src/lazy.ts:../app\n');
  });

  it('follows imports transitively, across packages', async () => {
    const { stdout } = await trews(repo, ['dependencies', '--transitive', 'packages/app/test/e2e.ts', 'packages/lib/src/index.test.ts']);
    assert.equal(stdout, 'packages/app/src/lazy.ts:../app\npackages/lib/src/feature.ts:../lib\npackages/lib/src/index.ts:../lib\npackages/lib/src/internal/helper.ts:../../lib\npackages/lib:lib\n');
  });

  it('leaves the package-level graph as it was', async () => {
    assert.equal((await trews(repo, ['dependencies', 'packages/app:app'])).stdout, 'packages/lib:lib\n');
  });
});

describe('unresolved imports', () => {
  const files = {
    'trews.toml': '',
    'package.json': json({ name: 'solo', private: true, dependencies: { react: '^18.0.0' } }),
    'package-lock.json': '{}\n',
    'src/a.ts': "import React from 'react';\nimport { b } from './b';\n\nimport x from 'undeclared-pkg';\nconst y = require('./nope.js');\n",
    'src/b.ts': 'export const b = 1;\n',
  };

  it('are warnings with file:line:col by default, and the other dependencies are listed', async () => {
    const repo = await makeRepo(files);
    const r = await runTrews(['--no-daemon', 'dependencies', 'src/a.ts'], { cwd: repo.root });
    assert.equal(r.code, 0, r.stderr);
    const name = basename(repo.root);
    assert.equal(r.stdout, `//:${name}\nsrc/b.ts:../${name}\n`, 'b.ts, and the root package, which declares react');
    assert.equal(
      r.stderr,
      [
        "warning: src/a.ts:4:15: cannot resolve import \"undeclared-pkg\": `undeclared-pkg` is neither a package of the workspace nor a dependency in package.json",
        'warning: src/a.ts:5:19: cannot resolve require "./nope.js": no file `src/nope.js` (nor with a TypeScript or JavaScript extension, nor an index file in it)',
        '',
      ].join('\n'),
    );
  });

  it('are an error, at the first one, under unresolved_imports = "error" (flag or trews.toml)', async () => {
    const repo = await makeRepo(files);
    const flag = await runTrews(['--no-daemon', '--javascript-unresolved-imports=error', 'dependencies', 'src/a.ts'], { cwd: repo.root });
    assert.notEqual(flag.code, 0);
    assert.equal(flag.stdout, '');
    assert.match(flag.stderr, /^error: src\/a\.ts:4:15: cannot resolve import "undeclared-pkg": /);
    assert.match(flag.stderr, /and 1 more unresolved import\(s\) in src\/a\.ts/);
    assert.match(flag.stderr, /unresolved_imports = "warn"/);
    await writeFile(join(repo.root, 'trews.toml'), '[javascript]\nunresolved_imports = "error"\n');
    const toml = await runTrews(['--no-daemon', 'dependencies', 'src/b.ts'], { cwd: repo.root });
    assert.equal(toml.code, 0, `a file whose imports all resolve is fine: ${toml.stderr}`);
    const bad = await runTrews(['--no-daemon', 'dependencies', 'src/a.ts'], { cwd: repo.root });
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stderr, flag.stderr);
  });
});

describe('tsconfig project references, and extends from a package', () => {
  /**
   * web: Vite's layout, a solution tsconfig.json (`files: []`) referencing
   * tsconfig.app.json, which owns src/ and writes the `paths`, and extends
   * @acme/tsconfig (a workspace package) for `customConditions`. api: extends
   * a config in node_modules for its conditions, and references lib, whose
   * output directory (`out/`, rootDir `src/`) it imports through `paths` and
   * relatively, as `tsc -b` builds it.
   */
  const files: Record<string, string> = {
    'trews.toml': '',
    'package.json': json({ name: 'refs', private: true, workspaces: ['packages/*', 'tools/*'] }),
    'package-lock.json': '{}\n',
    'tools/tsconfig/package.json': json({ name: '@acme/tsconfig', version: '1.0.0' }),
    'tools/tsconfig/base.json': json({ compilerOptions: { customConditions: ['source'] } }),
    'node_modules/@tsconfig/dev/tsconfig.json': json({ compilerOptions: { customConditions: ['dev'] } }),
    'packages/ui/package.json': json({ name: '@acme/ui', version: '1.0.0', exports: { '.': { source: './raw/ui.ts', dev: './raw/dev.ts', default: './ui.js' } } }),
    'packages/ui/raw/ui.ts': 'export const ui = 1;\n',
    'packages/ui/raw/dev.ts': 'export const dev = 1;\n',
    'packages/web/package.json': json({ name: '@acme/web', version: '1.0.0', dependencies: { '@acme/ui': '*', '@acme/tsconfig': '*' } }),
    'packages/web/tsconfig.json': json({ files: [], references: [{ path: './tsconfig.app.json' }, { path: './tsconfig.node.json' }] }),
    'packages/web/tsconfig.app.json': json({ extends: '@acme/tsconfig/base.json', compilerOptions: { paths: { '@/*': ['./src/*'] } }, include: ['src'] }),
    'packages/web/tsconfig.node.json': json({ compilerOptions: { paths: { '@/*': ['./elsewhere/*'] } }, include: ['vite.config.ts'] }),
    'packages/web/src/main.ts': "import { util } from '@/util';\nimport { ui } from '@acme/ui';\n",
    'packages/web/src/util.ts': 'export const util = 1;\n',
    'packages/lib/package.json': json({ name: '@acme/lib', version: '1.0.0' }),
    'packages/lib/tsconfig.json': json({ compilerOptions: { composite: true, outDir: 'out', rootDir: 'src' } }),
    'packages/lib/src/thing.ts': 'export const thing = 1;\n',
    'packages/lib/src/other.ts': 'export const other = 1;\n',
    'packages/kit/package.json': json({ name: '@acme/kit', version: '1.0.0', exports: { '.': { types: './built/kit.d.ts', default: './built/kit.js' } } }),
    'packages/kit/tsconfig.json': json({ files: [], references: [{ path: './tsconfig.lib.json' }] }),
    'packages/kit/tsconfig.lib.json': json({ compilerOptions: { outDir: 'built', rootDir: 'lib-src' }, include: ['lib-src'] }),
    'packages/kit/lib-src/kit.ts': 'export const kit = 1;\n',
    'packages/api/package.json': json({ name: '@acme/api', version: '1.0.0', dependencies: { '@acme/ui': '*', '@acme/kit': '*' } }),
    'packages/api/tsconfig.json': json({ extends: '@tsconfig/dev/tsconfig.json', references: [{ path: '../lib' }], compilerOptions: { paths: { '@lib/*': ['../lib/out/*'] } } }),
    'packages/api/src/a.ts': "import { thing } from '@lib/thing.js';\nimport type { other } from '../../lib/out/other.d.ts';\nimport { dev } from '@acme/ui';\nimport { kit } from '@acme/kit';\n",
  };

  it('resolves with the paths of the project that owns the file, the conditions it extends from a package, and a referenced project\'s sources', async () => {
    const repo = await makeRepo(files);
    const web = await runTrews(['--no-daemon', 'dependencies', 'packages/web/src/main.ts'], { cwd: repo.root });
    assert.equal(web.code, 0, web.stderr);
    assert.equal(web.stderr, '');
    assert.equal(web.stdout, 'packages/ui/raw/ui.ts:../ui\npackages/web/src/util.ts:../web\n');
    const api = await runTrews(['--no-daemon', 'dependencies', 'packages/api/src/a.ts'], { cwd: repo.root });
    assert.equal(api.code, 0, api.stderr);
    assert.equal(api.stderr, '');
    assert.equal(api.stdout, 'packages/kit/lib-src/kit.ts:../kit\npackages/lib/src/other.ts:../lib\npackages/lib/src/thing.ts:../lib\npackages/ui/raw/dev.ts:../ui\n');
  });

  it('without the reference, an import of the output directory is unresolved', async () => {
    const repo = await makeRepo({ ...files, 'packages/api/tsconfig.json': json({ compilerOptions: { paths: { '@lib/*': ['../lib/out/*'] } } }) });
    const api = await runTrews(['--no-daemon', 'dependencies', 'packages/api/src/a.ts'], { cwd: repo.root });
    assert.equal(api.code, 0, api.stderr);
    assert.match(api.stderr, /^warning: packages\/api\/src\/a\.ts:1:23: cannot resolve import "@lib\/thing\.js"/m);
    assert.equal(api.stdout, 'packages/kit/lib-src/kit.ts:../kit\npackages/ui:ui\n', 'no `dev` condition either: the package itself');
  });
});

describe('what modules may do that packages may not', () => {
  it('import each other in a cycle: no error, each lists the other (a cycle of packages still is one)', async () => {
    const repo = await makeRepo({
      'trews.toml': '',
      'package.json': json({ name: 'solo', private: true, workspaces: ['packages/*'] }),
      'package-lock.json': '{}\n',
      'packages/a/package.json': json({ name: 'a', version: '1.0.0', dependencies: { b: '*' } }),
      'packages/b/package.json': json({ name: 'b', version: '1.0.0', dependencies: { a: '*' } }),
      'packages/a/x.ts': "import { y } from './y.js';\nexport const x = 1;\n",
      'packages/a/y.ts': "import { x } from './x.js';\nexport const y = 1;\n",
    });
    const r = await runTrews(['--no-daemon', 'dependencies', '--transitive', 'packages/a/x.ts'], { cwd: repo.root });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'packages/a/y.ts:a\n');
    const pkgs = await runTrews(['--no-daemon', 'dependencies', '--transitive', 'packages/a:a'], { cwd: repo.root });
    assert.equal(pkgs.code, 1);
    assert.match(pkgs.stderr, /^error: dependency cycle: packages\/a:a -> packages\/b:b -> packages\/a:a/);
  });

  it('fail to parse: a warning at the parser\'s error, and the imports before it still count', async () => {
    const repo = await makeRepo({
      'trews.toml': '[javascript]\nunresolved_imports = "error"\n',
      'package.json': json({ name: 'solo', private: true }),
      'package-lock.json': '{}\n',
      'src/a.ts': "import { b } from './b';\nconst = ;\n",
      'src/b.ts': 'export const b = 1;\n',
    });
    const r = await runTrews(['--no-daemon', 'dependencies', 'src/a.ts'], { cwd: repo.root });
    assert.equal(r.code, 0, 'a parse error is no unresolved import');
    assert.equal(r.stdout, `src/b.ts:../${basename(repo.root)}\n`);
    assert.match(r.stderr, /^warning: src\/a\.ts:2:\d+: cannot parse \(.+\): imports after this point may be missing\n$/);
  });
});

describe('hostile inputs', () => {
  it('an import out of the build root, a tsconfig extends loop, malformed exports and tsconfig: warnings, no hang, no crash', async () => {
    const repo = await makeRepo({
      'trews.toml': '',
      'package.json': json({ name: 'solo', private: true, workspaces: ['packages/*'] }),
      'package-lock.json': '{}\n',
      'tsconfig.json': json({ extends: './tsconfig.other.json', compilerOptions: { paths: { '@x/*': ['./src/*'] } } }),
      'tsconfig.other.json': json({ extends: './tsconfig.json' }),
      'packages/odd/package.json': json({ name: 'odd', version: '1.0.0', exports: 42 }),
      'packages/odd/tsconfig.json': '{ not json',
      'packages/odd/index.ts': 'export const odd = 1;\n',
      'src/a.ts': "import h from '../../../../../etc/hostname';\nimport { y } from '@x/y';\nimport odd from 'odd';\nimport sub from 'odd/sub';\n",
      'src/y.ts': 'export const y = 1;\n',
    });
    const r = await runTrews(['--no-daemon', 'dependencies', 'src/a.ts'], { cwd: repo.root });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `src/y.ts:../${basename(repo.root)}\n`, 'paths from a tsconfig whose extends loops still apply');
    assert.equal(
      r.stderr,
      [
        'warning: src/a.ts:1:15: cannot resolve import "../../../../../etc/hostname": it leads out of the build root',
        // `exports: 42` exports nothing, as Node would have it.
        'warning: src/a.ts:3:17: cannot resolve import "odd": `exports` of packages/odd/package.json does not export `.`',
        'warning: src/a.ts:4:17: cannot resolve import "odd/sub": `exports` of packages/odd/package.json does not export `./sub`',
        '',
      ].join('\n'),
    );
  });
});

describe('hostile project references', () => {
  it('references that loop, extends of a package that does not exist or leads out of the root, an include of nothing: no hang, the nearest tsconfig', async () => {
    const repo = await makeRepo({
      'trews.toml': '',
      'package.json': json({ name: 'solo', private: true }),
      'package-lock.json': '{}\n',
      // The nearest includes nothing, and its references loop back to it through one another.
      'tsconfig.json': json({ files: [], references: [{ path: './tsconfig.a.json' }], compilerOptions: { paths: { '@x/*': ['./src/*'] } } }),
      'tsconfig.a.json': json({ include: ['nothing-here'], references: [{ path: './tsconfig.b.json' }, { path: '.' }] }),
      'tsconfig.b.json': json({ extends: ['@nobody/tsconfig', '../../../etc/tsconfig.json'], include: ['elsewhere'], references: [{ path: './tsconfig.a.json' }, { path: '../../..' }] }),
      'src/a.ts': "import { y } from '@x/y';\n",
      'src/y.ts': 'export const y = 1;\n',
    });
    const r = await runTrews(['--no-daemon', 'dependencies', 'src/a.ts'], { cwd: repo.root });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, `src/y.ts:../${basename(repo.root)}\n`, 'no referenced project owns it: the nearest tsconfig.json\'s paths');
  });
});

describe('a warm daemon and per-file inference', () => {
  it('parses again only the file that was edited, and sees a new file an import now resolves to', async () => {
    const repo = await makeRepo({
      'trews.toml': '[GLOBAL]\nlevel = "debug"\n',
      'package.json': json({ name: 'solo', private: true }),
      'package-lock.json': '{}\n',
      'src/a.ts': "import { b } from './b.js';\nimport { c } from './c';\n",
      'src/b.ts': "import { c } from './c';\nexport const b = 1;\n",
      'src/c.ts': 'export const c = 1;\n',
    });
    const parses = (): string[] => [...daemonLog(repo.root).matchAll(/ DEBUG reading imports of (\S+)/g)].map((m) => m[1]!);
    const deps = async (): Promise<string> => {
      const r = await janitor.run(repo.root, ['dependencies', '--transitive', 'src/a.ts']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split(basename(repo.root)).join('ROOT');
    };
    assert.equal(await deps(), 'src/b.ts:../ROOT\nsrc/c.ts:../ROOT\n');
    const first = parses();
    assert.deepEqual([...first].sort(), ['src/a.ts', 'src/b.ts', 'src/c.ts']);

    await writeFile(join(repo.root, 'src/b.ts'), "import { c } from './c';\nimport { d } from './d.js';\nexport const b = 2;\n");
    await writeFile(join(repo.root, 'src/d.ts'), 'export const d = 1;\n');
    const second = await deps();
    assert.ok(second.includes('src/d.ts:'), second);
    const again = parses().slice(first.length);
    assert.deepEqual([...again].sort(), ['src/b.ts', 'src/d.ts'], 'b.ts (edited) and d.ts (new) were parsed; a.ts and c.ts were not');

    const third = await deps();
    assert.equal(third, second);
    assert.deepEqual(parses().slice(first.length + again.length), [], 'nothing parsed when nothing changed');
  });

  it('answers a repeated --transitive query from its memo, warnings included, and drops what an edit no longer imports', async () => {
    const repo = await makeRepo({
      'trews.toml': '[GLOBAL]\nlevel = "debug"\n',
      'package.json': json({ name: 'solo', private: true }),
      'package-lock.json': '{}\n',
      'src/a.ts': "import { b } from './b.js';\n",
      'src/b.ts': "import { c } from './c';\nimport gone from './gone';\nexport const b = 1;\n",
      'src/c.ts': 'export const c = 1;\n',
    });
    const deps = async (): Promise<{ stdout: string; stderr: string }> => {
      const r = await janitor.run(repo.root, ['dependencies', '--transitive', 'src/a.ts']);
      assert.equal(r.code, 0, r.stderr);
      return { stdout: r.stdout.split(basename(repo.root)).join('ROOT'), stderr: r.stderr };
    };
    const warning = 'warning: src/b.ts:2:18: cannot resolve import "./gone": ';
    const first = await deps();
    assert.equal(first.stdout, 'src/b.ts:../ROOT\nsrc/c.ts:../ROOT\n');
    assert.ok(first.stderr.startsWith(warning), first.stderr);
    assert.deepEqual(await deps(), first, 'the memoized answer prints the same warnings');
    await writeFile(join(repo.root, 'src/b.ts'), 'export const b = 2;\n');
    assert.deepEqual(await deps(), { stdout: 'src/b.ts:../ROOT\n', stderr: '' });
  });

  it('resolves again, without parsing, when tsconfig paths or package.json imports change', async () => {
    const repo = await makeRepo({
      'trews.toml': '[GLOBAL]\nlevel = "debug"\n',
      'package.json': json({ name: 'solo', private: true, imports: { '#cfg': './one/cfg.ts' } }),
      'package-lock.json': '{}\n',
      'tsconfig.json': json({ compilerOptions: { paths: { '@lib/*': ['./one/*'] } } }),
      'src/a.ts': "import { x } from '@lib/x';\nimport cfg from '#cfg';\n",
      'one/x.ts': 'export const x = 1;\n',
      'one/cfg.ts': 'export default 1;\n',
      'two/x.ts': 'export const x = 2;\n',
      'two/cfg.ts': 'export default 2;\n',
    });
    const parses = (): number => [...daemonLog(repo.root).matchAll(/ DEBUG reading imports of (\S+)/g)].length;
    const deps = async (): Promise<string> => {
      const r = await janitor.run(repo.root, ['dependencies', 'src/a.ts']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      return r.stdout.split(basename(repo.root)).join('ROOT');
    };
    assert.equal(await deps(), 'one/cfg.ts:../ROOT\none/x.ts:../ROOT\n');
    const before = parses();
    assert.equal(before, 1, 'only src/a.ts was parsed');
    await writeFile(join(repo.root, 'tsconfig.json'), json({ compilerOptions: { paths: { '@lib/*': ['./two/*'] } } }));
    assert.equal(await deps(), 'one/cfg.ts:../ROOT\ntwo/x.ts:../ROOT\n');
    await writeFile(join(repo.root, 'package.json'), json({ name: 'solo', private: true, imports: { '#cfg': './two/cfg.ts' } }));
    assert.equal(await deps(), 'two/cfg.ts:../ROOT\ntwo/x.ts:../ROOT\n');
    assert.equal(parses(), before, 'src/a.ts was not parsed again');
  });
});
