// The run timeline in a real browser: two real runs of a small repository are
// recorded in .trews.d/runs, `trews graph --runs` writes their pages, and
// Debian's headless chromium (test/helpers/chromium.ts) draws them: the bars
// and the lanes of the first run (two tests that wait for each other, so they
// must have run side by side), a real hover, and against the first run what
// the second re-ran and why. In CI (CI=true) a missing chromium is a failure.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { assignLanes, parseTrace } from '../src/graph-page/index.js';
import { chromiumOrSkip, HeadlessPage, makeRepo, runTrews, spawnTrews, waitUntil, type TempRepo } from './helpers/index.js';

/** Writes `mine`, then waits (bounded) for `other`: neither finishes unless both run at once. */
function meetCommand(dir: string, mine: string, other: string): string {
  return `: > ${dir}/${mine}; i=0; while [ ! -e ${dir}/${other} ] && [ $i -lt 3000000 ]; do i=$((i+1)); done; [ -s in.txt ] && [ -e ${dir}/${other} ]`;
}

describe('the run timeline in headless chromium', () => {
  let repo: TempRepo;
  let page: HeadlessPage | undefined;
  const env = (): Record<string, string> => ({ XDG_CACHE_HOME: join(repo.root, '.cache') });
  before(async () => {
    repo = await makeRepo({});
    const meet = join(repo.root, 'meet');
    await repo.write('meet/.keep', '');
    for (const [name, other] of [['a', 'b'], ['b', 'a']] as const) {
      await repo.write(`${name}/in.txt`, `${name}\n`);
      await repo.write(`${name}/BUILD`, `files(name="in", sources=["in.txt"])\ntest_shell_command(name="t", command=${JSON.stringify(meetCommand(meet, name, other))}, execution_dependencies=[":in"])\n`);
    }
  });
  after(async () => {
    await page?.close();
    await repo.cleanup();
  });

  it('draws a bar per process in a lane per slot, shows a hovered bar, and says what re-ran since the run before and why', async (t) => {
    const chromium = chromiumOrSkip(t);
    if (chromium === undefined) return;
    const first = await runTrews(['test', '::', '--process-execution-local-parallelism=2'], { cwd: repo.root, env: env() });
    assert.equal(first.code, 0, first.stderr);
    await repo.write('a/in.txt', 'a, edited\n');
    const second = await runTrews(['test', '::', '--process-execution-local-parallelism=2'], { cwd: repo.root, env: env() });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /1 ran locally, 1 from the local cache/);
    const runs = readdirSync(join(repo.root, '.trews.d', 'runs')).sort();
    assert.equal(runs.length, 2);
    const firstId = /-([0-9a-f]{8})\.json$/.exec(runs[0]!)![1]!;
    const recorded = parseTrace(firstId, readFileSync(join(repo.root, '.trews.d', 'runs', runs[0]!), 'utf8'));
    assert.equal(recorded.bars.length, 2);
    assert.equal(assignLanes(recorded.bars).count, 2, 'the two tests waited for each other: they ran side by side');

    const r = await runTrews(['graph', '--runs', `--run=${firstId}`, '--output=first.html'], { cwd: repo.root, env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`wrote first\\.html \\(run ${firstId}: 2 processes\\)`));
    page = await HeadlessPage.launch(chromium);
    await page.goto(pathToFileURL(join(repo.root, 'first.html')).href);
    await page.waitFor("document.getElementById('status')?.dataset.bars !== undefined", 'the timeline to draw');
    const status = await page.evaluate<Record<string, string>>("({ ...document.getElementById('status').dataset })");
    // Neither consumed the other's outputs: the critical path is the one that finished last, alone.
    assert.deepEqual(status, { bars: '2', lanes: '2', run: firstId, critical: '1' });
    assert.equal(await page.evaluate<number>("document.querySelectorAll('#timeline rect.bar.critical').length"), 1);
    assert.equal(await page.evaluate<number>("document.querySelectorAll('#timeline rect.bar').length"), 2);
    assert.deepEqual(await page.evaluate<string[]>("[...document.querySelectorAll('#timeline rect.bar')].map((r) => r.dataset.source)"), ['ran locally', 'ran locally']);
    const totals = await page.evaluate<string[][]>("[...document.querySelectorAll('#totals tr[data-source]')].map((r) => [...r.children].map((c) => c.textContent))");
    assert.equal(totals.length, 1);
    assert.deepEqual(totals[0]!.slice(0, 2), ['ran locally', '2']);
    assert.match(totals[0]![2]!, /^\d+(\.\d)? m?s$/);
    assert.equal(await page.evaluate<number>("document.querySelectorAll('#compare').length"), 0, 'the oldest run has none before it');

    // A real mouse over the first bar shows its argv and digests.
    const at = await page.evaluate<{ x: number; y: number }>("(() => { const b = document.querySelector('#timeline rect.bar').getBoundingClientRect(); return { x: b.left + 2, y: b.top + b.height / 2 }; })()");
    await page.click(at.x, at.y);
    await page.waitFor("document.getElementById('details').textContent.includes('inputs: ')", 'the hover to show the details');
    const details = await page.evaluate<string>("document.getElementById('details').textContent");
    assert.match(details, /^Run test_shell_command [ab]:t\nran locally · /);
    assert.match(details, /argv: .*meet/);
    assert.match(details, /inputs: [0-9a-f]{64}\/\d+/);

    // The latest run, against the one before it: a re-ran because its inputs differ; b came from the cache.
    const latest = await runTrews(['graph', '--runs', '--output=latest.html'], { cwd: repo.root, env: env() });
    assert.equal(latest.code, 0, latest.stderr);
    await page.goto(pathToFileURL(join(repo.root, 'latest.html')).href);
    await page.waitFor("document.getElementById('status')?.dataset.bars === '2'", 'the latest timeline to draw');
    const rows = await page.evaluate<string[][]>("[...document.querySelectorAll('#compare tr[data-reason]')].map((tr) => [tr.children[0].textContent, tr.dataset.reason])");
    assert.deepEqual(rows, [
      ['Run test_shell_command a:t', 'inputs differ'],
      ['Run test_shell_command b:t', 'unchanged'],
    ]);
    assert.deepEqual(await page.evaluate<string[]>("[...document.querySelectorAll('#timeline rect.bar')].map((r) => r.dataset.source).sort()"), ['local cache', 'ran locally']);
    // The run before, drawn below to the same time scale: both ran then.
    assert.deepEqual(await page.evaluate<string[]>("[...document.querySelectorAll('#timeline-previous rect.bar')].map((r) => r.dataset.source)"), ['ran locally', 'ran locally']);
    assert.equal(await page.evaluate<string>("document.getElementById('timeline-previous').getAttribute('width')"), await page.evaluate<string>("document.getElementById('timeline').getAttribute('width')"));
    // The file behind "inputs differ", read from the two input trees in the store.
    assert.deepEqual(await page.evaluate<string[]>("[...document.querySelectorAll('#compare tr[data-reason=\"inputs differ\"] .files li')].map((li) => li.textContent)"), ['changed: a/in.txt']);

    const png = await page.screenshot();
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
    await writeFile(join(repo.root, 'timeline.png'), png);

    // Served, the page links the other runs: following the link shows the first run.
    const served = spawnTrews(['graph', '--runs'], { cwd: repo.root, env: env() });
    try {
      await waitUntil(() => /http:\/\/127\.0\.0\.1:\d+\/\n/.test(served.output().stdout) || served.child.exitCode !== null, 'the timeline URL');
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(served.output().stdout)?.[0];
      assert.ok(url, served.output().stderr);
      await page.goto(url);
      await page.waitFor("document.getElementById('status')?.dataset.bars === '2'", 'the served timeline to draw');
      const links = await page.evaluate<string[]>("[...document.querySelectorAll('#runs a')].map((a) => a.getAttribute('href'))");
      assert.deepEqual(links, [`?run=${firstId}`]);
      await page.evaluate("document.querySelector('#runs a').click()");
      await page.waitFor(`document.getElementById('status')?.dataset.run === ${JSON.stringify(firstId)}`, 'the page of the first run');
    } finally {
      served.child.kill('SIGINT');
      await served.result;
    }
  });
});
