/**
 * The run timeline of `trews graph --runs`: the JSON the goal hands its page
 * (a recorded run, in the `--trace` format, reduced to what is drawn) and the
 * pure questions the page asks of it — lanes, totals per cache source, and
 * what changed against an earlier run. Tested in Node; bundled for the browser.
 */
import type { InputDiff } from './run-analysis.js';

/** Where a process's result came from, in the order the page lists them. */
export const SOURCES = ['ran locally', 'remote', 'remote cache', 'local cache', 'memoized', 'failed to run'] as const;

export const SOURCE_COLOURS: Readonly<Record<string, string>> = {
  'ran locally': '#e6550d',
  remote: '#756bb1',
  'remote cache': '#3182bd',
  'local cache': '#31a354',
  memoized: '#bdbdbd',
  'failed to run': '#d62728',
};

/** One process of a run. Times in microseconds since the run began. */
export interface TimelineBar {
  readonly description: string;
  readonly source: string;
  readonly start: number;
  readonly dur: number;
  readonly argv?: readonly string[];
  readonly actionDigest?: string;
  readonly inputRootDigest?: string;
  readonly exitCode?: number;
  readonly outputBytes?: Readonly<Record<string, number>>;
  /** The Directory of its outputs (traces written before it was recorded have none). */
  readonly outputRootDigest?: string;
  readonly error?: string;
}

export interface TimelinePhase {
  readonly name: string;
  readonly start: number;
  readonly dur: number;
}

export interface TimelineRun {
  /** `1a2b3c4d`, what `--run=` names. */
  readonly id: string;
  readonly startedAt: string;
  readonly argv: readonly string[];
  readonly bars: readonly TimelineBar[];
  readonly phases: readonly TimelinePhase[];
}

export interface TimelineJson {
  readonly version: 1;
  /** The build root's directory name. */
  readonly title: string;
  readonly run: TimelineRun;
  /** The run it is compared with (the one before it by default), when there is one. */
  readonly previous: TimelineRun | null;
  /** Every recorded run, newest first, so the page can say which others exist. */
  readonly runs: readonly { readonly id: string; readonly startedAt: string }[];
  /**
   * Per bar of `run`, the bars it waited for (it consumed their outputs:
   * run-analysis.ts `consumedOutputs`), as far as the store still holds the
   * trees; absent in a page written before these were computed.
   */
  readonly waitedFor?: readonly (readonly number[])[];
  /** Bars of `run` on its critical path, first to last. */
  readonly critical?: readonly number[];
  /** For each process whose inputs differ from the earlier run's, by description: the files that differ. */
  readonly inputDiffs?: Readonly<Record<string, InputDiff>>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * A trace file (`--trace`, or one of `.trews.d/runs`) as a run; anything that
 * is not the trews trace format is an Error saying so (the goal turns it into
 * a user-facing failure naming the file).
 */
export function parseTrace(id: string, text: string): TimelineRun {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${(e as Error).message}`);
  }
  const obj = data as { traceEvents?: unknown; otherData?: Record<string, unknown> } | null;
  if (obj === null || typeof obj !== 'object' || !Array.isArray(obj.traceEvents)) throw new Error('not a trews trace (no traceEvents)');
  const other = obj.otherData ?? {};
  if (other['format'] !== 'trews-trace/1') throw new Error(`not a trews trace (format ${JSON.stringify(other['format'] ?? null)})`);
  const bars: TimelineBar[] = [];
  const phases: TimelinePhase[] = [];
  for (const raw of obj.traceEvents as unknown[]) {
    if (raw === null || typeof raw !== 'object') continue;
    const e = raw as Record<string, unknown>;
    const cat = str(e['cat']) ?? '';
    const start = num(e['ts']);
    const dur = num(e['dur']) ?? 0;
    if (e['ph'] !== 'X' || start === undefined) continue;
    if (cat === 'phase') {
      phases.push({ name: str(e['name']) ?? '', start, dur });
      continue;
    }
    if (!cat.startsWith('process')) continue;
    const a = (e['args'] ?? {}) as Record<string, unknown>;
    const argv = Array.isArray(a['argv']) ? (a['argv'] as unknown[]).map(String) : undefined;
    const outputBytes = a['output_bytes'] !== null && typeof a['output_bytes'] === 'object' ? (a['output_bytes'] as Record<string, number>) : undefined;
    const opt = {
      ...(argv !== undefined ? { argv } : {}),
      ...(str(a['action_digest']) !== undefined ? { actionDigest: str(a['action_digest'])! } : {}),
      ...(str(a['input_root_digest']) !== undefined ? { inputRootDigest: str(a['input_root_digest'])! } : {}),
      ...(num(a['exit_code']) !== undefined ? { exitCode: num(a['exit_code'])! } : {}),
      ...(outputBytes !== undefined ? { outputBytes } : {}),
      ...(str(a['output_root_digest']) !== undefined ? { outputRootDigest: str(a['output_root_digest'])! } : {}),
      ...(str(a['error']) !== undefined ? { error: str(a['error'])! } : {}),
    };
    bars.push({ description: str(a['description']) ?? str(e['name']) ?? '', source: str(a['source']) ?? cat.slice('process,'.length), start, dur: Math.max(0, dur), ...opt });
  }
  bars.sort((x, y) => x.start - y.start || x.description.localeCompare(y.description));
  return {
    id: str(other['runId']) ?? id,
    startedAt: str(other['startedAt']) ?? '',
    argv: Array.isArray(other['argv']) ? (other['argv'] as unknown[]).map(String) : [],
    bars,
    phases,
  };
}

/**
 * Lanes for the bars that took a slot: each, in order of start, takes the
 * lowest lane free when it starts (as the recorder does), so the number of
 * lanes is the run's greatest parallelism. Memoized results took no slot
 * (the daemon's graph held them): they get lane -1, a row of their own.
 * Returns one lane per bar (same order) and the number of lanes.
 */
export function assignLanes(bars: readonly Pick<TimelineBar, 'start' | 'dur' | 'source'>[]): { lanes: number[]; count: number } {
  const order = bars.map((_, i) => i).sort((x, y) => bars[x]!.start - bars[y]!.start || x - y);
  const freeAt: number[] = [];
  const lanes = new Array<number>(bars.length).fill(-1);
  for (const i of order) {
    const b = bars[i]!;
    if (b.source === 'memoized') continue;
    let lane = freeAt.findIndex((t) => t <= b.start);
    if (lane < 0) lane = freeAt.push(0) - 1;
    freeAt[lane] = b.start + b.dur;
    lanes[i] = lane;
  }
  return { lanes, count: freeAt.length };
}

export interface SourceTotal {
  readonly source: string;
  readonly count: number;
  /** Microseconds of wall time the bars of this source took. */
  readonly time: number;
}

/** Count and time per cache source, in the order of SOURCES (unknown sources after, by name); sources with no bar are left out. */
export function totalsBySource(bars: readonly Pick<TimelineBar, 'dur' | 'source'>[]): SourceTotal[] {
  const totals = new Map<string, { count: number; time: number }>();
  for (const b of bars) {
    const t = totals.get(b.source) ?? { count: 0, time: 0 };
    t.count++;
    t.time += b.dur;
    totals.set(b.source, t);
  }
  const rank = (s: string): number => {
    const i = (SOURCES as readonly string[]).indexOf(s);
    return i < 0 ? SOURCES.length : i;
  };
  return [...totals.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)).map(([source, t]) => ({ source, ...t }));
}

/** The sources that mean the process was executed in this run (no cache held its result). */
export function executed(source: string): boolean {
  return source === 'ran locally' || source === 'remote';
}

export type ChangeReason =
  /** No process with this description in the earlier run. */
  | 'new'
  /** Same action digest as before: the cache did not hold it (not written, evicted, or caching off), or it failed then. */
  | 'same action'
  /** The input root (files) differs. */
  | 'inputs differ'
  /** Same input files, different action: the command, its environment, platform or timeout differ. */
  | 'command differs'
  /** The trace holds no digests to tell. */
  | 'unknown';

export interface RunChange {
  readonly description: string;
  /** In the later run; undefined when the process is gone. */
  readonly now?: string;
  /** In the earlier run; undefined when new. */
  readonly before?: string;
  readonly reason: ChangeReason | 'gone' | 'unchanged';
  /** The differing digests, for the page's hover. */
  readonly inputRootNow?: string;
  readonly inputRootBefore?: string;
}

/**
 * What changed from `before` to `now`, per process description (the
 * description names the target: `Run test_shell_command app:test`), or
 * by action digest for a memoized result the goal named otherwise: every
 * process that was executed in `now` gets the reason the recorded digests
 * give for it missing the cache; processes served from a cache are
 * `unchanged`; those only in `before` are `gone`. Executed ones come first.
 */
export function compareRuns(before: Pick<TimelineRun, 'bars'>, now: Pick<TimelineRun, 'bars'>): RunChange[] {
  const byDescription = new Map<string, TimelineBar>();
  const byAction = new Map<string, TimelineBar>();
  for (const b of before.bars) {
    byDescription.set(b.description, b);
    if (b.actionDigest !== undefined) byAction.set(b.actionDigest, b);
  }
  const seen = new Set<string>();
  const paired = new Set<TimelineBar>();
  const changes: RunChange[] = [];
  for (const b of now.bars) {
    if (seen.has(b.description)) continue;
    seen.add(b.description);
    // A memoized result is named by the goal (`test app:t`), not by its process: the action digest pairs it.
    const e = byDescription.get(b.description) ?? (b.actionDigest !== undefined ? byAction.get(b.actionDigest) : undefined);
    if (e !== undefined) paired.add(e);
    const digests = {
      ...(b.inputRootDigest !== undefined ? { inputRootNow: b.inputRootDigest } : {}),
      ...(e?.inputRootDigest !== undefined ? { inputRootBefore: e.inputRootDigest } : {}),
    };
    const base = { description: b.description, now: b.source, ...(e !== undefined ? { before: e.source } : {}), ...digests };
    if (!executed(b.source) && b.source !== 'failed to run') {
      changes.push({ ...base, reason: 'unchanged' });
      continue;
    }
    changes.push({ ...base, reason: missReason(e, b) });
  }
  for (const e of before.bars) {
    if (paired.has(e) || seen.has(e.description)) continue;
    seen.add(e.description);
    changes.push({ description: e.description, before: e.source, reason: 'gone' });
  }
  const rank = (c: RunChange): number => (c.reason === 'unchanged' ? 2 : c.reason === 'gone' ? 1 : 0);
  return changes.sort((x, y) => rank(x) - rank(y) || x.description.localeCompare(y.description));
}

function missReason(before: TimelineBar | undefined, now: TimelineBar): ChangeReason {
  if (before === undefined) return 'new';
  if (now.actionDigest !== undefined && now.actionDigest === before.actionDigest) return 'same action';
  if (now.inputRootDigest !== undefined && before.inputRootDigest !== undefined) {
    if (now.inputRootDigest !== before.inputRootDigest) return 'inputs differ';
    if (now.actionDigest !== undefined && before.actionDigest !== undefined) return 'command differs';
  }
  return 'unknown';
}

/** The sentence the page shows for a reason. */
export const REASON_TEXT: Readonly<Record<RunChange['reason'], string>> = {
  new: 'new: no such process in the earlier run',
  'same action': 'the same action as before: the cache did not hold it (not written, evicted, caching off, or it failed then)',
  'inputs differ': 'its input files differ (another input root digest)',
  'command differs': 'same input files; its command, environment or platform differ (another action digest)',
  unknown: 'the trace holds no digests to tell',
  gone: 'not run in this run',
  unchanged: 'served from a cache',
};

/** `1.2 s`, `35 ms`, `0 ms` from microseconds. */
export function formatMicros(us: number): string {
  if (us >= 60_000_000) return `${Math.floor(us / 60_000_000)} min ${Math.round((us % 60_000_000) / 1_000_000)} s`;
  if (us >= 1_000_000) return `${(us / 1_000_000).toFixed(1)} s`;
  return `${Math.round(us / 1000)} ms`;
}
