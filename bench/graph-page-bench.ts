// The graph page at scale: on a generated repo (bench/generate-repo.ts; by
// default 2,000 directories of 5 targets, ~14,000 targets with the files'
// own), times `trews --no-daemon graph --output` as a whole process, then
// loads the written page in headless chromium and reads what the page
// measured itself: when it first stood drawn (ms since navigation began),
// how long its first draw and layout took, and selecting one target.
//   node dist/bench/graph-page-bench.js [--dirs 2000 --targets-per-dir 5 --deps 3 --runs 5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchArgs } from './bench-args.js';
import { findChromium, HeadlessPage } from '../test/helpers/chromium.js';
import { generateRepo } from './generate-repo.js';
import { median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    dirs: { type: 'string', default: '2000' },
    'targets-per-dir': { type: 'string', default: '5' },
    deps: { type: 'string', default: '3' },
    runs: { type: 'string', default: '5' },
  },
});
const int = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`graph-page-bench: --${name} must be a positive integer, not ${JSON.stringify(values[name])}\n`);
    process.exit(2);
  }
  return n;
};
const shape = { dirs: int('dirs'), targetsPerDir: int('targets-per-dir'), deps: int('deps') };
const runs = int('runs');
const trews = fileURLToPath(new URL('../../bin/trews', import.meta.url));
const row = (name: string, xs: number[], unit: string): string => `| ${name} | ${median(xs).toFixed(0)} ${unit} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} |`;

const chromium = findChromium();
if (chromium === undefined) {
  process.stderr.write("graph-page-bench: no chromium on PATH (Debian's `chromium`)\n");
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'trews-graph-bench-'));
try {
  const repo = join(dir, 'repo');
  const made = generateRepo(repo, shape);
  const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') };
  const goal: number[] = [];
  const drawnAt: number[] = [];
  const firstDraw: number[] = [];
  const layout: number[] = [];
  const select: number[] = [];
  let targets = 0;
  const page = await HeadlessPage.launch(chromium);
  try {
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = spawnSync(trews, ['--no-daemon', 'graph', '--output=graph.html'], { cwd: repo, env, encoding: 'utf8' });
      goal.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`trews graph failed (${r.status}):\n${r.stderr}`);
      await page.goto(`${pathToFileURL(join(repo, 'graph.html')).href}?run=${i}`);
      await page.waitFor("document.getElementById('status')?.dataset.drawnAt !== undefined", 'the page to draw', 300_000);
      const d = await page.evaluate<Record<string, string>>("({ ...document.getElementById('status').dataset })");
      targets = Number(d['targets']);
      drawnAt.push(Number(d['drawnAt']));
      firstDraw.push(Number(d['drawMs']));
      layout.push(Number(d['layoutMs']));
      select.push(await page.evaluate<number>(`(() => { const t = performance.now(); trewsGraph.select('libs/group${Math.floor(shape.dirs / 200)}/pkg${Math.floor(shape.dirs / 2)}:t1'); return performance.now() - t; })()`));
    }
  } finally {
    await page.close();
  }
  process.stdout.write(`${made.buildFiles} BUILD files, ${targets} targets in the page, ${runs} runs, medians (min–max)\n\n`);
  process.stdout.write('| step | median | min–max |\n| --- | --- | --- |\n');
  process.stdout.write(
    `${[
      row('`trews --no-daemon graph --output` (whole process)', goal, 'ms'),
      row('page first drawn (since navigation began)', drawnAt, 'ms'),
      row('its first draw', firstDraw, 'ms'),
      row('of which layout (dagre)', layout, 'ms'),
      row('select one target (highlight)', select, 'ms'),
    ].join('\n')}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
