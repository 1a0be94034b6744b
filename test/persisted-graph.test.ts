// End-to-end: the graph a run without a daemon keeps in .trews.d/graph
// (option persist_graph). Each attack below changes something between two
// runs that the kept graph remembers; a graph trusted without validating it
// would answer with the old result (a cached pass, a stale archive, a target
// that is gone), so each of these tests fails without the validation.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RACY_MARGIN_MS } from '../src/fs/index.js';
import { copyExampleWorkspace, runTrews, withRepo } from './helpers/index.js';

const GRAPH = join('.trews.d', 'graph');

const BUILD = [
  'files(name="in", sources=["*.txt"])',
  // Fails as soon as a second .txt file is matched, or in.txt says anything but good.
  'test_shell_command(name="t", command="test \\"$(cat *.txt)\\" = good && test \\"$FLAVOUR\\" != bad", tools=["cat"], execution_dependencies=[":in"], extra_env_vars=["FLAVOUR"])',
  'shell_command(name="copy", command="cat in.txt > out.txt", tools=["cat"], execution_dependencies=[":in"], output_files=["out.txt"])',
  'archive(name="all", format="tar", files=[":copy"])',
  '',
].join('\n');

async function loadedNodes(root: string): Promise<number> {
  const log = await readFile(join(root, '.trews.d', 'trews.log'), 'utf8');
  const all = [...log.matchAll(/graph: loaded (\d+) of/g)];
  return all.length === 0 ? 0 : Number(all[all.length - 1]![1]);
}

/** A first run that leaves a graph, and a second one that loads it: the state every attack starts from. */
async function primed(root: string, env: Record<string, string>, args: readonly string[]): Promise<void> {
  const first = await runTrews(['--no-daemon', '--level=debug', ...args], { cwd: root, env, persistGraph: true });
  assert.equal(first.code, 0, first.stderr);
  assert.ok(existsSync(join(root, GRAPH)), 'the run kept its graph');
  const second = await runTrews(['--no-daemon', '--level=debug', ...args], { cwd: root, env, persistGraph: true });
  assert.equal(second.code, 0, second.stderr);
  assert.ok((await loadedNodes(root)) > 0, 'the second run started from the kept graph');
}

/**
 * Waits until every file written so far is older than the racy margin, so
 * that the next run stamps the paths it read (fs/path-stamps.ts): a path
 * changed within the margin before a run is read again by the next one, which
 * would hide whether the stamps are checked at all.
 */
const aged = (): Promise<void> => sleep(RACY_MARGIN_MS + 250);

/** The last run's count of paths it read again and of paths its graph knew, from `graph: loaded …`. */
async function pathsReadAgain(root: string): Promise<{ again: number; of: number }> {
  const log = await readFile(join(root, '.trews.d', 'trews.log'), 'utf8');
  const all = [...log.matchAll(/(\d+) of (\d+) paths to read again/g)];
  assert.ok(all.length > 0, 'the run loaded a kept graph');
  const last = all[all.length - 1]!;
  return { again: Number(last[1]), of: Number(last[2]) };
}

/**
 * What the last run's kept graph could not rebuild from its id although it
 * computes on its own (transient, file-system and input nodes), as
 * `<as> <kind>` from the debug log (cli/graph-file.ts): a stub of one makes
 * everything that re-validates through it recompute on every run.
 */
async function unrebuiltKinds(root: string): Promise<string[]> {
  const log = await readFile(join(root, '.trews.d', 'trews.log'), 'utf8');
  const load = log.lastIndexOf('graph: loaded ');
  assert.ok(load >= 0, 'the run loaded a kept graph');
  const line = /could not be rebuilt from their id, so what depends on them recomputes: (.*)/.exec(log.slice(load));
  return line === null ? [] : [...line[1]!.matchAll(/\[([a-z-]+ [^\]]+)\] x\d+/g)].map((m) => m[1]!).sort();
}

/**
 * The key kinds that cannot come back from their id, each with why; the
 * test below fails on any other. `process:` — a process's id is its action
 * digest, and the Process it runs (argv, environment, input tree, timeout,
 * description) is not in it. Only a result its cache scope does not keep
 * (a failed test, a timeout, a `per-run` result) is transient, and what
 * depends on it must recompute anyway: to run the process again.
 */
const NOT_REBUILDABLE: ReadonlySet<string> = new Set(['transient process:']);

const tarNames = (tar: string): string => execFileSync('tar', ['-xOf', tar, 'a/out.txt'], { encoding: 'utf8' });

describe('the kept graph, --no-daemon', () => {
  it('an input edited in place, its size and mtime restored: the test fails', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['test', 'a:t']);
      const input = join(repo.root, 'a', 'in.txt');
      const before = await lstat(input, { bigint: true });
      await writeFile(input, 'bad!');
      const ns = before.mtimeNs % 1_000_000_000n;
      execFileSync('touch', ['-m', '-d', `@${before.mtimeNs / 1_000_000_000n}.${ns.toString().padStart(9, '0')}`, input]);
      assert.equal((await lstat(input, { bigint: true })).mtimeNs, before.mtimeNs);
      const r = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.ok((await loadedNodes(repo.root)) > 0);
      assert.notEqual(r.code, 0, `the test must see the edit:\n${r.stderr}`);
    });
  });

  it('a new file the glob matches: the test sees it and fails', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['test', 'a:t']);
      await repo.write('a/more.txt', 'x');
      const r = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.notEqual(r.code, 0, `the glob must match the new file:\n${r.stderr}`);
    });
  });

  it('a deleted BUILD file: its targets are gone', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good', 'b/BUILD': 'files(name="x", sources=[])\n' }, async (repo, env) => {
      await primed(repo.root, env, ['list', '::']);
      await repo.remove('b/BUILD');
      const r = await runTrews(['--no-daemon', 'list', '::'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /^b:x$/m);
      assert.match(r.stdout, /^a:t$/m);
    });
  });

  it('a target added to a BUILD file is listed, and --tag still selects from the targets themselves', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['list', '::']);
      await repo.write('a/BUILD', `${BUILD}\nfiles(name="extra", sources=["in.txt"], tags=["t1"])\n`);
      const r = await runTrews(['--no-daemon', 'list', '::'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^a:extra$/m);
      assert.match(r.stdout, /^a:t$/m);
      const tagged = await runTrews(['--no-daemon', '--tag=t1', 'list', '::'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(tagged.code, 0, tagged.stderr);
      assert.deepEqual(tagged.stdout.trim().split('\n').filter((l) => !l.includes('in.txt')), ['a:extra']);
    });
  });

  it('a changed command in a BUILD file: the new command runs', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['test', 'a:t']);
      await repo.write('a/BUILD', BUILD.replace('test \\"$FLAVOUR\\" != bad', 'false'));
      const r = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.notEqual(r.code, 0, `the edited command must run:\n${r.stderr}`);
    });
  });

  it('a variable the run reads, and an option: the test runs again with them', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, { ...env, FLAVOUR: 'fine' }, ['test', 'a:t']);
      const r = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env: { ...env, FLAVOUR: 'bad' }, persistGraph: true });
      assert.notEqual(r.code, 0, `the test must see the variable:\n${r.stderr}`);
      // build_patterns is no input of any key: it is in the kept graph's fingerprint.
      const other = await runTrews(['--no-daemon', '--build-patterns=["NOPE"]', 'list', '::'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(other.stdout, '');
      assert.match(other.stderr, /matched no targets/);
    });
  });

  it('--force runs the test again: the trees the kept graph names are in the store, not only in the memory of the run that staged them', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['test', 'a:t']);
      const r = await runTrews(['--no-daemon', 'test', 'a:t', '--force'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /1 ran locally/);
    });
  });

  it('a damaged or truncated graph file is ignored: the run is right, without an error, and keeps a new one', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['test', 'a:t']);
      await repo.write('a/in.txt', 'bad!');
      const graph = join(repo.root, GRAPH);
      const size = (await lstat(graph)).size;
      await truncate(graph, Math.floor(size / 2));
      let r = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.notEqual(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /internal|graph/);
      assert.match(await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8'), /graph: ignoring .*damaged or truncated/);
      // A flipped byte inside the payload: the checksum catches it.
      const bytes = await readFile(graph);
      bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
      await writeFile(graph, bytes);
      await repo.write('a/in.txt', 'good');
      r = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(r.code, 0, r.stderr);
      assert.match(await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8'), /graph: ignoring .*(checksum|damaged)/);
      await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.ok((await loadedNodes(repo.root)) > 0, 'a good graph was kept again');
    });
  });

  it('the local store deleted: outputs are made again, not restored from blobs that are gone', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['package', 'a:all']);
      const tar = join(repo.root, 'dist', 'a', 'all.tar');
      assert.equal(tarNames(tar), 'good');
      await rm(join(repo.root, '.cache'), { recursive: true, force: true });
      await rm(join(repo.root, 'dist'), { recursive: true, force: true });
      const r = await runTrews(['--no-daemon', '--level=debug', 'package', 'a:all'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /ran locally|1 ran/);
      assert.equal(tarNames(tar), 'good');
      assert.match(await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8'), /graph: ignoring .*local store/);
    });
  });

  it('concurrent runs keep one whole graph (written by rename), and the next run loads it', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['test', 'a:t']);
      await repo.write('a/in.txt', 'bad!');
      const runs = await Promise.all([0, 1, 2].map(() => runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true })));
      for (const r of runs) assert.notEqual(r.code, 0, r.stderr);
      await repo.write('a/in.txt', 'good');
      const next = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(next.code, 0, next.stderr);
      assert.ok((await loadedNodes(repo.root)) > 0);
    });
  });

  it('a JavaScript workspace: a fully cached run loads the graph, needs nothing recomputed and leaves the file as it was', async () => {
    // Transient keys (tool lookups, the package manager's version), inputs and file-system
    // keys come back with their compute: a stub's dependents would recompute and be kept again.
    const ws = await copyExampleWorkspace('trews-kept-js-');
    try {
      const env = { TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: join(ws.scratch, 'store'), TMPDIR: ws.scratch };
      const run = () => runTrews(['--no-daemon', '--level=debug', 'build', '::'], { cwd: ws.root, env, persistGraph: true, timeoutMs: 300_000 });
      for (let i = 0; i < 2; i++) assert.equal((await run()).code, 0);
      // Once the workspace is older than the racy margin, one run stamps the paths the last
      // ones could not (and keeps the graph for that); the run after it has nothing to add.
      await aged();
      assert.equal((await run()).code, 0);
      const kept = await lstat(join(ws.root, GRAPH), { bigint: true });
      const r = await run();
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await loadedNodes(ws.root)) > 0, 'the run started from the kept graph');
      assert.match(r.stderr, /Builds: \d+ succeeded, \d+ total \(\d+ memoized\) · Processes: none/);
      const kinds = await unrebuiltKinds(ws.root);
      assert.deepEqual(kinds.filter((k) => !NOT_REBUILDABLE.has(k)), [], `every transient, input and file-system key comes back with its compute; these came back as stubs: ${kinds.join(', ')}`);
      assert.match(await readFile(join(ws.root, '.trews.d', 'trews.log'), 'utf8'), /graph: this run computed \d+ nodes and re-validated \d+, 0 changes[^\n]*\n(?![\s\S]*this run computed)/);
      const after = await lstat(join(ws.root, GRAPH), { bigint: true });
      assert.deepEqual([after.ino, after.mtimeNs], [kept.ino, kept.mtimeNs], 'a run that changed nothing does not write the graph again');
    } finally {
      await ws.remove();
    }
  });

  it('paths proven unchanged by their stamps are not read again, and an in-place edit that keeps size and mtime is still seen', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      // The first run makes .trews.d and the store in the build root, which moves the root's mtime.
      assert.equal((await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true })).code, 0);
      await aged();
      await primed(repo.root, env, ['test', 'a:t']);
      const again = await pathsReadAgain(repo.root);
      assert.ok(again.of > 0);
      assert.equal(again.again, 0, 'every path the graph read is proven unchanged by its stamp');
      const input = join(repo.root, 'a', 'in.txt');
      const before = await lstat(input, { bigint: true });
      await writeFile(input, 'bad!');
      const ns = before.mtimeNs % 1_000_000_000n;
      execFileSync('touch', ['-m', '-d', `@${before.mtimeNs / 1_000_000_000n}.${ns.toString().padStart(9, '0')}`, input]);
      const r = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.ok((await pathsReadAgain(repo.root)).again > 0);
      assert.notEqual(r.code, 0, `the test must see the edit (its ctime moved):\n${r.stderr}`);
    });
  });

  it('stamped paths: a new file in a stamped directory, and a file replaced by renaming another of the same size and mtime over it', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good', 'b/in.txt': 'bad!' }, async (repo, env) => {
      execFileSync('touch', ['-r', join(repo.root, 'a', 'in.txt'), join(repo.root, 'b', 'in.txt')]);
      assert.equal((await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true })).code, 0);
      await aged();
      await primed(repo.root, env, ['test', 'a:t']);
      assert.equal((await pathsReadAgain(repo.root)).again, 0);
      await rename(join(repo.root, 'b', 'in.txt'), join(repo.root, 'a', 'in.txt'));
      let r = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.notEqual(r.code, 0, `the test must see the renamed file:\n${r.stderr}`);
      await repo.write('a/in.txt', 'good');
      await aged();
      await primed(repo.root, env, ['test', 'a:t']);
      await repo.write('a/more.txt', 'x');
      r = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.notEqual(r.code, 0, `the glob must match the new file:\n${r.stderr}`);
    });
  });

  /** A test that passes, then writes into the workspace through its absolute path ($ROOT): the input it read is gone. */
  const WRITES_ITS_INPUT = [
    'files(name="in", sources=["in.txt"])',
    'test_shell_command(name="t", command="test \\"$(cat in.txt)\\" = good && printf bad! > \\"$ROOT/a/in.txt\\"", tools=["cat"], execution_dependencies=[":in"], extra_env_vars=["ROOT"])',
    '',
  ].join('\n');

  it('a tool on PATH is computed again before the import: unchanged it dirties nothing, replaced the test runs with the new one', async () => {
    const build = 'test_shell_command(name="t", command="test \\"$(greet)\\" = hello", tools=["greet"])\n';
    await withRepo({ 'a/BUILD': build }, async (repo, env) => {
      const bin = join(repo.root, '..', `${repo.root.split('/').pop()}-bin`);
      await mkdir(bin, { recursive: true });
      try {
        await writeFile(join(bin, 'greet'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
        const withBin = { ...env, PATH: `${bin}:${env.PATH ?? process.env.PATH ?? ''}` };
        await primed(repo.root, withBin, ['test', 'a:t']);
        const log = async (): Promise<string> => readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8');
        assert.match(await log(), /graph: loaded .*; [1-9]\d* transient nodes computed again as kept/);
        assert.match(await log(), /this run computed 0 nodes and re-validated 0,/, 'the tools read as kept: nothing above them is re-validated');
        // The same path, other bytes: the tool's digest differs, so the process runs again.
        await writeFile(join(bin, 'greet'), '#!/bin/sh\necho bye!\n', { mode: 0o755 });
        const r = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env: withBin, persistGraph: true });
        assert.ok((await loadedNodes(repo.root)) > 0, 'the run started from the kept graph');
        assert.notEqual(r.code, 0, `the test must run the replaced tool:\n${r.stderr}`);
        assert.match(r.stderr, /ran locally/);
      } finally {
        await rm(bin, { recursive: true, force: true });
      }
    });
  });

  it('a file changed while the run reads it is not stamped: the next run reads it again', async () => {
    // The test passes, then writes into the workspace through its absolute path: the
    // input it read is not the input that is there when the run ends and stamps its paths.
    await withRepo({ 'a/BUILD': WRITES_ITS_INPUT, 'a/in.txt': 'good' }, async (repo, env) => {
      await aged();
      const first = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env: { ...env, ROOT: repo.root }, persistGraph: true });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(await readFile(join(repo.root, 'a', 'in.txt'), 'utf8'), 'bad!', 'the test wrote into the workspace');
      const r = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env: { ...env, ROOT: repo.root }, persistGraph: true });
      assert.ok((await loadedNodes(repo.root)) > 0);
      assert.notEqual(r.code, 0, `the run must read the file the last one changed:\n${r.stderr}`);
    });
  });

  it('a file proven unchanged at load and written while the run runs: its kept stamp is the old one, so the next run reads it again', async () => {
    await withRepo({ 'a/BUILD': WRITES_ITS_INPUT, 'a/in.txt': 'good' }, async (repo, env) => {
      const withRoot = { ...env, ROOT: repo.root };
      await aged();
      assert.equal((await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env: withRoot, persistGraph: true })).code, 0);
      await repo.write('a/in.txt', 'good');
      await aged();
      await primed(repo.root, withRoot, ['test', 'a:t']);
      await repo.write('a/in.txt', 'good');
      await aged();
      // Proven at load by its stamp (so not read again), then rewritten by the forced test.
      assert.equal((await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env: withRoot, persistGraph: true })).code, 0);
      const forced = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t', '--force'], { cwd: repo.root, env: withRoot, persistGraph: true });
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(await readFile(join(repo.root, 'a', 'in.txt'), 'utf8'), 'bad!', 'the test wrote into the workspace');
      const r = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env: withRoot, persistGraph: true });
      assert.notEqual(r.code, 0, `the run must read the file the forced run changed:\n${r.stderr}`);
    });
  });

  it('a file read again at load and rewritten during the run, in a directory the run changed: the next run reads it again', async () => {
    // The test also makes and removes an entry beside its input, so the directory is too
    // fresh to prove anything: only what the load saw of in.txt, compared at the save, could
    // stamp it (fs/path-stamps.ts), and the rewrite must keep it from doing so.
    const build = [
      'files(name="in", sources=["in.txt"])',
      'test_shell_command(name="t", command="test \\"$(cat in.txt)\\" = good && printf bad! > \\"$ROOT/a/in.txt\\" && touch \\"$ROOT/a/x.tmp\\" && rm \\"$ROOT/a/x.tmp\\"", tools=["cat", "touch", "rm"], execution_dependencies=[":in"], extra_env_vars=["ROOT"])',
      '',
    ].join('\n');
    await withRepo({ 'a/BUILD': build, 'a/in.txt': 'good' }, async (repo, env) => {
      const withRoot = { ...env, ROOT: repo.root };
      await aged();
      assert.equal((await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env: withRoot, persistGraph: true })).code, 0);
      // Rewritten with the same bytes: its stamp moved, so the next run reads it again at load (and finds it as kept).
      await repo.write('a/in.txt', 'good');
      await aged();
      const forced = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t', '--force'], { cwd: repo.root, env: withRoot, persistGraph: true });
      assert.equal(forced.code, 0, forced.stderr);
      assert.ok((await pathsReadAgain(repo.root)).again > 0, 'in.txt was read again at load');
      assert.equal(await readFile(join(repo.root, 'a', 'in.txt'), 'utf8'), 'bad!', 'the forced test wrote into the workspace');
      const r = await runTrews(['--no-daemon', 'test', 'a:t'], { cwd: repo.root, env: withRoot, persistGraph: true });
      assert.notEqual(r.code, 0, `the run must read the file the forced run changed:\n${r.stderr}`);
    });
  });

  it('every transient, input and file-system key of a shell run comes back with its compute, not as a stub', async () => {
    // A system_binary (found and fingerprinted again every run), tools, variables, options, a failed test (transient, NOT_REBUILDABLE).
    const build = [
      'system_binary(name="un", binary_name="uname", fingerprint="Linux", fingerprint_args=["-s"])',
      'files(name="in", sources=["*.txt"])',
      'shell_command(name="copy", command="printf %s \\"$(un -s)\\" > out.txt && cat in.txt >> out.txt", tools=["cat"], runnable_dependencies=[":un"], execution_dependencies=[":in"], output_files=["out.txt"], extra_env_vars=["FLAVOUR"])',
      'test_shell_command(name="t", command="test \\"$(cat out.txt)\\" = \\"$(un -s)good\\"", tools=["cat"], runnable_dependencies=[":un"], execution_dependencies=[":copy"])',
      'test_shell_command(name="fails", command="false")',
      '',
    ].join('\n');
    await withRepo({ 'a/BUILD': build, 'a/in.txt': 'good' }, async (repo, env) => {
      const run = () => runTrews(['--no-daemon', '--level=debug', 'test', '::'], { cwd: repo.root, env: { ...env, FLAVOUR: 'x' }, persistGraph: true });
      assert.equal((await run()).code, 1, 'a:fails fails');
      const r = await run();
      assert.match(r.stderr, /✓ a:t succeeded/);
      assert.match(r.stderr, /✕ a:fails failed/);
      assert.ok((await loadedNodes(repo.root)) > 0, 'the run started from the kept graph');
      const kinds = await unrebuiltKinds(repo.root);
      assert.deepEqual(kinds.filter((k) => !NOT_REBUILDABLE.has(k)), [], `kinds that came back as stubs: ${kinds.join(', ')}`);
      assert.deepEqual(kinds, ['transient process:'], 'the failed test is kept, transient, and cannot come back from its id');
    });
  });

  it('`version` and `help` neither load the kept graph nor touch it: the next run still starts from it', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      await primed(repo.root, env, ['test', 'a:t']);
      const kept = await readFile(join(repo.root, GRAPH));
      const logBefore = (await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8')).length;
      for (const args of [['version'], ['help', 'test']]) {
        const r = await runTrews(['--no-daemon', '--level=debug', ...args], { cwd: repo.root, env, persistGraph: true });
        assert.equal(r.code, 0, r.stderr);
      }
      const logSince = (await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8')).slice(logBefore);
      assert.doesNotMatch(logSince, /graph: (loaded|ignoring|not kept)/);
      assert.deepEqual(await readFile(join(repo.root, GRAPH)), kept, 'the graph file is as the last run that used it left it');
      const r = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(r.code, 0, r.stderr);
      assert.match((await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8')).slice(logBefore), /graph: loaded [1-9]\d* of/);
    });
  });

  it('outputs deleted and written back (a restore): the directories read again as kept dirty nothing above them, and the archive is whole', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      const dist = join(repo.root, 'dist');
      const restore = async (): Promise<void> => {
        await rm(dist, { recursive: true, force: true });
        const r = await runTrews(['--no-daemon', '--level=debug', 'package', '::'], { cwd: repo.root, env, persistGraph: true });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(tarNames(join(dist, 'a', 'all.tar')), 'good', 'the archive is written back whole');
      };
      // The first runs leave a graph that read the root without dist/ (a run that writes dist/ cannot stamp the root).
      for (let i = 0; i < 3; i++) await restore();
      await restore();
      const log = await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8');
      const loaded = [...log.matchAll(/graph: loaded (\d+) of \d+ nodes.*?(\d+) of (\d+) paths to read again.*?, (\d+) of them changed/g)].at(-1);
      assert.ok(loaded !== undefined, 'the run loaded the kept graph');
      assert.ok(Number(loaded[2]) > 0, 'the root moved: dist/ went and came back');
      assert.equal(loaded[4], '0', 'the root lists as the kept graph read it');
      const ran = [...log.matchAll(/this run computed (\d+) nodes and re-validated (\d+)/g)].at(-1)!;
      // A moved root dirtied everything above it: ~70% of this graph re-validated, and the listings computed again.
      assert.ok(Number(ran[2]) * 4 < Number(loaded[1]), `re-validated ${ran[2]} of ${loaded[1]} nodes`);
      // A real change under the same stamps is still a change: the file written back differs.
      await repo.write('a/in.txt', 'bad!');
      await rm(dist, { recursive: true, force: true });
      const r = await runTrews(['--no-daemon', 'package', '::'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(tarNames(join(dist, 'a', 'all.tar')), 'bad!');
    });
  });

  it('a run that only re-validates what it loaded dirty keeps the graph: the next run re-validates nothing', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      const run = async (args: string[]): Promise<{ revalidated: number; changes: number }> => {
        const r = await runTrews(['--no-daemon', '--level=debug', ...args], { cwd: repo.root, env, persistGraph: true });
        assert.equal(r.code, 0, r.stderr);
        const log = await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8');
        const ran = [...log.matchAll(/this run computed \d+ nodes and re-validated (\d+), (\d+) changes/g)].at(-1)!;
        return { revalidated: Number(ran[1]), changes: Number(ran[2]) };
      };
      await run(['test', '::']);
      await run(['package', '::']);
      // A restore (dist/ deleted, written back) moves the root: what reads it is dirtied, the
      // test's nodes too. `package` runs until its graph is settled; the test's stay dirty.
      await rm(join(repo.root, 'dist'), { recursive: true, force: true });
      await run(['package', '::']);
      await aged();
      await run(['package', '::']);
      await aged();
      assert.deepEqual(await run(['package', '::']), { revalidated: 0, changes: 0 });
      // The test run re-validates what it finds dirty, changing nothing…
      const first = await run(['test', '::']);
      assert.ok(first.revalidated > 0 && first.changes === 0, JSON.stringify(first));
      // …and keeps the graph as it left it: the next test run has nothing to check.
      assert.deepEqual(await run(['test', '::']), { revalidated: 0, changes: 0 });
    });
  });

  it('a symlink pointed elsewhere between runs: its directory reads otherwise (the target is in the listing), and the test sees the other file', async () => {
    const build = [
      'files(name="in", sources=["in.txt"])',
      'test_shell_command(name="t", command="test \\"$(cat in.txt)\\" = good", tools=["cat"], execution_dependencies=[":in"])',
      '',
    ].join('\n');
    await withRepo({ 'a/BUILD': build, 'a/v1/x': 'good', 'a/v2/x': 'bad!' }, async (repo, env) => {
      await symlink('v1/x', join(repo.root, 'a', 'in.txt'));
      await aged();
      await primed(repo.root, env, ['test', 'a:t']);
      await rm(join(repo.root, 'a', 'in.txt'));
      await symlink('v2/x', join(repo.root, 'a', 'in.txt'));
      const r = await runTrews(['--no-daemon', '--level=debug', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.ok((await loadedNodes(repo.root)) > 0);
      assert.notEqual(r.code, 0, `the test must read through the re-pointed link:\n${r.stderr}`);
    });
  });

  it('persist_graph = false keeps no graph and loads none', async () => {
    await withRepo({ 'a/BUILD': BUILD, 'a/in.txt': 'good' }, async (repo, env) => {
      const r = await runTrews(['--no-daemon', '--no-persist-graph', 'test', 'a:t'], { cwd: repo.root, env, persistGraph: true });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!existsSync(join(repo.root, GRAPH)));
    });
  });
});
