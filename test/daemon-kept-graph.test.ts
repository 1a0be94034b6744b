// End-to-end: a daemon keeps its graph in .trews.d/graph as it stops, and the
// next daemon's first run starts from it (after `daemon stop`, an option
// change, the idle timeout) instead of computing everything again. Each
// attack changes a file at a moment the kept graph must account for; a graph
// trusted as it was read would pass the test on the old input.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RACY_MARGIN_MS } from '../src/fs/index.js';
import { DaemonJanitor, daemonLog, runTrews, withRepo } from './helpers/index.js';

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

const BUILD = [
  'files(name="in", sources=["*.txt"])',
  // Fails unless the only .txt file says good.
  'test_shell_command(name="t", command="test \\"$(cat *.txt)\\" = good", tools=["cat"], execution_dependencies=[":in"])',
  '',
].join('\n');

const FILES = { 'a/BUILD': BUILD, 'a/in.txt': 'good' };

/** Debug level (a daemon option: every run passes it), so the daemon log says what it loaded and kept. */
const ARGS = ['--level=debug', 'test', 'a:t'];

function envOf(base: Record<string, string>): Record<string, string> {
  return { ...base, TREWS_PERSIST_GRAPH: 'true' };
}

/** The `graph: loaded N of M nodes` lines of the daemon log, as N. */
function loads(root: string): number[] {
  return [...daemonLog(root).matchAll(/graph: loaded (\d+) of \d+ nodes/g)].map((m) => Number(m[1]));
}

async function stop(root: string, env: Record<string, string>): Promise<void> {
  const r = await janitor.run(root, ['daemon', 'stop'], { env });
  assert.equal(r.code, 0, r.stderr);
}

describe('a daemon keeps its graph for the next one', () => {
  it('the next daemon first run starts from it: loaded, and the test is memoized, not run or fetched again', async () => {
    await withRepo(FILES, async (repo, base) => {
      const env = envOf(base);
      const first = await janitor.run(repo.root, ARGS, { env });
      assert.equal(first.code, 0, first.stderr);
      await stop(repo.root, env);
      assert.match(daemonLog(repo.root), /graph: kept for the next daemon/);
      const next = await janitor.run(repo.root, ARGS, { env });
      assert.equal(next.code, 0, next.stderr);
      assert.ok((loads(repo.root).at(-1) ?? 0) > 0, `the second daemon loaded the kept graph:\n${daemonLog(repo.root)}`);
      assert.match(next.stderr, /memoized/);
      assert.doesNotMatch(next.stderr, /from the local cache|ran locally/);
    });
  });

  it('an edit after the last run, old enough before the stop for its stamp to look settled: the next daemon still sees it', async () => {
    await withRepo(FILES, async (repo, base) => {
      const env = envOf(base);
      assert.equal((await janitor.run(repo.root, ARGS, { env })).code, 0);
      // The watcher delivers this edit to the engine as a queued invalidation; no run applies it
      // before the stop. The kept graph must hold the file's node dirty, not as read.
      await repo.write('a/in.txt', 'bad!');
      await sleep(RACY_MARGIN_MS + 250);
      await stop(repo.root, env);
      const next = await janitor.run(repo.root, ARGS, { env });
      assert.ok((loads(repo.root).at(-1) ?? 0) > 0, 'the second daemon loaded the kept graph');
      assert.notEqual(next.code, 0, `the test must see the edit:\n${next.stderr}`);
    });
  });

  it('an edit while no daemon runs, and a new file the glob matches: the next daemon first run sees each', async () => {
    await withRepo(FILES, async (repo, base) => {
      const env = envOf(base);
      assert.equal((await janitor.run(repo.root, ARGS, { env })).code, 0);
      await stop(repo.root, env);
      await sleep(RACY_MARGIN_MS + 250);
      await repo.write('a/more.txt', 'x');
      const r = await janitor.run(repo.root, ARGS, { env });
      assert.ok((loads(repo.root).at(-1) ?? 0) > 0, 'the second daemon loaded the kept graph');
      assert.notEqual(r.code, 0, `the glob must match the new file:\n${r.stderr}`);
      await repo.remove('a/more.txt');
      assert.equal((await janitor.run(repo.root, ARGS, { env })).code, 0);
    });
  });

  it('a daemon and a run without one run the same code: each starts from the graph the other kept', async () => {
    await withRepo(FILES, async (repo, base) => {
      const env = envOf(base);
      const alone = await runTrews(['--no-daemon', ...ARGS], { cwd: repo.root, env });
      assert.equal(alone.code, 0, alone.stderr);
      const first = await janitor.run(repo.root, ARGS, { env });
      assert.equal(first.code, 0, first.stderr);
      assert.ok((loads(repo.root).at(-1) ?? 0) > 0, `the daemon loaded the graph the run without it kept:\n${daemonLog(repo.root)}`);
      assert.match(first.stderr, /memoized/);
      await repo.write('a/in.txt', 'bad!');
      await sleep(RACY_MARGIN_MS + 250);
      assert.notEqual((await janitor.run(repo.root, ARGS, { env })).code, 0, 'the daemon sees the edit');
      await stop(repo.root, env);
      const after = await runTrews(['--no-daemon', ...ARGS], { cwd: repo.root, env });
      assert.notEqual(after.code, 0, `the run without a daemon still sees the edit:\n${after.stderr}`);
      const log = await readFile(join(repo.root, '.trews.d', 'trews.log'), 'utf8');
      assert.match(log.slice(log.lastIndexOf('run: trews')), /graph: loaded [1-9]\d* of/, 'it started from the graph the daemon kept');
    });
  });

  it('two first runs of a new daemon at once: one loads the graph, the other waits for it, and both pass', async () => {
    await withRepo(FILES, async (repo, base) => {
      const env = envOf(base);
      assert.equal((await janitor.run(repo.root, ARGS, { env })).code, 0);
      await stop(repo.root, env);
      const before = loads(repo.root).length;
      const both = await Promise.all([janitor.run(repo.root, ARGS, { env }), janitor.run(repo.root, ARGS, { env })]);
      for (const r of both) assert.equal(r.code, 0, r.stderr);
      assert.equal(loads(repo.root).length - before, 1, 'loaded once');
      assert.doesNotMatch(daemonLog(repo.root), /graph: not loaded/);
    });
  });
});
