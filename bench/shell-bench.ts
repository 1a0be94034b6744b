// Measures `trews test ::` on the generated 200-package shell repo:
//   node dist/bench/shell-bench.js [--packages 200 --runs 5 --cold-runs 3 --overhead-runs 40 --out DIR]
// 1. cold: the CLI (no daemon) with an empty local store;
// 2. fully cached: the CLI again, every process from the local cache;
// 3. incremental: one leaf source file edited (packages/p190/src/a.txt), so
//    only p190..p199 (the build steps downstream of it, and their tests) run;
// 4. the same two through the daemon (thin client, warm engine, watcher);
// 5. the same two in-process with the engine kept between runs (the
//    daemon's work without the client), after a first warm-up run;
// 6. per-process overhead: a package's `node build.js` through the local
//    sandbox runner, against the same argv spawned in a ready directory,
//    against `node build.js` itself.
// Prints medians; every CLI figure is a whole process (node start-up included).
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { benchArgs } from './bench-args.js';
import { allBackends, buildInputs, RuleContext } from '../src/backends/index.js';
import { prepareCommand } from '../src/backends/shell/sandboxed-command.js';
import { AppCache, fsRulesFrom } from '../src/cli/app.js';
import { buildRegistry, runCommand } from '../src/cli/runner.js';
import { nullLogger, type RunContext } from '../src/core/index.js';
import { createLocalRunner, EXEC_RUN, makeProcess } from '../src/exec/index.js';
import { localStoreDirOf, RunExec } from '../src/runtime/index.js';
import { allGoals } from '../src/goals/index.js';
import { parseCommandLine, resolveOptions, type Options } from '../src/options/index.js';
import { materializeTree } from '../src/store/index.js';
import { stringField } from '../src/targets/index.js';
import { generateShellRepo, packageDir } from './generate-shell-repo.js';
import { median } from './peers/bench-runner.js';


const { values } = benchArgs(import.meta.url, {
  options: {
    packages: { type: 'string', default: '200' },
    runs: { type: 'string', default: '5' },
    'cold-runs': { type: 'string', default: '3' },
    'overhead-runs': { type: 'string', default: '40' },
    out: { type: 'string', default: join(tmpdir(), 'trews-bench-shell') },
  },
});
const packages = Number(values.packages);
const runs = Number(values.runs);
const coldRuns = Number(values['cold-runs']);
const overheadRuns = Number(values['overhead-runs']);
const root = values.out!;
const scratch = `${root}.scratch`;
const store = join(scratch, 'store');
const tmp = join(scratch, 'tmp');
const trewsBin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'trews');
const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TREWS_')) env[k] = v;
Object.assign(env, { TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: store, TMPDIR: tmp, TREWS_DYNAMIC_UI: 'false' });

generateShellRepo(root, packages);
rmSync(scratch, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
const leaf = join(packageDir(Math.max(0, packages - 10)), 'src', 'a.txt');
const leafOriginal = readFileSync(join(root, leaf), 'utf8');

interface Timed {
  readonly ms: number;
  readonly summary: string;
}

function summaryOf(stderr: string): string {
  return stderr.split('\n').find((l) => /^\d+ process/.test(l)) ?? '(no summary)';
}

/** `trews test ::` as a whole process (in-process, unless `runEnv` lets it use the daemon). */
function cli(runEnv: Record<string, string> = env): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(trewsBin, ['test', '::'], { cwd: root, env: runEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) reject(new Error(`trews test :: exited ${code}:\n${stderr}`));
      else resolve({ ms, summary: summaryOf(stderr) });
    });
  });
}

/** Appends a line never written before, so every edit really reruns what depends on the file (no cache can answer). */
const editTag = Date.now().toString(36);
let edits = 0;
function editLeaf(): void {
  appendFileSync(join(root, leaf), `edit ${editTag} ${edits++}\n`);
}

const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const out: string[] = [];
const say = (line: string): void => {
  out.push(line);
  console.log(line);
};

say(`repo: ${packages} packages, ${2 * packages} processes (${root}); leaf edited: ${leaf}`);

// 1. Cold.
const cold: Timed[] = [];
for (let r = 0; r < coldRuns; r++) {
  rmSync(store, { recursive: true, force: true });
  rmSync(join(root, '.trews.d'), { recursive: true, force: true });
  cold.push(await cli());
}
say(`cold         trews test ::   median ${fmt(median(cold.map((c) => c.ms)))}  (${cold.map((c) => fmt(c.ms)).join(', ')}; ${cold[0]?.summary})`);

// 2. Fully cached.
const cached: Timed[] = [];
for (let r = 0; r < runs; r++) cached.push(await cli());
say(`cached       trews test ::   median ${fmt(median(cached.map((c) => c.ms)))}  (${cached.map((c) => fmt(c.ms)).join(', ')}; ${cached[0]?.summary})`);

// 3. Incremental.
const incremental: Timed[] = [];
for (let r = 0; r < runs; r++) {
  editLeaf();
  incremental.push(await cli());
}
writeFileSync(join(root, leaf), leafOriginal);
await cli();
say(`incremental  trews test ::   median ${fmt(median(incremental.map((c) => c.ms)))}  (${incremental.map((c) => fmt(c.ms)).join(', ')}; ${incremental[0]?.summary})`);

// 4. Through the daemon (the thin client, a warm engine, the watcher).
const daemonEnv: Record<string, string> = { ...env, TREWS_DAEMON: 'true' };
try {
  await cli(daemonEnv); // starts the daemon and fills its engine
  const viaDaemon: Timed[] = [];
  for (let r = 0; r < runs; r++) viaDaemon.push(await cli(daemonEnv));
  say(`daemon       trews test ::   cached       median ${fmt(median(viaDaemon.map((c) => c.ms)))}  (${viaDaemon.map((c) => fmt(c.ms)).join(', ')}; ${viaDaemon[0]?.summary})`);
  const daemonIncremental: Timed[] = [];
  for (let r = 0; r < runs; r++) {
    editLeaf();
    daemonIncremental.push(await cli(daemonEnv));
  }
  writeFileSync(join(root, leaf), leafOriginal);
  say(`daemon       trews test ::   incremental  median ${fmt(median(daemonIncremental.map((c) => c.ms)))}  (${daemonIncremental.map((c) => fmt(c.ms)).join(', ')}; ${daemonIncremental[0]?.summary})`);
} finally {
  spawnSync(trewsBin, ['daemon', 'stop'], { cwd: root, env: daemonEnv, stdio: 'ignore' });
}

// 5. In-process, engine kept (what the daemon does, without the client and socket).
const apps = new AppCache();
function runContext(): { ctx: RunContext; stderr: () => string } {
  const stderr = new PassThrough();
  let text = '';
  stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
  const stdout = new PassThrough();
  stdout.resume();
  const ctx: RunContext = {
    argv: ['test', '::'],
    env,
    cwd: root,
    stdin: Readable.from([]),
    stdout,
    stderr,
    isTTY: { stdin: false, stdout: false, stderr: false },
    terminalWidth: 80,
    terminalHeight: 24,
    signal: new AbortController().signal,
  };
  return { ctx, stderr: () => text };
}
async function inProcess(): Promise<Timed> {
  const { ctx, stderr } = runContext();
  const t0 = performance.now();
  const code = await runCommand(ctx, { apps, logger: nullLogger });
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`in-process trews test :: exited ${code}:\n${stderr()}`);
  return { ms, summary: summaryOf(stderr()) };
}
function resolvedOptions(argv: readonly string[]): Options {
  const registry = buildRegistry(allGoals(), allBackends());
  const cl = parseCommandLine(argv, registry);
  if (!cl.ok) throw new Error(cl.failure.message);
  const r = resolveOptions({ registry, commandLine: cl.value, env, config: { path: 'trews.toml', text: readFileSync(join(root, 'trews.toml'), 'utf8') }, buildRoot: root, homeDir: env.HOME ?? tmpdir() });
  if (!r.ok) throw new Error(r.failure.message);
  return r.value;
}
const options = resolvedOptions(['test', '::']);
const app = apps.get(root, fsRulesFrom(options), localStoreDirOf(options, root, env, env.HOME ?? tmpdir()), allBackends(), nullLogger);
await inProcess(); // warm-up: fills the engine
const warm: Timed[] = [];
for (let r = 0; r < runs; r++) warm.push(await inProcess());
say(`in-process, engine kept: cached       median ${fmt(median(warm.map((c) => c.ms)))}  (${warm[0]?.summary})`);
const warmIncremental: Timed[] = [];
for (let r = 0; r < runs; r++) {
  editLeaf();
  app.engine.invalidatePaths([leaf]);
  warmIncremental.push(await inProcess());
}
writeFileSync(join(root, leaf), leafOriginal);
say(`in-process, engine kept: incremental  median ${fmt(median(warmIncremental.map((c) => c.ms)))}  (${warmIncremental[0]?.summary})`);

// 6. Per-process overhead, on package p<mid>'s build step.
const mid = Math.floor(packages / 2);
const { ctx } = runContext();
const services = app.execution(options, null);
const exec = new RunExec({ services: () => services, runId: 'overhead', logger: nullLogger, warn: () => undefined });
const run = app.engine.startRun({ signal: ctx.signal, inputs: buildInputs(options, env), slots: [EXEC_RUN.with(exec)] });
const rc = new RuleContext(run, app.renv, ctx.signal);
const target = await rc.target({ dir: packageDir(mid), name: 'build' });
const command = stringField(target, 'command')!;
const prepared = await prepareCommand(rc, target, {
  program: { kind: 'bash' },
  args: ['-c', command],
  extraInputs: [],
  outputFiles: [`out/p${mid}.txt`],
  outputDirectories: [],
  timeoutS: null,
  cacheScope: 'never',
});
const proc = makeProcess({ ...prepared.process, cacheScope: 'never' });
const bench = await mkdtemp(join(tmpdir(), 'trews-overhead-'));
const local = createLocalRunner({ store: services.store, sandboxRoot: join(bench, 'sandboxes') });
const ready = join(bench, 'ready');
await materializeTree(services.store, proc.inputRoot, ready, { mode: 'copy' });
const workdir = join(ready, proc.workingDirectory);
mkdirSync(join(workdir, 'out'), { recursive: true });
const nodePath = spawnSync('sh', ['-c', 'command -v node'], { env, encoding: 'utf8' }).stdout.trim();

function spawnWait(argv0: string, args: readonly string[], cwd: string, penv: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv0, [...args], { cwd, env: penv, stdio: 'ignore' });
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv0} exited ${code}`))));
  });
}
async function timeEach(f: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 3; i++) await f();
  const xs: number[] = [];
  for (let i = 0; i < overheadRuns; i++) {
    const t0 = performance.now();
    await f();
    xs.push(performance.now() - t0);
  }
  return xs;
}
const [, ...nodeArgs] = command.split(' ');
const direct = await timeEach(() => spawnWait(nodePath, nodeArgs, workdir, { PATH: dirname(nodePath) }));
const wrapped = await timeEach(() => spawnWait(join(workdir, proc.argv[0]!), proc.argv.slice(1), workdir, { ...proc.env }));
const sandboxed = await timeEach(async () => {
  const r = await local.run({ ...exec.context, signal: ctx.signal }, proc);
  if (r.exitCode !== 0) throw new Error(`sandboxed run exited ${r.exitCode}`);
});
await rm(bench, { recursive: true, force: true });
say(`per process (${overheadRuns} runs, package p${mid}'s build step):`);
say(`  node build.js, spawned directly              median ${median(direct).toFixed(1)} ms`);
say(`  the same through its tool shim and bash -c   median ${median(wrapped).toFixed(1)} ms  (+${(median(wrapped) - median(direct)).toFixed(1)} ms)`);
say(`  that process through the local sandbox runner median ${median(sandboxed).toFixed(1)} ms  (+${(median(sandboxed) - median(wrapped)).toFixed(1)} ms: sandbox, capture, cleanup)`);
run.end();
await services.store.close();
process.exit(0);
