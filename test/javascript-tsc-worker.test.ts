// End-to-end: tsc runs in a persistent TypeScript worker (`[javascript]
// tsc_worker`, on by default) through the real CLI on a copy of
// examples/ts-workspace: the builds say so in the log, their outputs are
// byte for byte those of spawned tsc (built with the worker off, in a store
// of its own, so nothing is served from a cache), an edit between runs is
// compiled, and a type error fails as tsc reports it.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, runTrews, type CliResult } from './helpers/index.js';
import { summaryLine } from './helpers/shell.js';

const EXAMPLE = join(repoRoot(), 'examples', 'ts-workspace');
const LEFT_OUT = new Set(['node_modules', 'dist', '.trews.d']);

async function distFiles(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === '.trews.d') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (p.includes('/dist/')) out[relative(root, p)] = await readFile(p, 'latin1');
    }
  };
  await walk(root);
  return out;
}

describe('the tsc worker through the CLI', () => {
  let scratch: string;
  const copy = async (name: string): Promise<string> => {
    const root = join(scratch, name);
    await cp(EXAMPLE, root, { recursive: true, filter: (src) => !LEFT_OUT.has(src.split('/').pop() ?? '') || src === EXAMPLE });
    return root;
  };
  const trews = (root: string, store: string, args: string[]): Promise<CliResult> =>
    runTrews(['--level=debug', ...args], { cwd: root, env: { TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: join(scratch, store), TMPDIR: scratch }, timeoutMs: 300_000 });
  const workerLines = async (root: string): Promise<string[]> =>
    (await readFile(join(root, '.trews.d', 'trews.log'), 'utf8').catch(() => '')).split('\n').filter((l) => l.includes('ran in a persistent worker'));

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'trews-tsc-worker-e2e-'));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('builds every package in the worker, with the outputs spawned tsc gives; an edit is compiled; a type error fails as tsc says', async () => {
    const on = await copy('on');
    let r = await trews(on, 'store-on', ['build', '::']);
    assert.equal(r.code, 0, r.stderr);
    const lines = await workerLines(on);
    assert.deepEqual(
      lines.map((l) => /DEBUG local runner: Run (\S+) .* ran in a persistent worker \(\d+ ms, exit 0, \d+ source files reused\)$/.exec(l)?.[1]).sort(),
      ['apps/cli:build', 'packages/greeter:build', 'packages/strings:build'],
    );
    // The second and third packages' lib files came from the worker's cache.
    assert.ok(lines.some((l) => /, ([1-9]\d+) source files reused\)$/.test(l)), lines.join('\n'));

    const off = await copy('off');
    r = await trews(off, 'store-off', ['--javascript-tsc-worker=false', 'build', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await workerLines(off), []);
    const want = await distFiles(off);
    assert.ok(Object.keys(want).length >= 15, Object.keys(want).join(' '));
    assert.deepEqual(await distFiles(on), want);

    // An edit between two runs is compiled (the worker keeps only the shared copies' files).
    const file = join(on, 'packages/strings/src/index.ts');
    const good = await readFile(file, 'utf8');
    await writeFile(file, `${good}\nexport const edited = 42;\n`);
    r = await trews(on, 'store-on', ['build', 'packages/strings']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(summaryLine(r.stderr) ?? '', /^1 ran locally(, 1 from the local cache)?$/); // the install: from the cache
    assert.match(await readFile(join(on, 'packages/strings/dist/index.d.ts'), 'utf8'), /export declare const edited = 42;/);

    await writeFile(file, `${good}\nexport const broken: number = 'x';\n`);
    r = await trews(on, 'store-on', ['build', 'packages/strings']);
    assert.equal(r.code, 1, r.stderr);
    const line = good.split('\n').length + 1;
    assert.match(r.stderr, new RegExp(`src/index\\.ts\\(${line},14\\): error TS2322: Type 'string' is not assignable to type 'number'\\.`));
    assert.equal((await workerLines(on)).filter((l) => /exit 2,/.test(l)).length, 1);
  });

  it('a tsc in the worker that emits into the shared node_modules copy fails as a spawned one does, and poisons nothing', async () => {
    const root = await copy('attack');
    const tsconfig = join(root, 'packages/strings/tsconfig.json');
    const good = await readFile(tsconfig, 'utf8');
    // The sandbox's node_modules/typescript is in the shared read-only copy; tests run as root, so its modes stop nothing.
    await writeFile(tsconfig, good.replace('"outDir": "dist"', '"outDir": "../../node_modules/typescript/poison"'));
    let r = await trews(root, 'store-attack', ['build', 'packages/strings']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /modified its shared read-only inputs \(node_modules, linked from /);
    assert.equal((await workerLines(root)).filter((l) => l.includes('packages/strings:build')).length, 1, 'the attack ran in the worker');
    // The copy was removed and is made again: the next run, in the same worker program, sees no trace of it.
    await writeFile(tsconfig, good.replace('"outDir": "dist"', '"outDir": "dist", "declarationDir": "dist"'));
    r = await trews(root, 'store-attack', ['build', 'packages/strings']);
    assert.equal(r.code, 0, r.stderr);
    const sharedCopies = join(scratch, 'store-attack');
    const poisoned: string[] = [];
    const walk = async (d: string, depth: number): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
        if (e.name === 'poison') poisoned.push(join(d, e.name));
        else if (e.isDirectory() && depth < 6) await walk(join(d, e.name), depth + 1);
      }
    };
    await walk(sharedCopies, 0);
    assert.deepEqual(poisoned, []);
    assert.match(await readFile(join(root, 'packages/strings/dist/index.d.ts'), 'utf8'), /export declare function titleCase/);
  });

  it('spawns tsc when the worker declines its arguments (--listEmittedFiles), with tsc\'s own output', async () => {
    const root = await copy('declined');
    const manifest = join(root, 'packages/strings/package.json');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('"build": "tsc -p tsconfig.json"', '"build": "tsc -p tsconfig.json --listEmittedFiles"'));
    const r = await trews(root, 'store-declined', ['build', 'packages/strings']);
    assert.equal(r.code, 0, r.stderr);
    const log = await readFile(join(root, '.trews.d', 'trews.log'), 'utf8');
    assert.match(log, /Run packages\/strings:build .*: the persistent worker declined \(listEmittedFiles in the command line\); spawning it/);
    assert.doesNotMatch(log, /packages\/strings:build .* ran in a persistent worker/);
    assert.match(await readFile(join(root, 'packages/strings/dist/index.d.ts'), 'utf8'), /export declare function titleCase/);
  });
});
