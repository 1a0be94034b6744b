// A long-lived daemon's memory over alternating edits and runs (issue #11, "Memory"):
//   node dist/bench/graph-memory-bench.js [--packages 200 --cycles 200 --every 20 --idle-runs 0,30 --edit 199]
// For each value of daemon_graph_idle_runs (0: never evict), on a fresh copy of
// the generated shell repo with a fresh store: one cold `trews test ::` starts
// the daemon, then `cycles` times: rewrite package `edit`'s source (the last by
// default) with new content (its build step and test, and those of every
// package downstream, get new digests; the old process nodes lose their last
// dependent) and run `trews test ::` through the daemon. Prints the
// daemon's VmRSS and the graph's size (from the run's trace in .trews.d/runs)
// every `every` cycles, with where the resident memory is (smapsBreakdown), and
// with `--level debug` the daemon's own `memory:` line (process.memoryUsage()
// after its last run). Ends with the slope of RSS per cycle from the first
// sample on and the time per cycle. Environment variables (LD_PRELOAD,
// GLIBC_TUNABLES) reach the daemon through the client that starts it.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './bench-args.js';
import { generateShellRepo, packageDir } from './generate-shell-repo.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    packages: { type: 'string', default: '200' },
    cycles: { type: 'string', default: '200' },
    every: { type: 'string', default: '20' },
    'idle-runs': { type: 'string', default: '0,30' },
    edit: { type: 'string' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-graph-memory') },
    level: { type: 'string' },
    // Where the local store is: `inside` the repo (.store, created by the cold run, after the daemon started) or `outside` (beside it, as ~/.cache is).
    store: { type: 'string', default: 'inside' },
  },
});
const packages = Number(values.packages);
const cycles = Number(values.cycles);
const every = Number(values.every);
const trews = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trews');

if (values.store !== 'inside' && values.store !== 'outside') throw new Error(`--store must be inside or outside, not ${values.store}`);

function trewsRun(root: string, args: string[]): void {
  const store = values.store === 'inside' ? join(root, '.store') : `${root}.store`;
  const r = spawnSync(trews, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TREWS_LOCAL_STORE_DIR: store } });
  if (r.status !== 0) throw new Error(`trews ${args.join(' ')} exited ${r.status}: ${r.stderr?.toString()}`);
}

function daemonPid(root: string): string {
  return readFileSync(join(root, '.trews.d', 'daemon', 'pid'), 'utf8').trim();
}

function rssMiB(root: string): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemonPid(root)}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

const ARENA = 64 * 2 ** 20;

/**
 * The daemon's resident memory by kind of mapping, in MiB: `brk` (glibc's main
 * arena), `arenas` (glibc's other arenas: 64 MiB-aligned anonymous regions of
 * 64 MiB, read-write part and reserve), `anon` (every other anonymous mapping:
 * V8's heap pages and code, large malloc chunks mmapped on their own,
 * jemalloc's extents, thread stacks, [stack] and the like), `file` (the node
 * binary, libraries).
 */
function smapsBreakdown(root: string): string {
  const lines = readFileSync(`/proc/${daemonPid(root)}/smaps`, 'utf8').split('\n');
  const maps: { start: number; end: number; perm: string; path: string; rss: number }[] = [];
  for (const line of lines) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m !== null) maps.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), perm: m[3]!, path: m[4]!.trim(), rss: 0 });
    else if (line.startsWith('Rss:') && maps.length > 0) maps.at(-1)!.rss = Number(line.split(/\s+/)[1]);
  }
  const kib: Record<string, number> = { brk: 0, arenas: 0, anon: 0, file: 0 };
  maps.forEach((m, i) => {
    const next = maps[i + 1];
    const arena =
      m.path === '' &&
      m.start % ARENA === 0 &&
      m.perm.startsWith('rw') &&
      (m.end - m.start === ARENA || (next !== undefined && next.path === '' && next.perm === '---p' && next.start === m.end && next.end - m.start === ARENA));
    const kind = m.path === '[heap]' ? 'brk' : m.path.startsWith('/') ? 'file' : arena ? 'arenas' : 'anon';
    kib[kind]! += m.rss;
  });
  return Object.entries(kib)
    .map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}`)
    .join(', ');
}

/** The daemon's last `memory:` line (daemon.ts memoryLine, logged at debug level after each run). */
function memoryLine(root: string): string | undefined {
  const log = readFileSync(join(root, '.trews.d', 'daemon.log'), 'utf8');
  const at = log.lastIndexOf('memory: ');
  return at < 0 ? undefined : log.slice(at, log.indexOf('\n', at));
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
  writeFileSync(join(root, 'trews.toml'), `[GLOBAL]\ndaemon_graph_idle_runs = ${idle}\n${values.level === undefined ? '' : `level = "${values.level}"\n`}`);
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
        const own = memoryLine(root);
        console.log(`  cycle ${String(i).padStart(4)}: RSS ${rss.toFixed(1)} MiB (${smapsBreakdown(root)}); graph ${graphNodes(root)}${own === undefined ? '' : `; ${own}`}`);
      }
    }
    const perCycle = (performance.now() - c0) / cycles;
    const first = samples[0] ?? NaN;
    const last = samples.at(-1) ?? NaN;
    const slope = (last - first) / (cycles - every);
    console.log(
      `  ${cycles} cycles, ${perCycle.toFixed(0)} ms per cycle; RSS from cycle ${every} to ${cycles}: ${first.toFixed(1)} → ${last.toFixed(1)} MiB (${slope.toFixed(3)} MiB per cycle)`,
    );
  } finally {
    spawnSync(trews, ['daemon', 'stop'], { cwd: root, stdio: 'ignore' });
  }
}
