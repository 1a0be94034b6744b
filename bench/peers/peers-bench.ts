// Times trews against Bazel, Turborepo and Nx on one generated repo:
//   node dist/bench/peers/peers-bench.js [--packages 200] [--runs 5] [--cold-runs 3] [--warmup 1]
//       [--tools bazel,turbo,nx,trews,trews-no-daemon] [--scenarios query,cached,test,restored,edit,cold,rss]
//       [--out bench/out/peers-<N>] [--reuse] [--markdown FILE] [--trews-base DIR]
// --trews-base DIR adds the tool trews-base-no-daemon: another
// built trews checkout (e.g. the commit before a change), timed in the same rounds.
// Every scenario's runs are interleaved across the tools; a tool that is not
// here (bazel not on PATH, npm could not install turbo or nx) is skipped and
// said so. Prints each run as it goes, then a markdown table: median,
// min–max and ratio to trews through its daemon, and what was verified.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cpus, loadavg, totalmem, type as osType, release } from 'node:os';
import { parseArgs } from 'node:util';
import { integerFlag, markdownTable, runBench, verificationNotes } from './bench-runner.js';
import { defaultRepoDir, existingPeersRepo, generatePeersRepo, type PeersRepo } from './generate-peers-repo.js';
import { peerScenarios } from './peer-scenarios.js';
import { peerTools } from './peer-tools.js';

const DEFAULT_TOOLS = 'bazel,turbo,nx,trews,trews-no-daemon';
const DEFAULT_SCENARIOS = 'query,cached,test,restored,edit,cold,rss';
const BASELINE = 'trews (daemon)';

const { values } = parseArgs({
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
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

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

const all = peerTools(repo, values['trews-base'] !== undefined ? { trewsBase: resolve(values['trews-base']) } : {});
const toolIds = values.tools.split(',').filter(Boolean);
const unknownTool = toolIds.find((id) => !(id in all));
const scenarioTable = peerScenarios(repo, { coldRuns });
const scenarioIds = values.scenarios.split(',').filter(Boolean);
const unknownScenario = scenarioIds.find((id) => !(id in scenarioTable));
if (unknownTool !== undefined || unknownScenario !== undefined) {
  console.error(
    unknownTool !== undefined
      ? `peers-bench: unknown tool ${JSON.stringify(unknownTool)}; known: ${Object.keys(all).join(', ')}`
      : `peers-bench: unknown scenario ${JSON.stringify(unknownScenario)}; known: ${Object.keys(scenarioTable).join(', ')}`,
  );
  process.exit(2);
}
const tools = toolIds.map((id) => all[id]!);

const cpu = cpus();
const machine = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${osType()} ${release()}, Node ${process.version}, npm ${spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim()}`;
const started = new Date();
const startLoad = load();
log(`date: ${started.toISOString()}`);
log(`machine: ${machine}`);
log(`load average at start: ${startLoad}`);

// Interrupted, leave no daemon or Bazel server behind (the finally below does not run on a signal).
process.once('SIGINT', () => {
  for (const t of tools) t.commands.stop();
  process.exit(130);
});
let results;
try {
  results = await runBench({ tools, scenarios: scenarioIds.map((id) => scenarioTable[id]!), runs, warmup, log });
} finally {
  for (const t of tools) t.commands.stop();
}

const report = [
  `${packages} packages; ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC to ${new Date().toISOString().slice(11, 16)}; ${machine}; load average (1, 5, 15 min) ${startLoad} at the start, ${load()} at the end.`,
  '',
  ...results.tools.map((t) => `- ${t.name}: ${t.availability.ok ? t.availability.version : `skipped, ${t.availability.why}`}`),
  '',
  `Seconds (or MiB), **median** (min–max) and the ratio of the median to ${BASELINE}'s:`,
  '',
  markdownTable(results, BASELINE),
  '',
  'Verified after every timed run:',
  '',
  verificationNotes(results),
  '',
].join('\n');
log(`\n${report}`);
if (values.markdown !== undefined) writeFileSync(values.markdown, report);
