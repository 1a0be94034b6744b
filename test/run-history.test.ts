// Every run that runs processes keeps its trace under .trews.d/runs (the
// `--trace` format), the last `run_history` of them; a history that cannot
// be written is a warning, never the run's failure.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeRepo, runTrews, type TempRepo } from './helpers/index.js';

interface Trace {
  traceEvents: { name: string; cat?: string; args?: Record<string, unknown> }[];
  otherData: Record<string, unknown>;
}

async function withRepo(files: Record<string, string>, body: (repo: TempRepo, env: Record<string, string>) => Promise<void>): Promise<void> {
  const repo = await makeRepo(files);
  try {
    await body(repo, { XDG_CACHE_HOME: join(repo.root, '.cache') });
  } finally {
    await repo.cleanup();
  }
}

const REPO = { BUILD: 'test_shell_command(name="t", command="true")\n' };

function runs(root: string): string[] {
  try {
    return readdirSync(join(root, '.trews.d', 'runs')).sort();
  } catch {
    return [];
  }
}

describe('run history', () => {
  it('keeps the trace of each run that ran processes, the last run_history of them, and none of a run without processes', async () => {
    await withRepo(REPO, async (repo, env) => {
      const first = await runTrews(['test', '::'], { cwd: repo.root, env });
      assert.equal(first.code, 0, first.stderr);
      assert.doesNotMatch(first.stderr, /trace/, 'keeping the history says nothing');
      const [one] = runs(repo.root);
      assert.match(one ?? '', /^\d{8}T\d{9}Z-[0-9a-f]{8}\.json$/);
      const trace = JSON.parse(readFileSync(join(repo.root, '.trews.d', 'runs', one!), 'utf8')) as Trace;
      assert.equal(trace.otherData['format'], 'trews-trace/1');
      assert.equal(one!.slice(-13, -5), trace.otherData['runId']);
      assert.ok(trace.traceEvents.some((e) => e.name === 'Run test_shell_command //:t' && e.args?.['source'] === 'ran locally'), JSON.stringify(trace.traceEvents));

      const listed = await runTrews(['list', '::'], { cwd: repo.root, env });
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(runs(repo.root).length, 1, '`list` runs no process: no timeline');

      for (let i = 0; i < 2; i++) assert.equal((await runTrews(['test', '::'], { cwd: repo.root, env })).code, 0);
      assert.equal(runs(repo.root).length, 3);
      const newest = JSON.parse(readFileSync(join(repo.root, '.trews.d', 'runs', runs(repo.root).at(-1)!), 'utf8')) as Trace;
      assert.ok(newest.traceEvents.some((e) => e.cat === 'process,local cache'));

      const kept = await runTrews(['test', '::', '--run-history=2'], { cwd: repo.root, env });
      assert.equal(kept.code, 0, kept.stderr);
      const left = runs(repo.root);
      assert.equal(left.length, 2);
      assert.ok(!left.includes(one!), 'the oldest went first');
    });
  });

  it('keeps nothing with run_history = 0', async () => {
    await withRepo({ ...REPO, 'trews.toml': '[GLOBAL]\nrun_history = 0\n' }, async (repo, env) => {
      const r = await runTrews(['test', '::'], { cwd: repo.root, env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(runs(repo.root), []);
    });
  });

  it('rejects a negative run_history with the option named', async () => {
    await withRepo(REPO, async (repo, env) => {
      const r = await runTrews(['test', '::', '--run-history=-1'], { cwd: repo.root, env });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /run.history.*must be at least 0/s);
    });
  });

  it('warns, and the run still succeeds, when the history cannot be written (runs is a file)', async () => {
    await withRepo(REPO, async (repo, env) => {
      await mkdir(join(repo.root, '.trews.d'), { recursive: true });
      await writeFile(join(repo.root, '.trews.d', 'runs'), 'not a directory');
      const r = await runTrews(['test', '::'], { cwd: repo.root, env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: cannot keep this run's trace in .*\.trews\.d\/runs: .*run_history = 0 stops keeping them/);
      assert.equal(readFileSync(join(repo.root, '.trews.d', 'runs'), 'utf8'), 'not a directory');
    });
  });
});
