// Affected tests after one edit, trews per test file against Turborepo's
// `--affected`, on the generated repo of js-affected/generate-affected-repo.ts
// (N packages, 5 sources and 2 tests each), in one run, interleaved:
//   node dist/bench/js-affected-bench.js [--packages 200] [--runs 3] [--edit 3] [--out DIR] [--reuse] [--markdown FILE]
// Both start warm (every build and test of the committed repo cached, by an
// untimed full run each). Each round edits the body of c() in packages/p<edit>
// (a new value per round, so neither tool has it cached; the declarations stay
// the same) and times `turbo run test --affected` and `trews test ::` (its
// daemon warm). Every timed run is checked: each tool's test processes that
// really ran, by its own report — trews' must be exactly the test files whose
// imports reach c.ts (p<edit>'s index.test.ts), Turborepo's the packages
// downstream of p<edit> (what a package-level runner reruns). Builds that
// ran are counted too: trews' must be p<edit>'s alone (declaration inputs
// cut the rest off), Turborepo's that of each package downstream (p<edit> included).
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from './bench-args.js';
import { CheckFailed, integerFlag, markdownTable, median, runBench, type Invocation, type Outcome, type Scenario, type Tool } from './peers/bench-runner.js';
import { baseEnv, sh, THIS_TREWS_ROOT, turboAvailable, turboEnv } from './peers/peer-tools.js';
import { downstreamOf } from './ts-peers/generate-ts-repo.js';
import { C_BODY, defaultAffectedRepoDir, existingAffectedRepo, generateAffectedRepo, packageDir, type AffectedRepo } from './js-affected/generate-affected-repo.js';

interface Commands {
  readonly full: Invocation;
  readonly affected: Invocation;
  /** Test processes that really ran (not from a cache), by the tool's own report. */
  testsRan(o: Outcome): number;
  /** Build processes that really ran, by the tool's own report. */
  buildsRan(o: Outcome): number;
  stop(): void;
}

function turboTool(repo: AffectedRepo): Tool<Commands> {
  // --affected compares with this base: the commit the repo was generated as, so the only change is the edit.
  const env = { ...turboEnv(), TURBO_SCM_BASE: 'HEAD' };
  const bin = join(repo.root, 'node_modules', '.bin', 'turbo');
  const inv = (...args: string[]): Invocation => ({ argv: [bin, ...args], cwd: repo.root, env });
  return {
    name: 'Turborepo --affected',
    available: () => turboAvailable(repo, bin),
    commands: {
      full: inv('run', 'test'),
      affected: inv('run', 'test', '--affected'),
      // `@tsb/p5:test: cache miss, executing 0123abcd`
      testsRan: (o) => [...(o.stdout + o.stderr).matchAll(/^@tsb\/p\d+:test: cache miss, executing/gm)].length,
      buildsRan: (o) => [...(o.stdout + o.stderr).matchAll(/^@tsb\/p\d+:build: cache miss, executing/gm)].length,
      stop: () => void sh([bin, 'daemon', 'stop'], repo.root, env),
    },
  };
}

function trewsTool(repo: AffectedRepo): Tool<Commands> {
  const env = baseEnv();
  const bin = join(THIS_TREWS_ROOT, 'bin', 'trews');
  const inv = (...args: string[]): Invocation => ({ argv: [bin, ...args], cwd: repo.root, env });
  return {
    name: 'trews (daemon)',
    available() {
      const head = sh(['git', '-C', THIS_TREWS_ROOT, 'log', '-1', '--format=%h'], THIS_TREWS_ROOT, env);
      return { ok: true, version: `trews at ${head.out.trim()}, through its daemon` };
    },
    commands: {
      full: inv('test', '::'),
      affected: inv('test', '::'),
      // `✓ packages/p5/src/index.test.ts:../p5 succeeded in 0.31s (ran locally): 1 case`
      testsRan: (o) => [...(o.stdout + o.stderr).matchAll(/^[✓✕] \S+\.test\.ts:\S+ \S+ in [0-9.]+s \(ran locally\)/gm)].length,
      // The summary counts every process (builds and tests): `Processes: 2 ran locally, 35 from the local cache`.
      buildsRan: (o) => Number(/Processes: (\d+) ran locally/.exec(o.stdout + o.stderr)?.[1] ?? 0) - [...(o.stdout + o.stderr).matchAll(/^[✓✕] \S+\.test\.ts:\S+ \S+ in [0-9.]+s \(ran locally\)/gm)].length,
      stop: () => void sh([bin, 'daemon', 'stop'], repo.root, env),
    },
  };
}

async function main(): Promise<void> {
  const { values } = benchArgs(import.meta.url, {
    options: {
      packages: { type: 'string', default: '200' },
      runs: { type: 'string', default: '3' },
      edit: { type: 'string', default: '3' },
      out: { type: 'string' },
      reuse: { type: 'boolean', default: false },
      markdown: { type: 'string' },
    },
  });
  const packages = integerFlag('js-affected-bench', 'packages', values.packages, 8);
  const runs = integerFlag('js-affected-bench', 'runs', values.runs);
  const edited = integerFlag('js-affected-bench', 'edit', values.edit, 0);
  const dir = values.out ?? defaultAffectedRepoDir(packages);
  const log = (line: string): void => console.log(line);
  const repo = (values.reuse ? existingAffectedRepo(dir, packages) : undefined) ?? generateAffectedRepo(dir, packages);
  const file = join(repo.root, packageDir(edited), 'src', 'c.ts');
  const original = readFileSync(file, 'utf8');
  const downstream = downstreamOf(edited, packages).length;
  const tools = [turboTool(repo), trewsTool(repo)];
  // Warm: the committed repo built and tested by each, untimed.
  writeFileSync(file, original);
  for (const t of tools) {
    if (!t.available().ok) continue;
    const r = sh(t.commands.full.argv, t.commands.full.cwd, { ...t.commands.full.env });
    if (r.status !== 0) throw new Error(`${t.name}: ${t.commands.full.argv.join(' ')} failed: ${r.out.trim().split('\n').slice(-10).join('\n')}`);
    log(`${t.name}: warm (${t.commands.full.argv.slice(1).join(' ')})`);
  }
  const ran = new Map<string, number[]>();
  const builds = new Map<string, number[]>();
  let round = 0;
  const scenario: Scenario<Commands> = {
    name: `edit c() of ${packageDir(edited)}, run the affected tests`,
    warmup: 0,
    checks: `trews reruns exactly 1 test process (p${edited}'s index.test.ts) and 1 build (p${edited}'s); Turborepo reruns the test of each of the ${downstream} packages downstream`,
    prepare(tool) {
      // A new body per round (each tool sees it once), the same for both tools in a round.
      if (tool === tools[0]) round++;
      writeFileSync(file, original.replace(C_BODY, `${C_BODY.slice(0, -1)} + ${round} - ${round};`));
    },
    command: (tool) => tool.commands.affected,
    check(tool, o) {
      const n = tool.commands.testsRan(o);
      const want = tool === tools[0] ? downstream : 1;
      if (n !== want) throw new CheckFailed(`expected ${want} test processes to run, ${n} did`);
      const b = tool.commands.buildsRan(o);
      const wantBuilds = tool === tools[0] ? downstream : 1;
      if (b !== wantBuilds) throw new CheckFailed(`expected ${wantBuilds} builds to run, ${b} did`);
      ran.set(tool.name, [...(ran.get(tool.name) ?? []), n]);
      builds.set(tool.name, [...(builds.get(tool.name) ?? []), b]);
      return `${n} test processes and ${b} builds ran`;
    },
    finish: () => writeFileSync(file, original),
  };
  try {
    const results = await runBench({ tools, scenarios: [scenario], runs, warmup: 0, log });
    const table = markdownTable(results, tools[0]!.name);
    const load = results.scenarios[0]!.load;
    const counts = [...ran].map(([name, xs]) => `${name}: ${median(xs)} test processes and ${median(builds.get(name) ?? [])} builds rerun`).join('; ');
    const text = [
      `js-affected-bench: ${packages} packages × (5 sources + 2 tests), edit of ${packageDir(edited)}/src/c.ts; ${runs} interleaved runs, medians; load ${load[0].toFixed(1)}–${load[1].toFixed(1)}`,
      `package-level count (packages downstream of p${edited}): ${downstream}; ${counts}`,
      '',
      table,
    ].join('\n');
    log(`\n${text}`);
    if (values.markdown !== undefined) appendFileSync(values.markdown, `${text}\n`);
  } finally {
    writeFileSync(file, original);
    for (const t of tools) t.commands.stop();
  }
}

await main();
