// Times trews (through its daemon and without) against Turborepo and Nx on a
// generated npm-workspaces TypeScript repo (generate-ts-repo.ts), in one run,
// each scenario's runs interleaved across the tools (../peers/bench-runner.ts):
//   node dist/bench/ts-peers/ts-peers-bench.js [--packages 50] [--runs 5] [--cold-runs 2] [--warmup 1]
//       [--tools turbo,nx,trews,trews-no-daemon,trews-no-worker] [--scenarios cold,cached,restored,edit,query]
//       [--out bench/out/ts-peers-<N>] [--reuse] [--markdown FILE] [--pause-ms 0]
// --pause-ms P waits P ms (untimed) before every timed run of every tool, as
// commands typed by hand are: a run through trews' daemon that follows the
// last file event by under 0.5 s (its previous run's sync cookie, when runs
// are back to back) pays @parcel/watcher's 50 ms debounce (daemon/README.md).
// Every timed run is checked: the build tasks that ran, by the tool's own
// report, and every package's dist/ present in the workspace (and, after an
// edit, holding the edit). Prints a markdown table: median, min–max and the
// ratio to Turborepo's median.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../bench-args.js';
import type { Outcome, Scenario } from '../peers/bench-runner.js';
import { CheckFailed, integerFlag, pickByIds, runAndReport } from '../peers/bench-runner.js';
import { defaultRepoDir, downstreamOf, existingTsRepo, generateTsRepo, packageDir, type TsRepo } from './generate-ts-repo.js';
import { deleteOutputs, tsTools, type TsCommands, type TsTool } from './ts-tools.js';

const BASELINE = 'Turborepo';

/** Every package's dist/index.js and index.d.ts present; the edited package's holds every edit its source has. */
function checkOutputs(repo: TsRepo, edited: number): string {
  const missing: string[] = [];
  for (let i = 0; i < repo.packages; i++) {
    for (const f of ['index.js', 'index.d.ts']) if (!existsSync(join(repo.root, packageDir(i), 'dist', f))) missing.push(`${packageDir(i)}/dist/${f}`);
  }
  if (missing.length > 0) throw new CheckFailed(`${missing.length} outputs missing (first: ${missing[0]})`);
  const src = readFileSync(join(repo.root, packageDir(edited), 'src', 'index.ts'), 'utf8');
  const js = readFileSync(join(repo.root, packageDir(edited), 'dist', 'index.js'), 'utf8');
  const stale = [...src.matchAll(/export const (edit_\w+)/g)].map((m) => m[1]!).filter((name) => !js.includes(name));
  if (stale.length > 0) throw new CheckFailed(`${packageDir(edited)}/dist/index.js lacks ${stale[0]}: stale`);
  return `all ${repo.packages} dist/ present, ${packageDir(edited)}'s current`;
}

function checkRan(tool: TsTool, o: Outcome, want: number): string {
  const t = tool.commands.tally(o);
  if (t.ran !== want) throw new CheckFailed(`expected ${want} build task${want === 1 ? '' : 's'} to run, the tool says ${t.ran} did: "${t.words}"`);
  return `${t.ran} ran ("${t.words}")`;
}

function scenarios(repo: TsRepo, coldRuns: number): Record<string, Scenario<TsCommands>> {
  const n = repo.packages;
  const edited = Math.max(0, n - 10);
  const editedFile = join(repo.root, packageDir(edited), 'src', 'index.ts');
  const downstream = downstreamOf(edited, n).length;
  let original: string | undefined;
  const tag = Date.now().toString(36);
  let edits = 0;
  return {
    cold: {
      name: `cold build (${n} tsc)`,
      runs: coldRuns,
      warmup: 0,
      checks: `the tool's caches and daemon cleared and every dist/ deleted before each run (trews: its store, so its npm ci too); all ${n} builds ran, all dist/ present`,
      prepare: (t) => t.commands.clearCaches(),
      command: (t) => t.commands.build,
      check: (t, o) => `${checkRan(t, o, n)}; ${checkOutputs(repo, edited)}`,
    },
    cached: {
      name: 'fully cached build',
      checks: `no build ran (the tool's own report), all ${n} dist/ present`,
      command: (t) => t.commands.build,
      check: (t, o) => `${checkRan(t, o, 0)}; ${checkOutputs(repo, edited)}`,
    },
    restored: {
      name: 'cached, every dist/ deleted (restore)',
      checks: `every packages/*/dist deleted before each run; no build ran, all ${n} dist/ present again`,
      prepare: () => deleteOutputs(repo),
      command: (t) => t.commands.build,
      check: (t, o) => `${checkRan(t, o, 0)}; ${checkOutputs(repo, edited)}`,
    },
    edit: {
      name: `one edit in ${packageDir(edited)} (${downstream} rebuilt)`,
      checks: `a new export appended to ${packageDir(edited)}/src/index.ts before each run; exactly the ${downstream} builds downstream of it ran, its dist/index.js has the export`,
      prepare() {
        original ??= readFileSync(editedFile, 'utf8');
        // A name never written before: no cache can answer it.
        appendFileSync(editedFile, `export const edit_${tag}_${edits++} = ${edits};\n`);
      },
      command: (t) => t.commands.build,
      check: (t, o) => `${checkRan(t, o, downstream)}; ${checkOutputs(repo, edited)}`,
      finish() {
        if (original !== undefined) writeFileSync(editedFile, original);
      },
    },
    query: {
      name: 'graph query',
      checks: `exit 0 and all ${n} packages listed`,
      command: (t) => t.commands.query,
      check(t, o) {
        const listed = t.commands.listed(o);
        if (listed !== n) throw new CheckFailed(`listed ${listed} of ${n} packages`);
        return `listed all ${n} packages`;
      },
    },
  };
}

const { values } = benchArgs(import.meta.url, {
  options: {
    packages: { type: 'string', default: '50' },
    runs: { type: 'string', default: '5' },
    'cold-runs': { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    tools: { type: 'string', default: 'turbo,nx,trews,trews-no-daemon' },
    scenarios: { type: 'string', default: 'cold,cached,restored,edit,query' },
    out: { type: 'string' },
    reuse: { type: 'boolean', default: false },
    markdown: { type: 'string' },
    'pause-ms': { type: 'string', default: '0' },
  },
});

const positive = (name: string, text: string | undefined, min = 1): number => integerFlag('ts-peers-bench', name, text, min);
const packages = positive('packages', values.packages);
const runs = positive('runs', values.runs);
const coldRuns = positive('cold-runs', values['cold-runs']);
const warmup = positive('warmup', values.warmup, 0);
const pauseMs = integerFlag('ts-peers-bench', 'pause-ms', values['pause-ms'], 0);
const out = values.out ?? defaultRepoDir(packages);
const log = (line: string): void => console.log(line);

let repo: TsRepo | undefined = values.reuse ? existingTsRepo(out, packages) : undefined;
if (repo !== undefined) {
  log(`repo: reusing ${repo.root} (${packages} packages)`);
} else {
  // Daemons of an earlier run in that directory would outlive it.
  if (existsSync(out)) for (const t of Object.values(tsTools({ root: out, packages }))) t.commands.stop();
  const t0 = performance.now();
  try {
    repo = generateTsRepo(out, packages);
  } catch (e) {
    // trews needs the lockfile and tsc, so without an install there is nothing to compare.
    console.error(`ts-peers-bench: npm install failed in the generated repo: ${(e as Error).message}`);
    process.exit(1);
  }
  log(`repo: generated ${repo.root} (${packages} packages, npm install) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const tools = pickByIds('ts-peers-bench', 'tool', values.tools, tsTools(repo));
const picked = pickByIds('ts-peers-bench', 'scenario', values.scenarios, scenarios(repo, coldRuns));
const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, pauseMs));
const chosen =
  pauseMs === 0
    ? picked
    : picked.map(
        (s): Scenario<TsCommands> => ({
          ...s,
          async prepare(tool, run) {
            await s.prepare?.(tool, run);
            await pause();
          },
        }),
      );
await runAndReport({ packages, tools, scenarios: chosen, runs, warmup, log, baseline: BASELINE, units: 'Seconds', ...(values.markdown !== undefined ? { markdown: values.markdown } : {}) });
