// End-to-end: the early cutoff of declaration inputs holds at every depth
// of a chain, not only for direct dependents (src/backends/javascript/
// README.md "Declaration inputs"). On a copy of examples/ts-workspace grown
// into a 4-package chain strings ← greeter ← polite ← formal (formal does
// not depend on strings or greeter; it sees them through polite's
// declarations), plus apps/cli. Real CLI, npm install from the machine's npm
// cache, real tsc and node:test; what ran is read from each run's own result
// lines.
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copyExampleWorkspace, type CliResult, type ExampleWorkspace } from './helpers/index.js';
import { resultLines, summaryLine } from './helpers/shell.js';

/** Result lines without what follows the provenance (`: 2 files written, 3 unchanged`). */
function results(r: CliResult): string[] {
  return resultLines(r.stderr).map((l) => l.replace(/\): .*$/, ')'));
}

const TSCONFIG = JSON.stringify({ extends: '../../tsconfig.base.json', compilerOptions: { rootDir: 'src', outDir: 'dist' }, include: ['src'] }, null, 2) + '\n';

function manifest(name: string, dependency: string): string {
  const pkg = {
    name,
    version: '1.0.0',
    type: 'module',
    main: 'dist/index.js',
    types: 'dist/index.d.ts',
    scripts: { build: 'tsc -p tsconfig.json', test: 'node --test dist/' },
    dependencies: { [dependency]: '^1.0.0' },
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

const POLITE = [
  "import { greet } from '@demo/greeter';",
  "export type { Name } from '@demo/greeter';",
  '',
  'export function politely(names: readonly string[]): string {',
  "  return `${greet(names, 'Good day')} Pleased to meet you.`;",
  '}',
  '',
].join('\n');

const FORMAL = [
  "import { politely, type Name } from '@demo/polite';",
  '',
  "export const GUEST: Name = 'ada';",
  '',
  'export function formally(): string {',
  '  return politely([String(GUEST)]).toUpperCase();',
  '}',
  '',
].join('\n');

const test = (what: string, imports: string, body: string): string =>
  ["import assert from 'node:assert/strict';", "import { test } from 'node:test';", imports, '', `test('${what}', () => {`, `  ${body}`, '});', ''].join('\n');

describe('declaration inputs cut off at every depth of a chain', () => {
  let ws: ExampleWorkspace;
  let root: string;
  const trews = (args: string[]): Promise<CliResult> => ws.trews(args);
  const edit = (path: string, f: (text: string) => string): Promise<void> => ws.edit(path, f);
  const write = async (path: string, text: string): Promise<void> => {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  };

  before(async () => {
    ws = await copyExampleWorkspace('trews-js-decl-cutoff-');
    root = ws.root;
    // strings: a type its dependents pass on, and a module only its own test imports.
    await edit('packages/strings/src/index.ts', (t) => `/** Who is greeted. */\nexport type Name = string;\n\n${t}`);
    await write('packages/strings/src/shout.ts', "export function shout(s: string): string {\n  return s.toUpperCase() + '!';\n}\n");
    await write('packages/strings/src/shout.test.ts', test('shouts', "import { shout } from './shout.js';", "assert.equal(shout('hi'), 'HI!');"));
    await edit('packages/greeter/src/index.ts', (t) => `${t}\nexport type { Name } from '@demo/strings';\n`);
    await write('packages/polite/package.json', manifest('@demo/polite', '@demo/greeter'));
    await write('packages/polite/tsconfig.json', TSCONFIG);
    await write('packages/polite/src/index.ts', POLITE);
    await write('packages/polite/src/index.test.ts', test('polite', "import { politely } from './index.js';", "assert.equal(politely(['ada']), 'Good day, Ada! Pleased to meet you.');"));
    await write('packages/formal/package.json', manifest('@demo/formal', '@demo/polite'));
    await write('packages/formal/tsconfig.json', TSCONFIG);
    await write('packages/formal/src/index.ts', FORMAL);
    await write('packages/formal/src/index.test.ts', test('formal', "import { formally } from './index.js';", "assert.match(formally(), /^GOOD DAY, /);"));
    // The lockfile links the two new workspace packages, as `npm install` would write it.
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    for (const [dir, name, dep] of [['packages/polite', '@demo/polite', '@demo/greeter'], ['packages/formal', '@demo/formal', '@demo/polite']] as const) {
      lock.packages[dir] = { name, version: '1.0.0', dependencies: { [dep]: '^1.0.0' } };
      lock.packages[`node_modules/${name}`] = { resolved: dir, link: true };
    }
    await writeFile(join(root, 'package-lock.json'), JSON.stringify(lock, null, 2) + '\n');
    const warm = await trews(['test', '::']);
    assert.equal(warm.code, 0, warm.stderr);
  });
  after(() => ws.remove());

  it('a body edit at the bottom reruns that build and the one test that imports the file; every build downstream comes from the cache', async () => {
    await edit('packages/strings/src/shout.ts', (t) => t.replace("return s.toUpperCase() + '!';", "const loud = s.toUpperCase();\n  return `${loud}!`;"));
    let r = await trews(['build', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli:build (local cache)',
      '✓ packages/formal:build (local cache)',
      '✓ packages/greeter:build (local cache)',
      '✓ packages/polite:build (local cache)',
      '✓ packages/strings:build (ran locally)',
    ]);
    r = await trews(['test', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      results(r).filter((l) => !l.endsWith('(local cache)')),
      ['✓ packages/strings/src/shout.test.ts:../strings succeeded (ran locally)'],
    );
    // The one test (the build of strings, above, is memoized): nothing else ran.
    assert.match(summaryLine(r.stderr) ?? '', /^1 ran locally, \d+ from the local cache$/);
  });

  it('a changed type at the bottom reruns every build that can see it, and a package two links away fails on it', async () => {
    await edit('packages/strings/src/index.ts', (t) => t.replace('export type Name = string;', 'export type Name = number;'));
    let r = await trews(['build', '::']);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(
      results(r).map((l) => l.replace(/ failed with .*/, ' failed')),
      [
        '✓ apps/cli:build (ran locally)',
        '✕ packages/formal:build failed',
        '✕ packages/formal:formal failed',
        '✓ packages/greeter:build (ran locally)',
        '✓ packages/polite:build (ran locally)',
        '✓ packages/strings:build (ran locally)',
      ],
    );
    // formal depends on polite alone: the type reached it through polite's and greeter's declarations.
    assert.match(r.stderr, /script `build` of packages\/formal:build failed: exit code 2\n {2}stdout:\n {4}src\/index\.ts\(3,14\): error TS2322: Type 'string' is not assignable to type 'number'\./);
    await edit('packages/formal/src/index.ts', (t) => t.replace("GUEST: Name = 'ada'", 'GUEST: Name = 1815'));
    r = await trews(['build', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli:build (local cache)',
      '✓ packages/formal:build (ran locally)',
      '✓ packages/greeter:build (local cache)',
      '✓ packages/polite:build (local cache)',
      '✓ packages/strings:build (local cache)',
    ]);
    assert.match(await readFile(join(root, 'packages/formal/dist/index.d.ts'), 'utf8'), /export declare const GUEST: Name;/);
  });
});
