// A long-lived daemon's memory over alternating edits and runs (issue #11, "Memory"):
//   node dist/bench/graph-memory-bench.js [--packages 200 --cycles 200 --every 20 --idle-runs 0,30 --edit 199]
// For each value of daemon_graph_idle_runs (0: never evict), on a fresh copy of
// the generated shell repo with a fresh store: one cold `trews test ::` starts
// the daemon, then `cycles` times: rewrite package `edit`'s source (the last by
// default) with new content (its build step and test, and those of every
// package downstream, get new digests; the old process nodes lose their last
// dependent) and run `trews test ::` through the daemon. Prints the
// daemon's VmRSS and the graph's size (from the run's trace in .trews.d/runs)
// every `every` cycles.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateShellRepo, packageDir } from './generate-shell-repo.js';

const { values } = parseArgs({
  options: {
    packages: { type: 'string', default: '200' },
    cycles: { type: 'string', default: '200' },
    every: { type: 'string', default: '20' },
    'idle-runs': { type: 'string', default: '0,30' },
    edit: { type: 'string' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-graph-memory') },
  },
});
const packages = Number(values.packages);
const cycles = Number(values.cycles);
const every = Number(values.every);
const trews = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trews');

function trewsRun(root: string, args: string[]): void {
  const r = spawnSync(trews, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TREWS_LOCAL_STORE_DIR: join(root, '.store') } });
  if (r.status !== 0) throw new Error(`trews ${args.join(' ')} exited ${r.status}: ${r.stderr?.toString()}`);
}

function rssMiB(root: string): number {
  const pid = readFileSync(join(root, '.trews.d', 'daemon', 'pid'), 'utf8').trim();
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

/** The graph's size after the latest run, from the trace run_history keeps (`engine` in its metadata). */
function graphNodes(root: string): string {
  const dir = join(root, '.trews.d', 'runs');
  const latest = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().at(-1);
  if (latest === undefined) return '-';
  const engine = /"engine":\{"nodes":(\d+)[^}]*"evicted":(\d+)/.exec(readFileSync(join(dir, latest), 'utf8'));
  return engine === null ? '-' : `${engine[1]} nodes`;
}

for (const idle of values['idle-runs']!.split(',').map(Number)) {
  const root = `${values.out}-${idle}`;
  generateShellRepo(root, packages);
  writeFileSync(join(root, 'trews.toml'), `[GLOBAL]\ndaemon_graph_idle_runs = ${idle}\n`);
  const source = join(root, packageDir(values.edit === undefined ? packages - 1 : Number(values.edit)), 'src', 'a.txt');
  const original = readFileSync(source, 'utf8');
  try {
    const t0 = performance.now();
    trewsRun(root, ['test', '::']);
    console.log(`daemon_graph_idle_runs=${idle}: cold run ${((performance.now() - t0) / 1000).toFixed(1)} s, RSS ${rssMiB(root).toFixed(0)} MiB`);
    const samples: number[] = [];
    const c0 = performance.now();
    for (let i = 1; i <= cycles; i++) {
      writeFileSync(source, `${original}edit ${i}\n`);
      trewsRun(root, ['test', '::']);
      if (i % every === 0) {
        const rss = rssMiB(root);
        samples.push(rss);
        console.log(`  cycle ${String(i).padStart(4)}: RSS ${rss.toFixed(0)} MiB; graph ${graphNodes(root)}`);
      }
    }
    const perCycle = (performance.now() - c0) / cycles;
    console.log(`  ${cycles} cycles, ${perCycle.toFixed(0)} ms per cycle; RSS from cycle ${every} to ${cycles}: ${samples[0]?.toFixed(0)} → ${samples.at(-1)?.toFixed(0)} MiB`);
  } finally {
    spawnSync(trews, ['daemon', 'stop'], { cwd: root, stdio: 'ignore' });
  }
}
