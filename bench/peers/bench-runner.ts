// A small harness for benchmarks that compare build tools on one repo:
// tools × scenarios, each scenario's runs interleaved across tools
// (A B C D A B C D …) so drift in the machine's speed hits all alike, a
// warm-up, a prepare step before every run (untimed), a check after every
// timed run that the tool really did what the scenario says, and a markdown
// table of medians, min–max and each tool's ratio to a baseline tool.
// Nothing here knows a build tool; see peer-tools.ts and peer-scenarios.ts.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';

/** An integer command-line flag of at least `min`; anything else ends `program` with exit 2 and says why. */
export function integerFlag(program: string, name: string, text: string | undefined, min = 1): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) {
    console.error(`${program}: --${name} must be an integer of at least ${min}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return v;
}

/** One process to time: from spawn to exit, its output captured. */
export interface Invocation {
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

export interface Outcome {
  readonly ms: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Captured output with terminal escapes removed. */
  readonly stdout: string;
  readonly stderr: string;
}

export type Availability = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly why: string };

/** A tool under test: a name, whether it can run here, and whatever commands its scenarios need. */
export interface Tool<C> {
  readonly name: string;
  available(): Availability;
  readonly commands: C;
}

export interface RunInfo {
  /** 0-based, counting warm-up rounds. */
  readonly round: number;
  readonly warmup: boolean;
}

export interface Scenario<C> {
  readonly name: string;
  /** `s` (the command's wall time, the default) or the unit of `measure`. */
  readonly unit?: string;
  /** Timed runs per tool; the harness default when unset. */
  readonly runs?: number;
  /** Untimed, unchecked rounds first (each still interleaved); the harness default when unset. */
  readonly warmup?: number;
  /** What every run is checked for, in words, printed before the scenario starts. */
  readonly checks: string;
  /** Why the scenario does not apply to this tool; undefined when it does. */
  skip?(tool: Tool<C>): string | undefined;
  /** Before every run of this tool, untimed: reset caches, delete outputs, edit a file. */
  prepare?(tool: Tool<C>, run: RunInfo): void | Promise<void>;
  command(tool: Tool<C>): Invocation;
  /** After every timed run: throws when the tool did not do what the row says; returns what it verified. */
  check(tool: Tool<C>, outcome: Outcome): string | Promise<string>;
  /** For a row that is not a time: the figure, read after the command ran. */
  measure?(tool: Tool<C>, outcome: Outcome): number | Promise<number>;
  /** Once, after the last run of every tool: put back what prepare changed. */
  finish?(): void | Promise<void>;
}

export interface Cell {
  readonly values: number[];
  /** Set when the tool failed a run or a check; its figures are then left out. */
  failure?: string;
  /** Set when the scenario does not apply, or the tool is missing. */
  skipped?: string;
  /** The distinct things verified, in the order first seen. */
  readonly verified: string[];
}

export interface ScenarioResult {
  readonly name: string;
  readonly unit: string;
  readonly runs: number;
  readonly cells: ReadonlyMap<string, Cell>;
  /** 1-minute load average, lowest and highest seen over the scenario's runs. */
  readonly load: readonly [number, number];
}

export interface BenchResults {
  readonly tools: ReadonlyArray<{ readonly name: string; readonly availability: Availability }>;
  readonly scenarios: readonly ScenarioResult[];
}

export class CheckFailed extends Error {}

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07/g; // eslint-disable-line no-control-regex

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Runs one process to completion and times it, start to exit. */
export function timeInvocation(inv: Invocation): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const t0 = performance.now();
    const child = spawn(inv.argv[0]!, inv.argv.slice(1), { cwd: inv.cwd, env: inv.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      const ms = performance.now() - t0;
      resolve({ ms, exitCode, signal, stdout: stripAnsi(Buffer.concat(out).toString('utf8')), stderr: stripAnsi(Buffer.concat(err).toString('utf8')) });
    });
  });
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export interface BenchOptions<C> {
  readonly tools: ReadonlyArray<Tool<C>>;
  readonly scenarios: ReadonlyArray<Scenario<C>>;
  readonly runs: number;
  readonly warmup: number;
  readonly log: (line: string) => void;
}

export async function runBench<C>(opts: BenchOptions<C>): Promise<BenchResults> {
  const { log } = opts;
  const tools = opts.tools.map((tool) => ({ tool, availability: tool.available() }));
  for (const { tool, availability } of tools) log(availability.ok ? `tool ${tool.name}: ${availability.version}` : `tool ${tool.name}: skipped, ${availability.why}`);
  const present = tools.filter((t) => t.availability.ok).map((t) => t.tool);
  const scenarios: ScenarioResult[] = [];
  for (const scenario of opts.scenarios) {
    const unit = scenario.unit ?? 's';
    const runs = scenario.runs ?? opts.runs;
    const warmup = scenario.warmup ?? opts.warmup;
    const cells = new Map<string, Cell>();
    for (const { tool, availability } of tools) {
      cells.set(tool.name, { values: [], verified: [], ...(availability.ok ? {} : { skipped: 'not available' }) });
    }
    const active = present.filter((tool) => {
      const why = scenario.skip?.(tool);
      if (why !== undefined) cells.get(tool.name)!.skipped = why;
      return why === undefined;
    });
    log(`\n## ${scenario.name}: ${runs} runs${warmup ? ` after ${warmup} warm-up` : ''}, interleaved over ${active.map((t) => t.name).join(', ') || 'no tool'}`);
    log(`   checked after every timed run: ${scenario.checks}`);
    let loadMin = Infinity;
    let loadMax = -Infinity;
    for (let round = 0; round < warmup + runs; round++) {
      const info: RunInfo = { round, warmup: round < warmup };
      for (const tool of active) {
        const cell = cells.get(tool.name)!;
        if (cell.failure !== undefined) continue;
        const load = loadavg()[0]!;
        loadMin = Math.min(loadMin, load);
        loadMax = Math.max(loadMax, load);
        const label = `${scenario.name} | ${tool.name} | ${info.warmup ? `warm-up ${round + 1}` : `run ${round - warmup + 1}/${runs}`}`;
        try {
          await scenario.prepare?.(tool, info);
          const outcome = await timeInvocation(scenario.command(tool));
          if (outcome.exitCode !== 0) {
            throw new CheckFailed(`${scenario.command(tool).argv.join(' ')} exited ${outcome.exitCode ?? outcome.signal}:\n${tail(outcome.stdout + outcome.stderr, 15)}`);
          }
          if (info.warmup) {
            log(`${label}: ${(outcome.ms / 1000).toFixed(3)} s (not counted)`);
            continue;
          }
          const verified = await scenario.check(tool, outcome);
          if (!cell.verified.includes(verified)) cell.verified.push(verified);
          const value = scenario.measure ? await scenario.measure(tool, outcome) : outcome.ms / 1000;
          cell.values.push(value);
          log(`${label}: ${formatValue(value, unit)} ${unit}  [load ${load.toFixed(2)}] ok: ${verified}`);
        } catch (e) {
          cell.failure = (e as Error).message;
          log(`${label}: FAILED, no figure for this tool in this row: ${cell.failure}`);
        }
      }
    }
    try {
      await scenario.finish?.();
    } catch (e) {
      log(`${scenario.name}: could not clean up after the scenario: ${(e as Error).message}`);
    }
    scenarios.push({ name: scenario.name, unit, runs, cells, load: [loadMin === Infinity ? NaN : loadMin, loadMax] });
  }
  return { tools: tools.map(({ tool, availability }) => ({ name: tool.name, availability })), scenarios };
}

export function formatValue(v: number, unit: string): string {
  if (unit !== 's') return v.toFixed(0);
  if (v < 1) return v.toFixed(3);
  if (v < 10) return v.toFixed(2);
  if (v < 100) return v.toFixed(1);
  return v.toFixed(0);
}

/**
 * A markdown table, a row per scenario and a column per tool: the median,
 * min–max, and the ratio of the median to the baseline tool's (above 1:
 * slower, or more memory, than the baseline).
 */
export function markdownTable(results: BenchResults, baseline?: string): string {
  const names = results.tools.map((t) => t.name);
  const lines = [`| scenario | unit | runs | load (1 min) | ${names.join(' | ')} |`, `| --- | --- | --- | --- | ${names.map(() => '---').join(' | ')} |`];
  for (const s of results.scenarios) {
    const base = baseline === undefined ? undefined : s.cells.get(baseline);
    const baseMedian = base && base.values.length > 0 && base.failure === undefined ? median(base.values) : undefined;
    const cells = names.map((n) => {
      const c = s.cells.get(n)!;
      if (c.failure !== undefined) return 'failed (see log)';
      if (c.values.length === 0) return '—';
      const m = median(c.values);
      const range = c.values.length > 1 ? ` (${formatValue(Math.min(...c.values), s.unit)}–${formatValue(Math.max(...c.values), s.unit)})` : '';
      const ratio = baseMedian !== undefined && n !== baseline ? ` ${(m / baseMedian).toFixed(2)}×` : '';
      return `**${formatValue(m, s.unit)}**${range}${ratio}`;
    });
    const load = Number.isNaN(s.load[0]) ? '—' : `${s.load[0].toFixed(1)}–${s.load[1].toFixed(1)}`;
    lines.push(`| ${s.name} | ${s.unit} | ${s.runs} | ${load} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** What each tool was checked for in each row, and why a cell is empty. */
export function verificationNotes(results: BenchResults): string {
  const lines: string[] = [];
  for (const s of results.scenarios) {
    for (const [tool, c] of s.cells) {
      if (c.skipped !== undefined) lines.push(`- ${s.name}, ${tool}: — (${c.skipped})`);
      else if (c.failure !== undefined) lines.push(`- ${s.name}, ${tool}: FAILED: ${c.failure.split('\n')[0]}`);
      else for (const v of c.verified) lines.push(`- ${s.name}, ${tool}: ${v}`);
    }
  }
  return lines.join('\n');
}

/**
 * The entries of `table` a comma-separated command-line `list` names, in
 * its order; an id the table does not hold ends `program` with exit 2,
 * naming the known ones.
 */
export function pickByIds<T>(program: string, kind: string, list: string, table: Readonly<Record<string, T>>): T[] {
  const ids = list.split(',').filter(Boolean);
  const unknown = ids.find((id) => !(id in table));
  if (unknown !== undefined) {
    console.error(`${program}: unknown ${kind} ${JSON.stringify(unknown)}; known: ${Object.keys(table).join(', ')}`);
    process.exit(2);
  }
  return ids.map((id) => table[id]!);
}

export interface ReportOptions<C extends { stop(): void }> extends BenchOptions<C> {
  readonly packages: number;
  /** The tool every ratio is to. */
  readonly baseline: string;
  /** What the table's figures are, e.g. "Seconds (or MiB)". */
  readonly units: string;
  /** Also write the report here. */
  readonly markdown?: string;
}

/**
 * A whole comparison as the peers programs run it: the date, machine and
 * load first; the bench; every tool's daemons and servers stopped after it,
 * and on Ctrl-C (where no finally runs); then the report — when, where,
 * each tool's version or why it was skipped, the table against the
 * baseline, what was verified — printed and written to `markdown`.
 */
export async function runAndReport<C extends { stop(): void }>(o: ReportOptions<C>): Promise<void> {
  const { log, tools } = o;
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
  const cpu = cpus();
  const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const machine = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${osType()} ${release()}, Node ${process.version}, npm ${npm}`;
  const started = new Date();
  const startLoad = load();
  log(`date: ${started.toISOString()}`);
  log(`machine: ${machine}`);
  log(`load average at start: ${startLoad}`);
  const stopAll = (): void => {
    for (const t of tools) t.commands.stop();
  };
  process.once('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  let results: BenchResults;
  try {
    results = await runBench(o);
  } finally {
    stopAll();
  }
  const report = [
    `${o.packages} packages; ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC to ${new Date().toISOString().slice(11, 16)}; ${machine}; load average (1, 5, 15 min) ${startLoad} at the start, ${load()} at the end.`,
    '',
    ...results.tools.map((t) => `- ${t.name}: ${t.availability.ok ? t.availability.version : `skipped, ${t.availability.why}`}`),
    '',
    `${o.units}, **median** (min–max) and the ratio of the median to ${o.baseline}'s:`,
    '',
    markdownTable(results, o.baseline),
    '',
    'Verified after every timed run:',
    '',
    verificationNotes(results),
    '',
  ].join('\n');
  log(`\n${report}`);
  if (o.markdown !== undefined) writeFileSync(o.markdown, report);
}
