// Generates the npm-workspaces TypeScript repo of the affected-tests bench:
//   node dist/bench/js-affected/generate-affected-repo.js [--out bench/out/js-affected-200] [--packages 200] [--no-install]
// Package i (packages/p<i>, `@tsb/p<i>`) depends on i-1 and i-7 (the graph
// of bench/generate-shell-repo.ts), with five sources and two tests:
//   src/a.ts      imports `a` of each dependency (`@tsb/p<d>/a`, through `exports`)
//   src/b.ts      imports ./a.js;   src/c.ts imports ./b.js;   src/d.ts imports nothing
//   src/index.ts  re-exports a, b, c, d
//   src/a.test.ts imports ./a.js;   src/index.test.ts imports ./index.js
// `build` = `tsc -p tsconfig.json`, `test` = `node --test dist/` (as
// examples/ts-workspace), the same pipeline for trews (trews.toml) and
// Turborepo (turbo.json). An edit of c.ts's function body reaches, by
// imports, only its own package's index.test.ts; by package dependencies it
// reaches every package downstream. The repo is a git repository with
// everything committed (Turborepo's --affected compares with it).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from '../bench-args.js';
import { installAndCommit, startRepo, TURBO_VERSION } from '../peers/generate-peers-repo.js';
import { CACHE_DIR, depsOf, packageDir, packageName, TYPES_NODE_VERSION, TYPESCRIPT_VERSION } from '../ts-peers/generate-ts-repo.js';

export { CACHE_DIR, depsOf, packageDir, packageName };

export interface AffectedRepo {
  readonly root: string;
  readonly packages: number;
}

const GITIGNORE = ['node_modules/', 'dist/', '.turbo/', '.trews.d/', '.trews-test/', `/${CACHE_DIR}/`, ''].join('\n');

function packageJson(i: number): string {
  const pkg = {
    name: packageName(i),
    version: '1.0.0',
    private: true,
    type: 'module',
    exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './*': { types: './dist/*.d.ts', default: './dist/*.js' } },
    scripts: { build: 'tsc -p tsconfig.json', test: 'node --test dist/' },
    dependencies: Object.fromEntries(depsOf(i).map((d) => [packageName(d), '^1.0.0'])),
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

const TSCONFIG = JSON.stringify({ extends: '../../tsconfig.base.json', compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src'] }, null, 2) + '\n';
const TSCONFIG_BASE =
  JSON.stringify(
    { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, declaration: true, sourceMap: true, skipLibCheck: true, types: ['node'] } },
    null,
    2,
  ) + '\n';

/** The body line of c() the bench edits: `return b() + 1;`, and `+ <n> - <n>` appended per edit (the declarations stay the same). */
export const C_BODY = '  return b() + 1;';

function sources(i: number): Record<string, string> {
  const deps = depsOf(i);
  return {
    'src/a.ts': [
      ...deps.map((d) => `import { a as a${d} } from '${packageName(d)}/a';`),
      '',
      // Computed once, when the module loads: a() calling its dependencies' a() on every call
      // made a test's run time grow exponentially with the package's depth (i-1 and i-7: minutes
      // at p108, never at p200).
      `const A = ${i + 1}${deps.map((d) => ` + a${d}() % 1000`).join('')};`,
      '',
      `export function a(): number {`,
      '  return A;',
      '}',
      '',
    ].join('\n'),
    'src/b.ts': ["import { a } from './a.js';", '', 'export function b(): number {', '  return a() * 2;', '}', ''].join('\n'),
    'src/c.ts': ["import { b } from './b.js';", '', 'export function c(): number {', C_BODY, '}', ''].join('\n'),
    'src/d.ts': [`export const NAME = 'p${i}';`, '', 'export function d(): string {', '  return NAME.toUpperCase();', '}', ''].join('\n'),
    'src/index.ts': ["export { a } from './a.js';", "export { b } from './b.js';", "export { c } from './c.js';", "export { d, NAME } from './d.js';", ''].join('\n'),
    'src/a.test.ts': ["import { test } from 'node:test';", "import assert from 'node:assert/strict';", "import { a } from './a.js';", '', `test('a of p${i}', () => {`, '  assert.ok(a() > 0);', '});', ''].join('\n'),
    'src/index.test.ts': [
      "import { test } from 'node:test';",
      "import assert from 'node:assert/strict';",
      "import { a, b, c, d } from './index.js';",
      '',
      `test('p${i}', () => {`,
      '  assert.equal(b(), a() * 2);',
      '  assert.equal(c(), b() + 1);',
      `  assert.equal(d(), 'P${i}');`,
      '});',
      '',
    ].join('\n'),
  };
}

const marker = (packages: number): object => ({ packages, turbo: TURBO_VERSION, typescript: TYPESCRIPT_VERSION, layout: 'affected-1' });

/** Writes the repo (replacing what is at `root`), runs `npm install` unless told not to, and commits it all. */
export function generateAffectedRepo(root: string, packages: number, opts: { install?: boolean } = {}): AffectedRepo {
  const repo = startRepo(root, CACHE_DIR);
  root = repo.root;
  const { w, npmVersion } = repo;
  w('.gitignore', GITIGNORE);
  w(
    'package.json',
    JSON.stringify(
      {
        name: 'js-affected-bench-repo',
        private: true,
        packageManager: `npm@${npmVersion}`,
        workspaces: ['packages/*'],
        devDependencies: { '@types/node': TYPES_NODE_VERSION, turbo: TURBO_VERSION, typescript: TYPESCRIPT_VERSION },
      },
      null,
      2,
    ) + '\n',
  );
  w('tsconfig.base.json', TSCONFIG_BASE);
  w(
    'turbo.json',
    JSON.stringify(
      {
        $schema: 'https://turborepo.com/schema.json',
        globalDependencies: ['tsconfig.base.json'],
        tasks: {
          build: { dependsOn: ['^build'], inputs: ['src/**', 'tsconfig.json'], outputs: ['dist/**'] },
          test: { dependsOn: ['build'], inputs: ['src/**', 'tsconfig.json'] },
        },
      },
      null,
      2,
    ) + '\n',
  );
  w(
    'trews.toml',
    [
      '# generated by bench/js-affected/generate-affected-repo.ts',
      '[GLOBAL]',
      `local_store_dir = ${JSON.stringify(join(root, CACHE_DIR, 'trews-store'))}`,
      '',
      '[javascript.tasks.build]',
      'outputs = ["dist/**"]',
      'inputs = ["src/**", "tsconfig.json"]',
      'extra_inputs = ["//tsconfig.base.json"]',
      '',
    ].join('\n'),
  );
  for (let i = 0; i < packages; i++) {
    const dir = packageDir(i);
    w(`${dir}/package.json`, packageJson(i));
    w(`${dir}/tsconfig.json`, TSCONFIG);
    for (const [rel, text] of Object.entries(sources(i))) w(`${dir}/${rel}`, text);
  }
  installAndCommit(root, opts.install !== false, 'bench/js-affected/generate-affected-repo.ts');
  writeFileSync(join(root, CACHE_DIR, 'repo.json'), JSON.stringify(marker(packages)) + '\n');
  return { root, packages };
}

export function existingAffectedRepo(root: string, packages: number): AffectedRepo | undefined {
  root = resolve(root);
  const path = join(root, CACHE_DIR, 'repo.json');
  if (!existsSync(path)) return undefined;
  return readFileSync(path, 'utf8').trim() === JSON.stringify(marker(packages)) ? { root, packages } : undefined;
}

export const defaultAffectedRepoDir = (packages: number): string => join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'out', `js-affected-${packages}`);

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = benchArgs(import.meta.url, { options: { out: { type: 'string' }, packages: { type: 'string', default: '200' }, 'no-install': { type: 'boolean', default: false } } });
  const packages = Number(values.packages);
  const repo = generateAffectedRepo(values.out ?? defaultAffectedRepoDir(packages), packages, { install: !values['no-install'] });
  console.log(`generated ${repo.packages} packages in ${repo.root}`);
}
