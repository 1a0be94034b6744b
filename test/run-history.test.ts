// Every run that runs processes keeps its trace under .trews.d/runs (the
// `--trace` format), the last `run_history` of them; a history that cannot
// be written is a warning, never the run's failure.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { get } from 'node:http';
import { after, describe, it } from 'node:test';
import type { TimelineJson } from '../src/graph-page/index.js';
import { DaemonJanitor, runTrews, spawnTrews, waitUntil, withRepo } from './helpers/index.js';

interface Trace {
  traceEvents: { name: string; cat?: string; args?: Record<string, unknown> }[];
  otherData: Record<string, unknown>;
}

const REPO = { BUILD: 'test_shell_command(name="t", command="true")\n' };

/** The run a page written by `trews graph --runs --output` inlines. */
function timelineOf(html: string): TimelineJson {
  const m = /<script type="application\/json" id="trews-timeline-data">(.*?)<\/script>/s.exec(html);
  assert.ok(m, 'the page holds its run');
  return JSON.parse(m[1]!) as TimelineJson;
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

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

describe('trews graph --runs', () => {
  it('writes the latest run against the one before it, --run and --compare choose others, and a broken BUILD file does not stop it', async () => {
    await withRepo({ ...REPO, 'in.txt': 'one\n', 'BUILD': 'files(name="in", sources=["in.txt"])\ntest_shell_command(name="t", command="[ -s in.txt ]", execution_dependencies=[":in"])\n' }, async (repo, env) => {
      assert.equal((await runTrews(['test', '::'], { cwd: repo.root, env })).code, 0);
      await repo.write('in.txt', 'two\n');
      assert.equal((await runTrews(['test', '::'], { cwd: repo.root, env })).code, 0);
      const ids = runs(repo.root).map((n) => n.slice(-13, -5));
      await repo.write('BUILD', 'test_shell_command(name="t",\n');
      const r = await runTrews(['graph', '--runs', '--output=t.html'], { cwd: repo.root, env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, `trews graph: wrote t.html (run ${ids[1]}: 1 processes)\n`);
      const t = timelineOf(readFileSync(join(repo.root, 't.html'), 'utf8'));
      assert.equal(t.run.id, ids[1]);
      assert.equal(t.previous?.id, ids[0]);
      assert.deepEqual(t.runs.map((x) => x.id), [ids[1], ids[0]]);
      const [now, before] = [t.run.bars[0]!, t.previous!.bars[0]!];
      assert.equal(now.description, 'Run test_shell_command //:t');
      assert.notEqual(now.inputRootDigest, before.inputRootDigest, 'the edit changed the input root the trace recorded');
      assert.deepEqual(t.inputDiffs, { [now.description]: { files: [{ path: 'in.txt', change: 'changed' }], more: 0 } }, 'the page names the file that differs');

      const older = await runTrews(['graph', `--run=${ids[0]}`, '--output=o.html'], { cwd: repo.root, env });
      assert.equal(older.code, 0, older.stderr);
      const o = timelineOf(readFileSync(join(repo.root, 'o.html'), 'utf8'));
      assert.equal(o.run.id, ids[0]);
      assert.equal(o.previous, null, 'nothing before the oldest run');
      const compared = await runTrews(['graph', `--run=${ids[0]}`, `--compare=${ids[1]}`, '--output=c.html'], { cwd: repo.root, env });
      assert.equal(compared.code, 0, compared.stderr);
      assert.equal(timelineOf(readFileSync(join(repo.root, 'c.html'), 'utf8')).previous?.id, ids[1]);
      const prefix = await runTrews(['graph', `--run=${ids[0]!.slice(0, 5)}`, '--output=p.html'], { cwd: repo.root, env });
      assert.equal(prefix.code, 0, prefix.stderr);
      assert.equal(timelineOf(readFileSync(join(repo.root, 'p.html'), 'utf8')).run.id, ids[0]);
    });
  });

  it('finds which process consumed which outputs, draws the critical path through them, and says when the store no longer holds the trees', async () => {
    const files = {
      'in.txt': 'seed\n',
      BUILD: [
        'files(name="in", sources=["in.txt"])',
        'shell_command(name="a", command="cat in.txt in.txt > a.out", tools=["cat"], execution_dependencies=[":in"], output_files=["a.out"])',
        'shell_command(name="b", command="cat a.out a.out > b.out", tools=["cat"], execution_dependencies=[":a"], output_files=["b.out"])',
        'shell_command(name="c", command="cat in.txt in.txt in.txt > c.out", tools=["cat"], execution_dependencies=[":in"], output_files=["c.out"])',
        // d passes the source on unchanged: it made nothing, so what reads it waited for no one.
        'shell_command(name="d", command="cat in.txt > d.out", tools=["cat"], execution_dependencies=[":in"], output_files=["d.out"])',
        'shell_command(name="e", command="[ -s d.out ] && cat d.out d.out d.out d.out > e.out", tools=["cat"], execution_dependencies=[":d", ":in"], output_files=["e.out"])',
        'test_shell_command(name="t", command="[ -s b.out ] && [ -s c.out ] && [ -s e.out ]", execution_dependencies=[":b", ":c", ":e"])',
        '',
      ].join('\n'),
    };
    await withRepo(files, async (repo, env) => {
      const r = await runTrews(['test', '::', '--process-execution-local-parallelism=1'], { cwd: repo.root, env });
      assert.equal(r.code, 0, r.stderr);
      const g = await runTrews(['graph', '--runs', '--output=t.html'], { cwd: repo.root, env });
      assert.equal(g.code, 0, g.stderr);
      const t = timelineOf(readFileSync(join(repo.root, 't.html'), 'utf8'));
      const name = (i: number): string => t.run.bars[i]!.description.replace(/^Run (test_)?shell_command \/\/:/, '');
      const waited = Object.fromEntries(t.run.bars.map((_, i) => [name(i), (t.waitedFor?.[i] ?? []).map(name).sort()]));
      assert.deepEqual(waited, { a: [], b: ['a'], c: [], d: [], e: [], t: ['b', 'c', 'e'] });
      const path = (t.critical ?? []).map(name);
      assert.equal(path.at(-1), 't', 'the last to finish ends it');
      assert.ok(['a b t', 'c t', 'e t'].includes(path.join(' ')), `a chain of waits: ${path.join(' ')}`);

      // Trees collected from the store: the page still draws, without what it cannot read.
      await rm(join(repo.root, '.cache'), { recursive: true, force: true });
      const again = await runTrews(['graph', '--runs', '--output=u.html'], { cwd: repo.root, env });
      assert.equal(again.code, 0, again.stderr);
      const u = timelineOf(readFileSync(join(repo.root, 'u.html'), 'utf8'));
      assert.deepEqual(u.waitedFor, [[], [], [], [], [], []]);
      assert.equal(u.critical?.length, 1);
    });
  });

  it('served, answers ?run=ID with that run\'s page and an unknown id with 404 and why', async () => {
    await withRepo(REPO, async (repo, env) => {
      for (let i = 0; i < 2; i++) assert.equal((await runTrews(['test', '::'], { cwd: repo.root, env })).code, 0);
      const ids = runs(repo.root).map((n) => n.slice(-13, -5));
      const s = spawnTrews(['graph', '--runs'], { cwd: repo.root, env });
      try {
        await waitUntil(() => /http:\/\/127\.0\.0\.1:\d+\/\n/.test(s.output().stdout) || s.child.exitCode !== null, 'the timeline URL');
        const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(s.output().stdout)?.[0];
        assert.ok(url, s.output().stderr);
        assert.equal(timelineOf((await fetchText(url)).body).run.id, ids[1]);
        const older = await fetchText(`${url}?run=${ids[0]}`);
        assert.equal(older.status, 200);
        assert.equal(timelineOf(older.body).run.id, ids[0]);
        const compared = timelineOf((await fetchText(`${url}?run=${ids[0]}&compare=${ids[1]}`)).body);
        assert.equal(compared.previous?.id, ids[1]);
        const unknown = await fetchText(`${url}?run=nothere`);
        assert.equal(unknown.status, 404);
        assert.match(unknown.body, /^`--run=nothere` names no recorded run\n/);
      } finally {
        s.child.kill('SIGINT');
        assert.equal((await s.result).code, 0);
      }
    });
  });

  it('says when no run was recorded, and what to do', async () => {
    await withRepo(REPO, async (repo, env) => {
      const r = await runTrews(['graph', '--runs', '--output=t.html'], { cwd: repo.root, env });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `error: no recorded run in ${join(repo.root, '.trews.d', 'runs')}\n  runs that run processes are recorded there, e.g. \`trews test ::\`\n  the run_history option says how many are kept\n`);
    });
  });

  it('rejects a --run that names no recorded run, listing those that exist', async () => {
    await withRepo(REPO, async (repo, env) => {
      assert.equal((await runTrews(['test', '::'], { cwd: repo.root, env })).code, 0);
      const id = runs(repo.root)[0]!.slice(-13, -5);
      const r = await runTrews(['graph', '--run=nothere', '--output=t.html'], { cwd: repo.root, env });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: `--run=nothere` names no recorded run\n {2}(did you mean|the recorded runs, newest first:) /);
      assert.match(r.stderr, new RegExp(id));
    });
  });

  it('rejects a --run prefix that begins two runs, naming them', async () => {
    await withRepo(REPO, async (repo, env) => {
      await mkdir(join(repo.root, '.trews.d', 'runs'), { recursive: true });
      for (const [t, id] of [['20260101T000000000Z', 'abcd0001'], ['20260102T000000000Z', 'abcd0002']]) {
        const trace = { traceEvents: [], otherData: { format: 'trews-trace/1', startedAt: t, argv: ['test', '::'], runId: id } };
        await writeFile(join(repo.root, '.trews.d', 'runs', `${t}-${id}.json`), JSON.stringify(trace));
      }
      const r = await runTrews(['graph', '--run=abcd', '--output=t.html'], { cwd: repo.root, env });
      assert.equal(r.code, 2);
      assert.equal(r.stderr, 'error: `--run=abcd` begins 2 recorded runs\n  name one of them whole: abcd0002, abcd0001\n');
    });
  });

  it('names a run file that is not a trews trace instead of failing with a stack trace', async () => {
    await withRepo(REPO, async (repo, env) => {
      await mkdir(join(repo.root, '.trews.d', 'runs'), { recursive: true });
      const file = join(repo.root, '.trews.d', 'runs', '20260101T000000000Z-deadbeef.json');
      await writeFile(file, '{"traceEvents": [');
      const r = await runTrews(['graph', '--runs', '--output=t.html'], { cwd: repo.root, env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^error: ${file.replace(/[.]/g, '\\.')} is no run trews recorded: not JSON: `));
      assert.doesNotMatch(r.stderr, /\bat \w+ \(/, 'no stack trace');
    });
  });

  it('keeps a description that closes the script element inside the page data (the </script> attack)', async () => {
    await withRepo(REPO, async (repo, env) => {
      await mkdir(join(repo.root, '.trews.d', 'runs'), { recursive: true });
      const evil = 'Run x </script><script>document.title="owned"</script><!--';
      const trace = {
        traceEvents: [{ name: evil, cat: 'process,ran locally', ph: 'X', ts: 0, dur: 5, pid: 1, tid: 1, args: { description: evil, source: 'ran locally', argv: ['</script>'] } }],
        otherData: { format: 'trews-trace/1', startedAt: '2026-01-01T00:00:00.000Z', argv: ['test', '::'], runId: 'deadbeef' },
      };
      await writeFile(join(repo.root, '.trews.d', 'runs', '20260101T000000000Z-deadbeef.json'), JSON.stringify(trace));
      const r = await runTrews(['graph', '--runs', '--output=t.html'], { cwd: repo.root, env });
      assert.equal(r.code, 0, r.stderr);
      const html = readFileSync(join(repo.root, 't.html'), 'utf8');
      assert.equal(html.match(/<\/script/gi)?.length, 2, 'only the two elements of the page close');
      assert.doesNotMatch(html, /<!--/);
      assert.equal(timelineOf(html).run.bars[0]!.description, evil);
    });
  });
});

describe('run history through the daemon', () => {
  const daemons = new DaemonJanitor();
  after(async () => {
    await daemons.stopAll();
  });

  it('keeps a run whose results the graph held (memoized), and serves its timeline: nothing re-ran', async () => {
    await withRepo(REPO, async (repo, env) => {
      const first = await daemons.run(repo.root, ['test', '::'], { env });
      assert.equal(first.code, 0, first.stderr);
      const second = await daemons.run(repo.root, ['test', '::'], { env });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /memoized/);
      assert.equal(runs(repo.root).length, 2);

      const s = spawnTrews(['graph', '--runs'], { cwd: repo.root, env, daemon: true });
      try {
        await waitUntil(() => /http:\/\/127\.0\.0\.1:\d+\/\n/.test(s.output().stdout) || s.child.exitCode !== null, 'the timeline URL');
        const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(s.output().stdout)?.[0];
        assert.ok(url, s.output().stderr);
        const body = await new Promise<string>((res, rej) => {
          get(`${url}graph.json`, (r) => {
            let b = '';
            r.setEncoding('utf8').on('data', (d: string) => (b += d));
            r.on('end', () => res(b));
          }).on('error', rej);
        });
        const t = JSON.parse(body) as TimelineJson;
        // A memoized result is named by the goal; its action digest is the one the first run executed.
        assert.deepEqual(t.run.bars.map((b) => [b.description, b.source]), [['test //:t', 'memoized']]);
        assert.equal(t.run.bars[0]!.actionDigest, t.previous?.bars[0]!.actionDigest);
        assert.deepEqual(t.previous?.bars.map((b) => b.source), ['ran locally']);
      } finally {
        s.child.kill('SIGINT');
        await s.result;
      }
    });
  });
});
