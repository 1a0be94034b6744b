// End-to-end: a `tsc` build sees only its dependencies' declarations
// (`[javascript] declaration_inputs`, src/backends/javascript/README.md
// "Declaration inputs"), so an edit that leaves a dependency's .d.ts as it
// was leaves the downstream builds cached (early cutoff through the action
// cache), while the per-file tests still run the JavaScript they import.
// On a copy of examples/ts-workspace; real CLI, npm install from the
// machine's npm cache, real tsc and node:test.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copyExampleWorkspace, type CliResult, type ExampleWorkspace } from './helpers/index.js';
import { resultLines } from './helpers/shell.js';


/** Result lines without what follows the provenance (`: 2 files written, 3 unchanged`). */
function results(r: CliResult): string[] {
  return resultLines(r.stderr).map((l) => l.replace(/\): .*$/, ')'));
}

describe('tsc builds from their dependencies\' declarations', () => {
  let ws: ExampleWorkspace;
  let root: string;
  const trews = (args: string[]): Promise<CliResult> => ws.trews(args);
  const edit = (path: string, f: (text: string) => string): Promise<void> => ws.edit(path, f);

  before(async () => {
    ws = await copyExampleWorkspace('trews-js-declarations-');
    root = ws.root;
    // A module of strings that no other package imports, and its own test.
    await writeFile(join(root, 'packages/strings/src/shout.ts'), "export function shout(s: string): string {\n  return s.toUpperCase() + '!';\n}\n");
    await writeFile(
      join(root, 'packages/strings/src/shout.test.ts'),
      "import assert from 'node:assert/strict';\nimport { test } from 'node:test';\nimport { shout } from './shout.js';\n\ntest('shouts', () => {\n  assert.equal(shout('hi'), 'HI!');\n});\n",
    );
    const warm = await trews(['test', '::']);
    assert.equal(warm.code, 0, warm.stderr);
  });
  after(() => ws.remove());

  it('an edit of a function body reruns its package\'s build and the tests that reach it; the dependents\' builds come from the cache', async () => {
    await edit('packages/strings/src/shout.ts', (t) => t.replace("return s.toUpperCase() + '!';", "const loud = s.toUpperCase();\n  return `${loud}!`;"));
    let r = await trews(['build', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli:build (local cache)',
      '✓ packages/greeter:build (local cache)',
      '✓ packages/strings:build (ran locally)',
    ]);
    r = await trews(['test', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli/src/message.test.ts:../cli succeeded (local cache)',
      '✓ packages/greeter/src/index.test.ts:../greeter succeeded (local cache)',
      '✓ packages/strings/src/index.test.ts:../strings succeeded (local cache)',
      '✓ packages/strings/src/shout.test.ts:../strings succeeded (ran locally)',
    ]);
  });

  it('a test of a dependent runs the edited JavaScript though the dependent\'s build came from the cache', async () => {
    await edit('packages/strings/src/index.ts', (t) => t.replace("join(', ')} and ${", "join(', ')} & ${"));
    let r = await trews(['build', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli:build (local cache)',
      '✓ packages/greeter:build (local cache)',
      '✓ packages/strings:build (ran locally)',
    ]);
    r = await trews(['test', 'packages/greeter::']);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(results(r), ['✕ packages/greeter/src/index.test.ts:../greeter failed (ran locally)']);
    assert.ok(r.stderr.includes("'Hello, Ada Lovelace & Grace Hopper!'"), r.stderr);
    await edit('packages/strings/src/index.ts', (t) => t.replace("join(', ')} & ${", "join(', ')} and ${"));
  });

  it('with declaration_inputs = false, the same kind of edit reruns the dependents\' builds (they see the full outputs)', async () => {
    await edit('packages/strings/src/shout.ts', (t) => t.replace('const loud = s.toUpperCase();', 'const loud = s.toLocaleUpperCase();'));
    const r = await trews(['build', '::', '--javascript-declaration-inputs=false']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli:build (ran locally)',
      '✓ packages/greeter:build (ran locally)',
      '✓ packages/strings:build (ran locally)',
    ]);
  });

  it('an edit of an exported signature reruns the builds of the packages that import it', async () => {
    await edit('packages/strings/src/index.ts', (t) =>
      t.replace('export function joinNames(names: readonly string[]): string {', "export function joinNames(names: readonly string[], last = 'and'): string {").replace("join(', ')} and ${", "join(', ')} ${last} ${"),
    );
    const r = await trews(['build', '::']);
    assert.equal(r.code, 0, r.stderr);
    // The app imports @demo/strings itself (src/message.ts).
    assert.deepEqual(results(r), [
      '✓ apps/cli:build (ran locally)',
      '✓ packages/greeter:build (ran locally)',
      '✓ packages/strings:build (ran locally)',
    ]);
  });

  it('a dependency whose build emits no declarations is seen whole: its JavaScript resolves', async () => {
    // strings ships JavaScript only; its dependents take its exports as `any` (no noImplicitAny).
    await edit('packages/strings/tsconfig.json', (t) => t.replace('"outDir": "dist"', '"outDir": "dist",\n    "declaration": false'));
    await edit('packages/strings/package.json', (t) => t.replace('  "types": "dist/index.d.ts",\n', ''));
    for (const pkg of ['packages/greeter', 'apps/cli']) {
      await edit(`${pkg}/tsconfig.json`, (t) => t.replace('"outDir": "dist"', '"outDir": "dist",\n    "noImplicitAny": false'));
    }
    let r = await trews(['build', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli:build (ran locally)',
      '✓ packages/greeter:build (ran locally)',
      '✓ packages/strings:build (ran locally)',
    ]);
    assert.match(await readFile(join(root, 'packages/greeter/dist/index.d.ts'), 'utf8'), /export declare function greet/);
    r = await trews(['test', '::']);
    assert.equal(r.code, 0, r.stderr);
  });
});
