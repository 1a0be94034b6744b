// Measures the engine on a generated repo, in-process (no process start-up):
//   node dist/bench/core-bench.js [--dirs 2000 --targets-per-dir 5 --deps 3 --runs 7]
// 1. cold: a fresh engine answers `list ::` (walk, parse, targets, generated targets);
// 2. warm: the same query again with nothing changed;
// 3. incremental: one BUILD file edited, its path invalidated, the query again.
// Prints the median of each over --runs runs.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs } from './bench-args.js';
import { allBackends } from '../src/backends/index.js';
import { createApp } from '../src/cli/app.js';
import { nullLogger } from '../src/core/index.js';
import { parseSpec, SpecsKey, type Spec } from '../src/targets/index.js';
import { dirOf, generateRepo } from './generate-repo.js';
import { median } from './peers/bench-runner.js';


const { values } = benchArgs(import.meta.url, {
  options: {
    dirs: { type: 'string', default: '2000' },
    'targets-per-dir': { type: 'string', default: '5' },
    deps: { type: 'string', default: '3' },
    runs: { type: 'string', default: '7' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-core') },
  },
});
const shape = { dirs: Number(values.dirs), targetsPerDir: Number(values['targets-per-dir']), deps: Number(values.deps) };
const runs = Number(values.runs);
const root = values.out!;
const gen = generateRepo(root, shape);
const rules = { buildPatterns: ['BUILD', 'BUILD.*'], ignorePatterns: ['.*/', '/dist/'], useGitignore: true };
const specs = [parseSpec('::', '') as Spec];

async function query(app: ReturnType<typeof createApp>): Promise<number> {
  const run = app.engine.startRun();
  const addrs = await run.get(new SpecsKey(app.project, specs));
  return addrs.map((t) => t.address).length;
}

const cold: number[] = [];
let count = 0;
for (let r = 0; r < runs; r++) {
  const app = createApp(root, rules, join(root, '.trews.d', 'bench-store'), allBackends(), nullLogger);
  const t0 = performance.now();
  count = await query(app);
  cold.push(performance.now() - t0);
}

const app = createApp(root, rules, join(root, '.trews.d', 'bench-store'), allBackends(), nullLogger);
await query(app);
const warm: number[] = [];
const incremental: number[] = [];
const edited = join(dirOf(Math.floor(shape.dirs / 2)), 'BUILD');
const original = readFileSync(join(root, edited), 'utf8');
for (let r = 0; r < runs; r++) {
  let t0 = performance.now();
  await query(app);
  warm.push(performance.now() - t0);
  // Alternate between adding a target and restoring the file, so every edit changes the answer.
  if (r % 2 === 0) appendFileSync(join(root, edited), `\ntarget(name="extra${r}")\n`);
  else writeFileSync(join(root, edited), original);
  app.engine.invalidatePaths([edited]);
  t0 = performance.now();
  await query(app);
  incremental.push(performance.now() - t0);
}
writeFileSync(join(root, edited), original);

const f = (x: number): string => `${x.toFixed(1)} ms`;
console.log(`repo: ${gen.buildFiles} BUILD files, ${gen.declaredTargets} declared targets, ${count} addresses listed (generated included)`);
console.log(`cold  list ::  median ${f(median(cold))}  (runs: ${cold.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`warm  list ::  median ${f(median(warm))}`);
console.log(`after editing ${edited}: median ${f(median(incremental))}  (runs: ${incremental.map((x) => x.toFixed(1)).join(', ')})`);
