// End-to-end: a daemon bounds its graph and its store memos
// (daemon_graph_idle_runs) over alternating edits and runs, and never serves
// a stale result for it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DaemonJanitor, daemonLog, makeRepo, type CliResult, type TempRepo } from './helpers/index.js';

const janitor = new DaemonJanitor();
after(() => janitor.stopAll());

const viaDaemon = (repo: TempRepo, args: string[]): Promise<CliResult> =>
  janitor.run(repo.root, args, { env: { TREWS_LOCAL_STORE_DIR: join(repo.root, '.store') } });

describe('a daemon with daemon_graph_idle_runs', () => {
  it('evicts what old edits left behind, and every run after an edit still sees the edit', async () => {
    const repo = await makeRepo({
      'trews.toml': '[GLOBAL]\ndaemon_graph_idle_runs = 2\n',
      BUILD: [
        'files(name="data", sources=["in.txt"])',
        'shell_command(name="gen", command="cat in.txt in.txt > out.txt", tools=["cat"], execution_dependencies=[":data"], output_files=["out.txt"])',
        'test_shell_command(name="check", command="grep -q x out.txt", tools=["grep"], execution_dependencies=[":gen"])',
        '',
      ].join('\n'),
      'in.txt': 'x0\n',
    });
    const expectRun = async (content: string, label: string): Promise<void> => {
      const r = await viaDaemon(repo, ['test', '::']);
      const passes = content.includes('x');
      assert.equal(r.code, passes ? 0 : 1, `${label}: in.txt=${content}\n${r.stderr}`);
      assert.match(r.stderr, passes ? /✓ \/\/:check succeeded/ : /✕ \/\/:check failed/, `${label}\n${r.stderr}`);
    };
    await expectRun('x0', 'first run');
    // Every edit gives the process nodes new digests; the old ones lose their last dependent.
    for (let i = 1; i <= 8; i++) {
      const content = i % 2 === 1 ? `y${i}` : `x${i}`;
      await repo.write('in.txt', `${content}\n`);
      await expectRun(content, `edit ${i}`);
      // A run with no edit between: served from the graph, and it must agree.
      await expectRun(content, `rerun ${i}`);
    }
    const log = daemonLog(repo.root);
    assert.match(log, /graph bound: evict what the last 2 runs did not use/);
    const evictions = [...log.matchAll(/graph: evicted (\d+) nodes/g)].map((m) => Number(m[1]));
    assert.ok(evictions.length > 0 && evictions.every((n) => n > 0), log);
    // Back to content whose nodes were evicted long ago: recomputed (or from the store's cache), and right.
    await repo.write('in.txt', 'y1\n');
    await expectRun('y1', 'back to an evicted content');
    await repo.write('in.txt', 'x2\n');
    await expectRun('x2', 'and again');
  });
});

/** The memo sizes each sweep logged (`store memos: … kept N directories, …`), in run order. */
function memoSizes(log: string): Array<{ forgotten: number; directories: number; known: number; results: number; staged: number }> {
  return [...log.matchAll(/store memos: forgot (\d+) entries .*?; kept (\d+) directories, (\d+) known blobs, (\d+) tree results, (\d+) staged/g)].map((m) => ({
    forgotten: Number(m[1]),
    directories: Number(m[2]),
    known: Number(m[3]),
    results: Number(m[4]),
    staged: Number(m[5]),
  }));
}

describe('a daemon with daemon_graph_idle_runs, its store memos', () => {
  it('hold what the last runs used: over a long sequence of edits their entry counts stop growing, and every run is right', async () => {
    const repo = await makeRepo({
      'trews.toml': '[GLOBAL]\ndaemon_graph_idle_runs = 2\n',
      BUILD: [
        'files(name="data", sources=["src/**/*.txt"])',
        'shell_command(name="gen", command="cat src/a/in.txt src/b/keep.txt > out.txt", tools=["cat"], execution_dependencies=[":data"], output_files=["out.txt"])',
        'test_shell_command(name="check", command="grep -q x out.txt", tools=["grep"], execution_dependencies=[":gen"])',
        '',
      ].join('\n'),
      'src/a/in.txt': 'x0\n',
      'src/b/keep.txt': 'kept\n',
    });
    const cycles = 16;
    for (let i = 1; i <= cycles; i++) {
      // A new content every time: new digests for the file, its directories, the input root and the action.
      const content = i % 3 === 0 ? `y${i}` : `x${i}`;
      await repo.write('src/a/in.txt', `${content}\n`);
      const r = await viaDaemon(repo, ['test', '::']);
      assert.equal(r.code, content.startsWith('x') ? 0 : 1, `edit ${i}: ${content}\n${r.stderr}`);
    }
    const sizes = memoSizes(daemonLog(repo.root));
    assert.equal(sizes.length, cycles, daemonLog(repo.root));
    assert.ok(sizes.some((s) => s.forgotten > 0), JSON.stringify(sizes));
    // Without the sweep each edit adds entries to every memo; with it the late runs hold no more than the early ones.
    const most = (from: number, to: number, key: 'directories' | 'known' | 'results' | 'staged'): number => Math.max(...sizes.slice(from, to).map((s) => s[key]));
    for (const key of ['directories', 'known', 'results', 'staged'] as const) {
      assert.ok(most(cycles - 5, cycles, key) <= most(3, 8, key), `${key}: ${JSON.stringify(sizes.map((s) => s[key]))}`);
    }
    assert.ok(most(3, 8, 'directories') > 0);
  });
});
