// End-to-end: the README's main job on a copy of examples/ts-workspace (a
// TypeScript npm-workspaces monorepo with no BUILD file), through the real
// CLI with npm installing from the machine's npm cache (typescript and
// @types/node are trews' own devDependencies, so `npm ci` of trews put
// them there).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, runTrews, type CliResult } from './helpers/index.js';
import { resultLines, summaryLine } from './helpers/shell.js';

const EXAMPLE = join(repoRoot(), 'examples', 'ts-workspace');
const LEFT_OUT = new Set(['node_modules', 'dist', '.trews.d']);

describe('examples/ts-workspace: the README main job', () => {
  let scratch: string;
  let root: string;
  const trews = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runTrews(args, {
      cwd: root,
      env: { TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: join(scratch, 'store'), TMPDIR: scratch, ...env },
      timeoutMs: 300_000,
    });

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'trews-example-ts-'));
    root = join(scratch, 'ts-workspace');
    await cp(EXAMPLE, root, { recursive: true, filter: (src) => !LEFT_OUT.has(src.split('/').pop() ?? '') || src === EXAMPLE });
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('installs, builds and runs every package\'s tests; a second run is all from the cache', async () => {
    let r = await trews(['test', '::']);
    assert.equal(r.code, 0, r.stderr);
    // Each test file runs by itself, compiled (the packages test with `node --test dist/`).
    assert.deepEqual(resultLines(r.stderr), [
      '✓ apps/cli/src/message.test.ts:../cli succeeded (ran locally): 1 case',
      '✓ packages/greeter/src/index.test.ts:../greeter succeeded (ran locally): 2 cases',
      '✓ packages/strings/src/index.test.ts:../strings succeeded (ran locally): 2 cases',
    ]);
    // The install, three builds and three test files.
    assert.equal(summaryLine(r.stderr), '7 ran locally');
    r = await trews(['test', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summaryLine(r.stderr), '7 from the local cache');
    assert.deepEqual(await readdir(root).then((n) => n.filter((x) => LEFT_OUT.has(x) && x !== '.trews.d')), [], 'the workspace gets no node_modules nor dist');
  });

  it('type-checks every package; a type error fails check with tsc\'s file:line:col', async () => {
    let r = await trews(['check', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✓ packages\/greeter:greeter checked in [0-9.]+s \(ran locally\)/);
    assert.match(r.stderr, /✓ apps\/cli:cli checked in/);
    const file = join(root, 'packages/greeter/src/index.ts');
    const good = await readFile(file, 'utf8');
    await writeFile(file, `${good}\nexport const broken: number = greet([]);\n`);
    try {
      r = await trews(['check', 'packages/greeter']);
      assert.equal(r.code, 1, r.stderr);
      const line = good.split('\n').length + 1;
      assert.match(r.stderr, new RegExp(`packages/greeter/src/index\\.ts:${line}:14: error TS2322: Type 'string' is not assignable to type 'number'\\.`));
      assert.match(r.stderr, /✕ packages\/greeter:greeter failed with 1 error \(ran locally\)/);
    } finally {
      await writeFile(file, good);
    }
  });

  it('builds into the workspace and runs the app there with arguments', async () => {
    let r = await trews(['build', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await readFile(join(root, 'packages/strings/dist/index.d.ts'), 'utf8'), /export declare function titleCase/);
    r = await trews(['run', 'apps/cli:start', '--', 'ada lovelace', 'grace']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Hello, Ada Lovelace and Grace! (2 Names)\n');
    // `run` laid out node_modules from the cached install, links to the workspace packages included.
    assert.equal(await readFile(join(root, 'node_modules/@demo/strings/package.json'), 'utf8'), await readFile(join(root, 'packages/strings/package.json'), 'utf8'));
  });

  it('packs each publishable package into dist/ (the private app is left out)', async () => {
    const r = await trews(['package', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await readdir(join(root, 'dist'))).sort(), ['demo-greeter-1.0.0.tgz', 'demo-strings-1.0.0.tgz']);
    const listing = execFileSync('tar', ['tzf', join(root, 'dist/demo-strings-1.0.0.tgz')], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    assert.deepEqual(listing, ['package/dist/index.d.ts', 'package/dist/index.js', 'package/dist/index.js.map', 'package/package.json']);
  });

  it('exports node_modules for editors, touching nothing when it is current', async () => {
    await rm(join(root, 'node_modules/typescript/package.json'));
    let r = await trews(['export', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /✓ node_modules \(local cache\): 1 file written, \d+ unchanged/);
    r = await trews(['export', '::']);
    assert.match(r.stderr, /✓ node_modules \(local cache\): 0 files written, \d+ unchanged\n/);
  });
});
