// Generates an npm-workspaces TypeScript repo that trews, Turborepo and Nx
// all build with no BUILD file:
//   node dist/bench/ts-peers/generate-ts-repo.js [--out bench/out/ts-peers-50] [--packages 50] [--no-install]
// Package i (packages/p<i>, `@tsb/p<i>`) depends on i-1 and i-7 (the graph of
// bench/generate-shell-repo.ts), imports them, and has src/index.ts and
// src/index.test.ts; `build` = `tsc -p tsconfig.json` (dist/ with
// declarations, which its dependents type-check against), `test` =
// `node --test dist/`. typescript, @types/node, turbo and nx are devDependencies of
// the root, installed by `npm install` (package-lock.json written); turbo.json,
// nx.json and trews.toml say the same pipeline: build after ^build, outputs
// dist/**, test after build. Every tool's cache lives under <repo>/.bench/.
// The repo is a git repository with everything committed, as a user's is
// (Turborepo and Nx hash what git knows).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from '../bench-args.js';
import { depsOf } from '../generate-shell-repo.js';
import { installAndCommit, startRepo, NX_VERSION, TURBO_VERSION } from '../peers/generate-peers-repo.js';

export { depsOf, NX_VERSION, TURBO_VERSION };

/** Pinned: the versions examples/ts-workspace uses. */
export const TYPESCRIPT_VERSION = '5.9.3';
export const TYPES_NODE_VERSION = '20.19.43';

export const CACHE_DIR = '.bench';
export const packageDir = (i: number): string => `packages/p${i}`;
export const packageName = (i: number): string => `@tsb/p${i}`;

export interface TsRepo {
  readonly root: string;
  readonly packages: number;
}

const GITIGNORE = ['node_modules/', 'dist/', '.turbo/', '.nx/', '.trews.d/', `/${CACHE_DIR}/`, ''].join('\n');

function packageJson(i: number): string {
  const pkg = {
    name: packageName(i),
    version: '1.0.0',
    private: true,
    type: 'module',
    main: 'dist/index.js',
    types: 'dist/index.d.ts',
    scripts: { build: 'tsc -p tsconfig.json', test: 'node --test dist/' },
    dependencies: Object.fromEntries(depsOf(i).map((d) => [packageName(d), '^1.0.0'])),
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

const TSCONFIG = JSON.stringify({ extends: '../../tsconfig.base.json', compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src'] }, null, 2) + '\n';

const TSCONFIG_BASE =
  JSON.stringify(
    {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, declaration: true, sourceMap: true, skipLibCheck: true, types: ['node'] },
    },
    null,
    2,
  ) + '\n';

/** A small module with some types to check: a value built from its dependencies' values. */
function indexTs(i: number): string {
  const deps = depsOf(i);
  return [
    ...deps.map((d) => `import { describe as describe${d}, weight as weight${d} } from '${packageName(d)}';`),
    '',
    `export interface Part${i} {`,
    '  readonly name: string;',
    '  readonly weight: number;',
    '  readonly parts: readonly string[];',
    '}',
    '',
    `export const NAME = 'p${i}';`,
    '',
    `export function weight(): number {`,
    `  return ${i + 1}${deps.map((d) => ` + weight${d}()`).join('')};`,
    '}',
    '',
    `export function part(): Part${i} {`,
    `  return { name: NAME, weight: weight(), parts: [${deps.map((d) => `describe${d}()`).join(', ')}] };`,
    '}',
    '',
    'export function describe(): string {',
    '  const p = part();',
    '  return `${p.name}(${p.weight})`;',
    '}',
    '',
    'export function mapParts<T>(f: (name: string, index: number) => T): T[] {',
    '  return part().parts.map((name, index) => f(name, index));',
    '}',
    '',
  ].join('\n');
}

/** weight(i) = (i + 1) + weight(i - 1) + weight(i - 7): known here so the test checks the real value. */
export function weightOf(i: number, memo = new Map<number, bigint>()): bigint {
  const hit = memo.get(i);
  if (hit !== undefined) return hit;
  let w = BigInt(i + 1);
  for (const d of depsOf(i)) w += weightOf(d, memo);
  memo.set(i, w);
  return w;
}

function indexTestTs(i: number): string {
  // The weights outgrow a double past a few hundred packages; compare as far as they are exact.
  const w = weightOf(i);
  const exact = w <= BigInt(Number.MAX_SAFE_INTEGER);
  return [
    "import { test } from 'node:test';",
    "import assert from 'node:assert/strict';",
    "import { describe, mapParts, NAME, weight } from './index.js';",
    '',
    `test('p${i}', () => {`,
    `  assert.equal(NAME, 'p${i}');`,
    exact ? `  assert.equal(weight(), ${w.toString()});` : '  assert.ok(weight() > 0);',
    `  assert.ok(describe().startsWith('p${i}('));`,
    `  assert.equal(mapParts((n) => n).length, ${depsOf(i).length});`,
    '});',
    '',
  ].join('\n');
}

/** Writes the repo (replacing what is at `root`), runs `npm install` unless told not to, and commits it all. */
export function generateTsRepo(root: string, packages: number, opts: { install?: boolean } = {}): TsRepo {
  const repo = startRepo(root, CACHE_DIR);
  root = repo.root;
  const { w, npmVersion } = repo;
  w('.gitignore', GITIGNORE);
  w(
    'package.json',
    JSON.stringify(
      {
        name: 'ts-peers-bench-repo',
        private: true,
        // Turborepo needs to know the package manager it runs scripts with.
        packageManager: `npm@${npmVersion}`,
        workspaces: ['packages/*'],
        devDependencies: { '@types/node': TYPES_NODE_VERSION, nx: NX_VERSION, turbo: TURBO_VERSION, typescript: TYPESCRIPT_VERSION },
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
          test: { dependsOn: ['build'] },
        },
      },
      null,
      2,
    ) + '\n',
  );
  w(
    'nx.json',
    JSON.stringify(
      {
        $schema: './node_modules/nx/schemas/nx-schema.json',
        // Local runs only: no Nx Cloud, no usage analytics, the cache in the repo (as every tool's here).
        neverConnectToCloud: true,
        analytics: false,
        cacheDirectory: `${CACHE_DIR}/nx-cache`,
        namedInputs: { default: ['{projectRoot}/src/**/*', '{projectRoot}/tsconfig.json', '{workspaceRoot}/tsconfig.base.json'] },
        targetDefaults: {
          build: { dependsOn: ['^build'], inputs: ['default', '^default'], outputs: ['{projectRoot}/dist'], cache: true },
          test: { dependsOn: ['build'], cache: true },
        },
      },
      null,
      2,
    ) + '\n',
  );
  w(
    'trews.toml',
    [
      '# generated by bench/ts-peers/generate-ts-repo.ts (as examples/ts-workspace/trews.toml)',
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
    w(`${dir}/src/index.ts`, indexTs(i));
    w(`${dir}/src/index.test.ts`, indexTestTs(i));
  }
  installAndCommit(root, opts.install !== false, 'bench/ts-peers/generate-ts-repo.ts');
  writeFileSync(join(root, CACHE_DIR, 'repo.json'), JSON.stringify(marker(packages)) + '\n');
  return { root, packages };
}

const marker = (packages: number): object => ({ packages, turbo: TURBO_VERSION, nx: NX_VERSION, typescript: TYPESCRIPT_VERSION });

/** The repo at `root` as the generator left it, if it was generated with these settings. */
export function existingTsRepo(root: string, packages: number): TsRepo | undefined {
  root = resolve(root);
  const path = join(root, CACHE_DIR, 'repo.json');
  if (!existsSync(path)) return undefined;
  return readFileSync(path, 'utf8').trim() === JSON.stringify(marker(packages)) ? { root, packages } : undefined;
}

/** The packages whose build depends on package `i`'s, transitively, and `i` itself. */
export function downstreamOf(i: number, packages: number): number[] {
  const hit = new Set([i]);
  for (let j = i + 1; j < packages; j++) if (depsOf(j).some((d) => hit.has(d))) hit.add(j);
  return [...hit].sort((a, b) => a - b);
}

export const defaultRepoDir = (packages: number): string => join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'out', `ts-peers-${packages}`);

if (process.argv[1]?.endsWith('generate-ts-repo.js')) {
  const { values } = benchArgs(import.meta.url, { options: { out: { type: 'string' }, packages: { type: 'string', default: '50' }, 'no-install': { type: 'boolean', default: false } } });
  const packages = Number(values.packages);
  if (!Number.isInteger(packages) || packages < 1) {
    console.error('usage: node dist/bench/ts-peers/generate-ts-repo.js [--out DIR] [--packages 50] [--no-install]');
    process.exit(2);
  }
  const r = generateTsRepo(values.out ?? defaultRepoDir(packages), packages, { install: !values['no-install'] });
  console.log(`wrote ${r.packages} packages to ${r.root}`);
}
