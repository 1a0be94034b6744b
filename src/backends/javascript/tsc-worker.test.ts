import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nullLogger } from '../../core/index.js';
import { PersistentWorkers, type WorkerOutcome } from '../../exec/index.js';

/**
 * The tsc worker against the real spawned tsc (this repository's
 * typescript devDependency), on small real packages: the same stdout, exit
 * code and emitted files, byte for byte; what it declines; and its
 * SourceFile cache attacked with an edit of a cached file.
 */
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const tsc = realpathSync(join(repo, 'node_modules', 'typescript', 'bin', 'tsc'));
const program = fileURLToPath(new URL('./tsc-worker.js', import.meta.url));
// The read-only, content-addressed copies the worker may cache from: here this repository's node_modules (never written) and a directory of the test's.
const repoModules = realpathSync(join(repo, 'node_modules'));

let root: string;
let shared: string;
const workers = new PersistentWorkers(1);

before(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'trews-tsc-worker-')));
  shared = join(root, 'shared');
  mkdirSync(join(shared, '@types', 'glob'), { recursive: true });
  writeFileSync(join(shared, '@types', 'glob', 'package.json'), '{"name":"@types/glob","version":"1.0.0","types":"index.d.ts"}');
  writeFileSync(join(shared, '@types', 'glob', 'index.d.ts'), 'declare const GLOBAL_VALUE: number;\n');
  // As a sandbox has it: node_modules of the package links into the shared copy.
  mkdirSync(join(root, 'modules'));
  symlinkSync(join(shared, '@types'), join(root, 'modules', '@types'));
  symlinkSync(join(repoModules, 'typescript'), join(root, 'modules', 'typescript'));
});
after(() => {
  workers.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
/** A package directory with these files (a tsconfig.json among them) and node_modules linked to the shared copies. */
function pkg(files: Record<string, string>): string {
  const dir = join(root, `p${n++}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  symlinkSync(join(root, 'modules'), join(dir, 'node_modules'));
  return dir;
}

const TSCONFIG = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true, declaration: true, sourceMap: true, skipLibCheck: true, outDir: 'dist', rootDir: 'src', types: ['glob'], ...extra }, include: ['src'] });

/** Every file under `dir/dist`, by path. */
function outputs(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out[relative(dir, join(d, e.name))] = readFileSync(join(d, e.name), 'latin1');
    }
  };
  walk(join(dir, 'dist'));
  return out;
}

function spawned(dir: string, args: readonly string[]): { exitCode: number; stdout: string; stderr: string; files: Record<string, string> } {
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return { exitCode: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, files: outputs(dir) };
}

async function inWorker(dir: string, args: readonly string[], env: Record<string, string> = { PATH: '/usr/bin:/bin' }): Promise<WorkerOutcome & { files: Record<string, string> }> {
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  const outcome = await workers.run(
    { interpreter: process.execPath, program, tool: tsc },
    { cwd: dir, args, env, cacheable: [repoModules, shared] },
    { signal: new AbortController().signal, timeoutMs: null, graceMs: 1000, logger: nullLogger, description: `tsc ${args.join(' ')}` },
  );
  return { ...outcome, files: outputs(dir) };
}

/** The worker's result is the spawned tsc's: exit code, stdout, stderr, every emitted file. */
async function same(dir: string, args: readonly string[]): Promise<{ exitCode: number; stdout: string; note: string | undefined }> {
  const want = spawned(dir, args);
  const got = await inWorker(dir, args);
  assert.equal(got.kind, 'done', got.kind === 'declined' ? got.reason : '');
  if (got.kind !== 'done') throw new Error('unreachable');
  assert.equal(got.stdout, want.stdout);
  assert.equal(got.stderr, want.stderr);
  assert.equal(got.exitCode, want.exitCode);
  assert.deepEqual(got.files, want.files);
  return { exitCode: got.exitCode, stdout: got.stdout, note: got.note };
}

describe('tsc worker', () => {
  it('compiles as tsc does: every emitted file byte for byte, exit 0, and reuses the lib files on the next request', async () => {
    const a = pkg({ 'tsconfig.json': TSCONFIG(), 'src/index.ts': 'export const answer: number = GLOBAL_VALUE + 1;\nexport function greet(name: string): string {\n  return `hi ${name}`;\n}\n', 'src/b.ts': "import { greet } from './index.js';\nexport const x = greet('b');\n" });
    const first = await same(a, ['-p', 'tsconfig.json']);
    assert.equal(first.exitCode, 0);
    assert.deepEqual(Object.keys(outputs(a)).sort(), ['dist/b.d.ts', 'dist/b.js', 'dist/b.js.map', 'dist/index.d.ts', 'dist/index.js', 'dist/index.js.map']);
    const b = pkg({ 'tsconfig.json': TSCONFIG(), 'src/index.ts': 'export const y: number = GLOBAL_VALUE;\n' });
    const second = await same(b, ['-p', 'tsconfig.json']);
    const reused = Number(/^(\d+) source files reused$/.exec(second.note ?? '')?.[1]);
    assert.ok(reused > 10, `lib files served from the cache: ${second.note}`);
  });

  it('reports a type error as tsc does (exit 2, outputs generated), and a syntax error', async () => {
    const a = pkg({ 'tsconfig.json': TSCONFIG(), 'src/index.ts': "export const n: number = 'one';\n" });
    const r = await same(a, ['-p', 'tsconfig.json']);
    assert.equal(r.exitCode, 2);
    assert.match(r.stdout, /^src\/index\.ts\(1,14\): error TS2322: Type 'string' is not assignable to type 'number'\.\n$/);
    const b = pkg({ 'tsconfig.json': TSCONFIG(), 'src/index.ts': 'export const = ;\n' });
    assert.match((await same(b, ['--pretty', 'false', '-p', 'tsconfig.json'])).stdout, /error TS1134/);
  });

  it('skips the outputs under noEmitOnError (exit 1), and with --noEmit, as trews check runs it', async () => {
    const a = pkg({ 'tsconfig.json': TSCONFIG({ noEmitOnError: true }), 'src/index.ts': 'export const n: string = 1;\n' });
    assert.equal((await same(a, ['-p', 'tsconfig.json'])).exitCode, 1);
    const b = pkg({ 'tsconfig.json': TSCONFIG(), 'src/index.ts': 'export const n: string = 1;\n' });
    assert.equal((await same(b, ['--noEmit', '--pretty', 'false', '-p', 'tsconfig.json'])).exitCode, 2);
  });

  it('reports a broken tsconfig as tsc does', async () => {
    const a = pkg({ 'tsconfig.json': '{ "compilerOptions": { "strict": tru } ', 'src/index.ts': 'export {};\n' });
    const r = await same(a, ['-p', 'tsconfig.json']);
    assert.notEqual(r.exitCode, 0);
    const b = pkg({ 'tsconfig.json': JSON.stringify({ extends: './missing.json', include: ['src'] }), 'src/index.ts': 'export {};\n' });
    assert.match((await same(b, ['-p', '.'])).stdout, /TS5083/);
  });

  it('declines what it does not run as tsc: build mode, watch, version, a missing project, file names, pretty, incremental, NODE_ variables', async () => {
    const a = pkg({ 'tsconfig.json': TSCONFIG(), 'src/index.ts': 'export {};\n' });
    for (const args of [['-b'], ['--build', '.'], ['--watch'], ['--version'], ['-p', 'nope.json'], ['src/index.ts'], ['--pretty', '-p', '.'], ['--incremental'], ['--bogus'], ['--listFiles']]) {
      const r = await inWorker(a, args);
      assert.equal(r.kind, 'declined', args.join(' '));
      assert.deepEqual(r.files, {}, `${args.join(' ')} wrote nothing`);
    }
    const pretty = pkg({ 'tsconfig.json': TSCONFIG({ pretty: true }), 'src/index.ts': 'export {};\n' });
    assert.equal((await inWorker(pretty, ['-p', '.'])).kind, 'declined');
    const composite = pkg({ 'tsconfig.json': TSCONFIG({ composite: true }), 'src/index.ts': 'export {};\n' });
    assert.equal((await inWorker(composite, ['-p', '.'])).kind, 'declined');
    const r = await inWorker(a, ['-p', '.'], { PATH: '/usr/bin', NODE_OPTIONS: '--max-old-space-size=100' });
    assert.deepEqual(r.kind === 'declined' ? r.reason : r, 'the environment sets NODE_OPTIONS');
  });

  it('never serves a cached file that changed: an edit of a shared file between two requests is seen', async () => {
    const src = { 'tsconfig.json': TSCONFIG(), 'src/index.ts': 'export const v: number = GLOBAL_VALUE;\n' };
    const a = pkg(src);
    assert.equal((await same(a, ['-p', '.'])).exitCode, 0);
    assert.equal((await same(a, ['-p', '.'])).exitCode, 0); // now cached
    const file = join(shared, '@types', 'glob', 'index.d.ts');
    chmodSync(file, 0o644);
    // Same size, so only the times and the content differ.
    writeFileSync(file, 'declare const GLOBAL_VALUE: string;\n');
    const r = await same(a, ['-p', '.']);
    assert.equal(r.exitCode, 2);
    assert.match(r.stdout, /TS2322/);
    writeFileSync(file, 'declare const GLOBAL_VALUE: number;\n');
  });
});
