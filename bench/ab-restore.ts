// Before/after for a change to trews without a daemon, each build of trews in
// its own copy of the same generated repo (the kept graph, .trews.d/graph, is
// fingerprinted per bundle: two builds sharing a repo throw each other's graph
// away, so `--trews-base` in one repo times both without their graphs), with
// Turborepo run in both copies so each trews sees the same churn between its
// runs as in the peers benches. Rounds interleave A-turbo, A-trews, B-turbo,
// B-trews-base:
//   node dist/bench/ab-restore.js --kind peers|ts --a DIR --b DIR --trews-base DIR
//       [--packages 200] [--runs 5] [--warmup 1] [--scenarios cached,restored,query] [--daemon]
// --daemon times trews through its daemon (one per copy, stopped at the end)
// instead of --no-daemon; `query` is the graph query (`trews list ::`, `turbo ls`).
// The repos come from generate-peers-repo.js / generate-ts-repo.js (same --packages).
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { benchArgs } from './bench-args.js';
import { integerFlag, median } from './peers/bench-runner.js';
import { existingPeersRepo } from './peers/generate-peers-repo.js';
import { peerTools, THIS_TREWS_ROOT } from './peers/peer-tools.js';
import { existingTsRepo } from './ts-peers/generate-ts-repo.js';
import { deleteOutputs as deleteTsOutputs, tsTools } from './ts-peers/ts-tools.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    kind: { type: 'string', default: 'peers' },
    a: { type: 'string' },
    b: { type: 'string' },
    'trews-base': { type: 'string' },
    packages: { type: 'string' },
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    scenarios: { type: 'string', default: 'cached,restored' },
    daemon: { type: 'boolean', default: false },
  },
});
if (values.a === undefined || values.b === undefined || values['trews-base'] === undefined) throw new Error('ab-restore: --a, --b and --trews-base are required');
const ts = values.kind === 'ts';
const packages = integerFlag('ab-restore', 'packages', values.packages ?? (ts ? '50' : '200'));
const runs = integerFlag('ab-restore', 'runs', values.runs);
const warmup = integerFlag('ab-restore', 'warmup', values.warmup, 0);
const base = resolve(values['trews-base']);

interface Side {
  readonly name: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly deleteOutputs: () => void;
  readonly query: { readonly argv: readonly string[]; readonly cwd: string; readonly env: NodeJS.ProcessEnv };
  readonly stop: () => void;
}

function sides(dir: string, trewsRoot: string, label: string): Side[] {
  const repoDir = resolve(dir);
  const missing = (): never => {
    throw new Error(`ab-restore: no generated ${ts ? 'TS' : 'peers'} repo of ${packages} packages in ${repoDir}`);
  };
  type Inv = { argv: readonly string[]; cwd: string; env: NodeJS.ProcessEnv };
  let turbo: { commands: { build: Inv; query?: Inv; stop?: () => void } };
  let trews: typeof turbo;
  let deleteTurbo: () => void;
  let deleteTrews: () => void;
  if (ts) {
    const repo = existingTsRepo(repoDir, packages) ?? missing();
    const tools = tsTools(repo);
    [turbo, trews] = [tools['turbo']!, tools[values.daemon ? 'trews' : 'trews-no-daemon']!];
    // Both write each package's dist/.
    deleteTurbo = deleteTrews = () => deleteTsOutputs(repo);
  } else {
    const repo = existingPeersRepo(repoDir, packages) ?? missing();
    const tools = peerTools(repo);
    const [t, w] = [tools['turbo']!, tools[values.daemon ? 'trews' : 'trews-no-daemon']!];
    [turbo, trews] = [t, w];
    deleteTurbo = () => t.commands.deleteOutputs();
    deleteTrews = () => w.commands.deleteOutputs();
  }
  // The same invocation, through the other checkout's launcher.
  const swap = (argv: readonly string[]): string[] => argv.map((a) => (a.startsWith(THIS_TREWS_ROOT) ? join(trewsRoot, a.slice(THIS_TREWS_ROOT.length)) : a));
  const query = (c: typeof turbo.commands): Inv => c.query ?? c.build;
  const noop = (): void => {};
  const stopTrews = (): void => {
    const stop = trews.commands.stop;
    if (stop === undefined) return;
    const argv = swap([join(THIS_TREWS_ROOT, 'bin', 'trews'), 'daemon', 'stop']);
    spawnSync(argv[0]!, argv.slice(1), { cwd: repoDir, stdio: 'ignore' });
  };
  return [
    { name: `Turborepo (${label})`, ...turbo.commands.build, deleteOutputs: deleteTurbo, query: query(turbo.commands), stop: turbo.commands.stop ?? noop },
    {
      name: `trews ${label}`,
      ...trews.commands.build,
      argv: swap(trews.commands.build.argv),
      deleteOutputs: deleteTrews,
      query: { ...query(trews.commands), argv: swap(query(trews.commands).argv) },
      stop: stopTrews,
    },
  ];
}

const all = [...sides(values.a, THIS_TREWS_ROOT, 'A (this checkout)'), ...sides(values.b, base, `B (${base})`)];
for (const scenario of values.scenarios.split(',')) {
  const times = new Map<string, number[]>(all.map((s) => [s.name, []]));
  for (let round = 0; round < warmup + runs; round++) {
    for (const s of all) {
      if (scenario === 'restored') s.deleteOutputs();
      const inv = scenario === 'query' ? s.query : s;
      const t0 = performance.now();
      const r = spawnSync(inv.argv[0]!, inv.argv.slice(1), { cwd: inv.cwd, env: inv.env, encoding: 'utf8' });
      const seconds = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`ab-restore: ${s.name} failed (${r.status}):\n${(r.stdout + r.stderr).split('\n').slice(-10).join('\n')}`);
      if (round >= warmup) times.get(s.name)!.push(seconds);
      console.log(`${scenario} round ${round}${round < warmup ? ' (warm-up)' : ''}: ${s.name} ${seconds.toFixed(3)} s`);
    }
  }
  console.log(`\n${scenario}: medians of ${runs}, seconds (min–max)`);
  const med = (n: string): number => median(times.get(n)!);
  for (const [i, s] of all.entries()) {
    const xs = times.get(s.name)!;
    const ratio = i % 2 === 1 ? ` ${(med(s.name) / med(all[i - 1]!.name)).toFixed(2)}× its Turborepo` : '';
    console.log(`| ${s.name} | ${med(s.name).toFixed(3)} (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})${ratio} |`);
  }
  console.log(`A/B trews: ${(med(all[1]!.name) / med(all[3]!.name)).toFixed(2)}×\n`);
}
for (const s of all) s.stop();
