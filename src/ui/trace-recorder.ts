import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Records a run as a Chrome trace (the Trace Event Format, which Perfetto,
 * chrome://tracing and speedscope open), so a person can see where the time
 * went. The format is documented in README.md next to this file; a later
 * `trews graph --runs` page reads the same file.
 *
 * Lane 0 holds the engine's phases (options, the run's start, each goal,
 * target selection); each process gets the lowest lane free when it starts,
 * so lanes are the run's concurrent slots. Times are microseconds since the
 * recorder was made.
 */

/** A process as the trace keeps it; every field is plain JSON. */
export interface TracedProcess {
  /** `Run test_shell_command app:test`. */
  readonly description: string;
  readonly argv?: readonly string[];
  /** `hash/size` of the REAPI Action, the key of every cache layer. */
  readonly actionDigest?: string;
  readonly inputRootDigest?: string;
}

/** How a traced process ended. */
export interface TracedOutcome {
  /** `ran locally`, `local cache`, `remote cache`, `remote`, `memoized`; absent when it could not run. */
  readonly source?: string;
  readonly exitCode?: number;
  readonly timedOut?: boolean;
  /** How long the process itself ran when executed (for a cache hit: back then). */
  readonly executionMs?: number | null;
  readonly actionDigest?: string;
  /** Sizes in bytes of what it wrote: stdout, stderr, each output file, each output directory's Tree. */
  readonly outputBytes?: Readonly<Record<string, number>>;
  /** `hash/size` of the Directory holding its output files and directories, which the run timeline reads to find who consumed them. */
  readonly outputRootDigest?: string;
  /** Why it could not run. */
  readonly error?: string;
}

interface Event {
  readonly name: string;
  readonly cat: string;
  readonly ph: 'X' | 'M' | 'i';
  readonly ts: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly s?: 't';
  readonly args?: Record<string, unknown>;
}

interface Open {
  readonly lane: number;
  readonly start: number;
  readonly process: TracedProcess;
}

const PID = 1;
const PHASE_LANE = 0;

export interface TraceRecorderOptions {
  /** Milliseconds, monotonic. */
  readonly now?: () => number;
  /** When the run began, in `now()`'s milliseconds (the recorder may be made later, once options say to trace). */
  readonly origin?: number;
  /** Said in the file's metadata: `trews test ::`, the build root, the version. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** The wall-clock start (now by default). */
  readonly startedAt?: Date;
}

export class TraceRecorder {
  readonly #now: () => number;
  readonly #origin: number;
  readonly #startedAt: Date;
  readonly #metadata: Record<string, unknown>;
  readonly #events: Event[] = [];
  readonly #open = new Map<number, Open>();
  /** busy[i]: lane i + 1 holds a running process. */
  readonly #busy: boolean[] = [];
  #processes = 0;

  constructor(opts: TraceRecorderOptions = {}) {
    this.#now = opts.now ?? (() => performance.now());
    this.#origin = opts.origin ?? this.#now();
    this.#metadata = { ...opts.metadata };
    this.#startedAt = opts.startedAt ?? new Date();
  }

  /** How many processes it saw (started, or served memoized): a run with none has no timeline worth keeping. */
  get processCount(): number {
    return this.#processes;
  }

  /** When the recorder was made (the run's start, near enough), wall clock. */
  get startedAt(): Date {
    return this.#startedAt;
  }

  /** Adds to the file's metadata (`otherData`). */
  note(key: string, value: unknown): void {
    this.#metadata[key] = value;
  }

  /** Starts an engine phase on lane 0; call the result when it ends. */
  phase(name: string, args?: Record<string, unknown>): (more?: Record<string, unknown>) => void {
    const start = this.#us();
    let ended = false;
    return (more) => {
      if (ended) return;
      ended = true;
      this.#events.push({ name, cat: 'phase', ph: 'X', ts: start, dur: this.#us() - start, pid: PID, tid: PHASE_LANE, ...(args || more ? { args: { ...args, ...more } } : {}) });
    };
  }

  /** A phase that already ended, in `now()`'s milliseconds. */
  recordPhase(name: string, startMs: number, endMs: number, args?: Record<string, unknown>): void {
    const ts = Math.round((startMs - this.#origin) * 1000);
    this.#events.push({ name, cat: 'phase', ph: 'X', ts, dur: Math.round((endMs - startMs) * 1000), pid: PID, tid: PHASE_LANE, ...(args ? { args } : {}) });
  }

  /** Runs `f` as a phase. */
  async during<T>(name: string, f: () => Promise<T>): Promise<T> {
    const end = this.phase(name);
    try {
      return await f();
    } finally {
      end();
    }
  }

  processStarted(id: number, process: TracedProcess): void {
    this.#processes++;
    let lane = this.#busy.indexOf(false);
    if (lane < 0) lane = this.#busy.push(false) - 1;
    this.#busy[lane] = true;
    this.#open.set(id, { lane: lane + 1, start: this.#us(), process });
  }

  processFinished(id: number, outcome: TracedOutcome): void {
    const open = this.#open.get(id);
    if (open === undefined) return;
    this.#open.delete(id);
    this.#busy[open.lane - 1] = false;
    this.#events.push(processEvent(open.process, outcome, open.start, this.#us() - open.start, open.lane));
  }

  /**
   * A result the daemon's graph already held: no runner saw it, so it takes
   * no time and no slot; it is drawn on lane 0 at the moment it was served.
   */
  memoized(process: TracedProcess, outcome: Omit<TracedOutcome, 'source'>): void {
    this.#processes++;
    this.#events.push(processEvent(process, { ...outcome, source: 'memoized' }, this.#us(), 0, PHASE_LANE));
  }

  /** The whole trace, as written: `{ traceEvents, displayTimeUnit, otherData }`. */
  toJSON(): Record<string, unknown> {
    const now = this.#us();
    // Processes still open (a cancelled run) are drawn up to now, marked unfinished.
    const unfinished = [...this.#open.entries()].map(([, o]) => processEvent(o.process, { error: 'unfinished when the trace was written' }, o.start, now - o.start, o.lane));
    const lanes = Math.max(0, ...[...this.#events, ...unfinished].map((e) => e.tid));
    const meta: Event[] = [
      { name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: PID, tid: 0, args: { name: 'trews' } },
      { name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: PID, tid: PHASE_LANE, args: { name: 'engine' } },
    ];
    for (let lane = 1; lane <= lanes; lane++) meta.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: PID, tid: lane, args: { name: `slot ${lane}` } });
    return {
      traceEvents: [...meta, ...[...this.#events, ...unfinished].sort((a, b) => a.ts - b.ts || a.tid - b.tid)],
      displayTimeUnit: 'ms',
      otherData: { format: 'trews-trace/1', startedAt: this.#startedAt.toISOString(), ...this.#metadata },
    };
  }

  /** Writes the trace to `path` whole (a temp file renamed over it). */
  async write(path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.toJSON())}\n`);
    await rename(tmp, path);
  }

  #us(): number {
    return Math.round((this.#now() - this.#origin) * 1000);
  }
}

function processEvent(p: TracedProcess, o: TracedOutcome, ts: number, dur: number, tid: number): Event {
  const args: Record<string, unknown> = {
    description: p.description,
    source: o.source ?? 'failed to run',
    ...(o.exitCode !== undefined ? { exit_code: o.exitCode } : {}),
    ...(o.timedOut ? { timed_out: true } : {}),
    ...(o.executionMs !== undefined && o.executionMs !== null ? { execution_ms: o.executionMs } : {}),
    ...(p.argv !== undefined ? { argv: p.argv } : {}),
    ...((o.actionDigest ?? p.actionDigest) !== undefined ? { action_digest: o.actionDigest ?? p.actionDigest } : {}),
    ...(p.inputRootDigest !== undefined ? { input_root_digest: p.inputRootDigest } : {}),
    ...(o.outputBytes !== undefined ? { output_bytes: o.outputBytes } : {}),
    ...(o.outputRootDigest !== undefined ? { output_root_digest: o.outputRootDigest } : {}),
    ...(o.error !== undefined ? { error: o.error } : {}),
  };
  return { name: p.description, cat: `process,${o.source ?? 'failed to run'}`, ph: 'X', ts, dur, pid: PID, tid, args };
}
