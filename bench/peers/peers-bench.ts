// Times trews against Bazel, Turborepo and Nx on one generated repo:
//   node dist/bench/peers/peers-bench.js [--packages 200] [--runs 5] [--cold-runs 3] [--warmup 1]
//       [--tools bazel,turbo,nx,trews,trews-no-daemon] [--scenarios query,query-cold,cached,test,restored,edit,cold,rss,rss-settled]
//       [--out bench/out/peers-<N>] [--reuse] [--markdown FILE] [--trews-base DIR]
// --trews-base DIR adds the tool trews-base-no-daemon: another
// built trews checkout (e.g. the commit before a change), timed in the same rounds.
// Every scenario's runs are interleaved across the tools; a tool that is not
// here (bazel not on PATH, npm could not install turbo or nx) is skipped and
// said so. Prints each run as it goes, then a markdown table: median,
// min–max and ratio to trews through its daemon, and what was verified.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { benchArgs } from '../bench-args.js';
import { integerFlag, pickByIds, runAndReport } from './bench-runner.js';
import { defaultRepoDir, existingPeersRepo, generatePeersRepo, type PeersRepo } from './generate-peers-repo.js';
import { peerScenarios } from './peer-scenarios.js';
import { peerTools } from './peer-tools.js';

const DEFAULT_TOOLS = 'bazel,turbo,nx,trews,trews-no-daemon';
const DEFAULT_SCENARIOS = 'query,query-cold,cached,test,restored,edit,cold,rss,rss-settled';
const BASELINE = 'trews (daemon)';

const { values } = benchArgs(import.meta.url, {
  options: {
    packages: { type: 'string', default: '200' },
    runs: { type: 'string', default: '5' },
    'cold-runs': { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    tools: { type: 'string', default: DEFAULT_TOOLS },
    scenarios: { type: 'string', default: DEFAULT_SCENARIOS },
    out: { type: 'string' },
    reuse: { type: 'boolean', default: false },
    markdown: { type: 'string' },
    'trews-base': { type: 'string' },
  },
});

const positive = (name: string, text: string | undefined, min = 1): number => integerFlag('peers-bench', name, text, min);
const packages = positive('packages', values.packages);
const runs = positive('runs', values.runs);
const coldRuns = positive('cold-runs', values['cold-runs']);
const warmup = positive('warmup', values.warmup, 0);
const out = values.out ?? defaultRepoDir(packages);

const log = (line: string): void => console.log(line);

// The repo: reused only when asked and generated with the same settings.
let repo: PeersRepo | undefined = values.reuse ? existingPeersRepo(out, packages) : undefined;
if (repo !== undefined) {
  log(`repo: reusing ${repo.root} (${packages} packages)`);
} else {
  // Daemons of an earlier run in that directory would outlive it.
  if (existsSync(out)) for (const t of Object.values(peerTools({ root: out, packages }))) t.commands.stop();
  const t0 = performance.now();
  try {
    repo = generatePeersRepo(out, packages);
  } catch (e) {
    log(`repo: npm could not install turbo and nx (${(e as Error).message.split('\n')[0]}); generating without them, Turborepo and Nx will be skipped`);
    repo = generatePeersRepo(out, packages, { install: false });
  }
  log(`repo: generated ${repo.root} (${packages} packages) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const tools = pickByIds('peers-bench', 'tool', values.tools, peerTools(repo, values['trews-base'] !== undefined ? { trewsBase: resolve(values['trews-base']) } : {}));
const scenarios = pickByIds('peers-bench', 'scenario', values.scenarios, peerScenarios(repo, { coldRuns }));
await runAndReport({ packages, tools, scenarios, runs, warmup, log, baseline: BASELINE, units: 'Seconds (or MiB)', ...(values.markdown !== undefined ? { markdown: values.markdown } : {}) });
