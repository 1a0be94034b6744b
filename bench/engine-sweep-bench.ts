// The engine's eviction sweep on a daemon-sized graph whose runs touch only its top
// (a daemon serving fully memoized runs: nearly everything idle, yet read by the top):
//   node dist/bench/engine-sweep-bench.js [--nodes 57000] [--runs 41] [--base DIR]
// Builds a graph of `nodes` keys (each reading up to 6 earlier ones), then times
// `startRun()` over `runs` runs of an engine that sweeps at every run start
// (evictAfterIdleRuns 8). `--base DIR` times another built checkout's engine
// the same way, alternating, e.g. the commit before a change to the sweep.
import { resolve } from 'node:path';
import { benchArgs } from './bench-args.js';
import { median } from './peers/bench-runner.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    nodes: { type: 'string', default: '57000' },
    runs: { type: 'string', default: '41' },
    base: { type: 'string' },
  },
});
const nodes = Number(values.nodes);
const runs = Number(values.runs);

interface MiniKey {
  readonly id: string;
  readonly ignoresSignal?: boolean;
  compute(ctx: { get(k: MiniKey): Promise<number> }): Promise<number>;
}
interface MiniEngine {
  startRun(): { get(k: MiniKey): Promise<number> };
  stats(): { nodes: number; evicted: number };
}

async function timeSweeps(label: string, createEngine: (o: { evictAfterIdleRuns: number }) => MiniEngine): Promise<void> {
  const engine = createEngine({ evictAfterIdleRuns: 8 });
  const keys: MiniKey[] = [];
  for (let i = 0; i < nodes; i++) {
    const deps: number[] = [];
    for (let j = 1; j <= 5 && i - j * 7 >= 0; j++) deps.push(i - j * 7);
    if (i > 0 && !deps.includes(i - 1)) deps.push(i - 1);
    keys.push({
      id: `k${i}`,
      ignoresSignal: true,
      async compute(ctx) {
        let s = 0;
        for (const d of deps) s += (await ctx.get(keys[d]!)) % 7;
        return s + 1;
      },
    });
  }
  const top: MiniKey = { id: 'top', compute: (ctx) => ctx.get(keys[nodes - 1]!) };
  await engine.startRun().get(top);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const run = engine.startRun();
    times.push(performance.now() - t0);
    await run.get(top);
  }
  // The first 8 runs touch everything (nothing idle yet); the rest sweep a graph that is all idle below the top.
  const idle = times.slice(8);
  console.log(`${label}: ${engine.stats().nodes} nodes, ${engine.stats().evicted} evicted; startRun with a sweep, median of ${idle.length}: ${median(idle).toFixed(1)} ms (min ${Math.min(...idle).toFixed(1)}, max ${Math.max(...idle).toFixed(1)})`);
}

const here = (await import('../src/engine/index.js')) as unknown as { createEngine: (o: { evictAfterIdleRuns: number }) => MiniEngine };
const base = values.base === undefined ? undefined : ((await import(resolve(values.base, 'dist', 'src', 'engine', 'index.js'))) as { createEngine: (o: { evictAfterIdleRuns: number }) => MiniEngine });
for (let round = 0; round < 2; round++) {
  await timeSweeps('this checkout', here.createEngine);
  if (base !== undefined) await timeSweeps(`base ${values.base}`, base.createEngine);
}
