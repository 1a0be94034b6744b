// The graph page in a real browser: Debian's chromium, headless, driven over
// the DevTools protocol, loads the page written for a generated 500-target
// repository; the test counts what is drawn, clicks a target and checks the
// path highlighted, narrows with the depth control and the focus, and saves a
// screenshot in the test's temp dir. In CI (CI=true) a missing chromium is a
// failure, not a skip.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { GraphJson } from '../src/graph-page/index.js';
import { chromiumOrSkip, graphOf, HeadlessPage, makeRepo, runTrews, spawnTrews, waitUntil, type TempRepo } from './helpers/index.js';

const DIRS = 20;
const PER_DIR = 25;

/** 20 directories of 25 targets: each depends on the one before it in its directory; each directory's first on the last of the previous directory. */
function generatedRepo(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let d = 0; d < DIRS; d++) {
    const lines: string[] = [];
    for (let t = 0; t < PER_DIR; t++) {
      const deps = t > 0 ? [`:t${t - 1}`] : d > 0 ? [`p${d - 1}:t${PER_DIR - 1}`] : [];
      lines.push(`target(name="t${t}", dependencies=${JSON.stringify(deps)})`);
    }
    files[`p${d}/BUILD`] = `${lines.join('\n')}\n`;
  }
  return files;
}

/** Everything `address` depends on within `depth` steps, walked here apart from the page's own code. */
function dependenciesOf(g: GraphJson, address: string, depth = Infinity): string[] {
  const index = new Map(g.nodes.map((n, i) => [n.address, i]));
  const seen = new Set<number>();
  let frontier = [index.get(address)!];
  for (let d = 0; d < depth && frontier.length > 0; d++) {
    frontier = g.edges.filter((e) => frontier.includes(e.from) && !seen.has(e.to)).map((e) => e.to);
    for (const n of frontier) seen.add(n);
  }
  return [...seen].map((i) => g.nodes[i]!.address).sort();
}

describe('the graph page in headless chromium', () => {
  let repo: TempRepo;
  let page: HeadlessPage | undefined;
  before(async () => {
    repo = await makeRepo(generatedRepo());
  });
  after(async () => {
    await page?.close();
    await repo.cleanup();
  });

  it('draws 500 targets, highlights the path of a clicked one, and focuses on the paths between two', async (t) => {
    const chromium = chromiumOrSkip(t);
    if (chromium === undefined) return;
    const r = await runTrews(['graph', '--output=graph.html'], { cwd: repo.root });
    assert.equal(r.code, 0, r.stderr);
    const file = join(repo.root, 'graph.html');
    const g = graphOf(await readFile(file, 'utf8'));
    assert.equal(g.nodes.length, DIRS * PER_DIR);

    page = await HeadlessPage.launch(chromium);
    await page.goto(pathToFileURL(file).href);
    await page.waitFor("window.trewsGraph && document.getElementById('status').dataset.drawnTargets", 'the page to draw');
    const status = await page.evaluate<Record<string, string>>("({ ...document.getElementById('status').dataset })");
    assert.equal(status.targets, '500');
    assert.equal(status.drawnTargets, '500', 'below the cluster limit every target is drawn');
    assert.equal(await page.evaluate<number>('window.trewsGraph.cy.nodes().length'), 500);
    assert.equal(await page.evaluate<number>('window.trewsGraph.cy.edges().length'), g.edges.length);

    // A real click on p3:t5, zoomed in on it first as a user would.
    const target = 'p3:t5';
    const id = `n${g.nodes.findIndex((n) => n.address === target)}`;
    const at = await page.evaluate<{ x: number; y: number }>(`(() => {
      const cy = window.trewsGraph.cy;
      const n = cy.getElementById(${JSON.stringify(id)});
      cy.zoom(1.5);
      cy.center(n);
      const p = n.renderedPosition();
      const box = document.getElementById('cy').getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y };
    })()`);
    await page.click(at.x, at.y);
    await page.waitFor(`document.getElementById('selected')?.textContent === ${JSON.stringify(target)}`, 'the click to select the target');
    const listed = await page.evaluate<string[]>("[...document.querySelectorAll('#dependencies li')].map((li) => li.dataset.address).sort()");
    const expected = dependenciesOf(g, target);
    assert.equal(expected.length, 5 + 3 * PER_DIR);
    assert.deepEqual(listed, expected);
    // The path down to p0:t0 is drawn highlighted: every node on it, and the edges between them.
    const path = await page.evaluate<{ nodes: number; edges: number; faded: number }>(`(() => {
      const cy = window.trewsGraph.cy;
      return { nodes: cy.nodes('.dependency').length, edges: cy.edges('.dependency').length, faded: cy.nodes('.faded').length };
    })()`);
    assert.deepEqual(path, { nodes: expected.length, edges: expected.length, faded: 500 - 1 - expected.length - dependentsCount(g, target) });
    assert.equal(await page.evaluate<boolean>(`window.trewsGraph.cy.getElementById(${JSON.stringify(id)}).hasClass('selected')`), true);

    // The depth control narrows the highlight to direct dependencies.
    await page.evaluate("(() => { const d = document.getElementById('depth'); d.value = '1'; d.dispatchEvent(new Event('input')); })()");
    assert.deepEqual(await page.evaluate<string[]>("[...document.querySelectorAll('#dependencies li')].map((li) => li.dataset.address)"), ['p3:t4']);

    // Focus: only the targets on paths from p5:t0 to p4:t20.
    await page.evaluate(`(() => {
      document.getElementById('focus-from').value = 'p5:t0';
      document.getElementById('focus-to').value = 'p4:t20';
      document.getElementById('focus').click();
    })()`);
    await page.waitFor("document.getElementById('status').dataset.drawnTargets === '6'", 'the focus to draw the path (p5:t0, p4:t24 … p4:t20)');

    const png = await page.screenshot();
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
    await writeFile(join(repo.root, 'graph.png'), png);
  });
});

describe('a served graph page in headless chromium', () => {
  it('loads the new graph by itself when a BUILD file changes', async (t) => {
    const chromium = chromiumOrSkip(t);
    if (chromium === undefined) return;
    const repo = await makeRepo({ 'a/BUILD': 'target(name="one")\n' });
    const served = spawnTrews(['graph'], { cwd: repo.root });
    let page: HeadlessPage | undefined;
    try {
      await waitUntil(() => /http:\/\/127\.0\.0\.1:\d+\/\n/.test(served.output().stdout) || served.child.exitCode !== null, 'the graph URL');
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(served.output().stdout)?.[0];
      assert.ok(url, served.output().stderr);
      page = await HeadlessPage.launch(chromium);
      await page.goto(url);
      await page.waitFor("document.getElementById('status')?.dataset.targets === '1'", 'the page to draw one target');
      await repo.write('a/BUILD', 'target(name="one")\ntarget(name="two", dependencies=[":one"])\n');
      await page.waitFor("document.getElementById('status')?.dataset.targets === '2'", 'the page to load the graph with the new target');
      assert.equal(await page.evaluate<string>("document.querySelector('meta[name=\"trews-graph-version\"]').content"), '2');
    } finally {
      await page?.close();
      served.child.kill('SIGINT');
      await served.result;
      await repo.cleanup();
    }
  });
});

function dependentsCount(g: GraphJson, address: string): number {
  const index = new Map(g.nodes.map((n, i) => [n.address, i]));
  const seen = new Set<number>();
  let frontier = [index.get(address)!];
  while (frontier.length > 0) {
    frontier = g.edges.filter((e) => frontier.includes(e.to) && !seen.has(e.from)).map((e) => e.from);
    for (const n of frontier) seen.add(n);
  }
  return seen.size;
}
