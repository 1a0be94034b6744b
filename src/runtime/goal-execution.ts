import type { RunContext } from '../core/index.js';
import type { Run } from '../engine/index.js';
import type { ProcessResult } from '../exec/index.js';
import { GLOBAL, parseByteSize, type Options } from '../options/index.js';
import { RuleContext, type RuleEnv } from '../backends/index.js';
import { LiveConsole, summaryLine, type Palette, type TraceRecorder } from '../ui/index.js';
import { consoleColors } from './console-colors.js';
import { ConsoleObserver } from './console-observer.js';
import type { RunExec } from './run-exec.js';
import { boundStoreSize, formatBytes } from './store-bound.js';
import { TrackingRunner } from './tracking-runner.js';

/**
 * How a process result was obtained, as result lines print it: where the
 * runner stack found it, or `memoized` when the daemon's graph already held
 * it from an earlier run (no runner was asked at all).
 */
export type Provenance = ProcessResult['source'] | 'memoized';

export interface GoalExecutionInit {
  readonly ctx: RunContext;
  readonly run: Run;
  readonly options: Options;
  readonly renv: RuleEnv;
  readonly exec: RunExec;
  /** Where the run's processes are recorded with `--trace`. */
  readonly trace?: TraceRecorder;
  /** Set when the run may be recorded for replay (goals' ReplayWitness). */
  readonly replay?: ReplayMarks;
}

/** What a goal's execution tells a run that may be recorded for replay (cli/replay-record.ts). */
export interface ReplayMarks {
  /** Wraps the summary's elapsed time, which a replay fills in with its own. */
  markElapsed(elapsed: string): string;
  /** The run cannot be replayed, and why. */
  refuse(why: string): void;
}

/**
 * What a goal that runs processes sets up once: the console (live on a
 * terminal when `dynamic_ui`, plain lines otherwise, always on the run's own
 * stderr, coloured as `consoleColors` decides), the observer feeding it, and
 * a RuleContext for the goal's own calls into rules. While it is open, the
 * run's processes report to it. `finish` prints the goal's summary line and
 * keeps the store within its bound.
 */
export class GoalExecution {
  readonly rc: RuleContext;
  readonly console: LiveConsole;
  readonly observer: ConsoleObserver;
  readonly colors: Palette;
  readonly #init: GoalExecutionInit;
  readonly #goal: { runner: TrackingRunner; observer: ConsoleObserver };
  readonly #bytesAtStart: number;
  readonly #startedAt = performance.now();
  #finished = false;

  constructor(init: GoalExecutionInit) {
    this.#init = init;
    const { ctx, options, exec } = init;
    this.colors = consoleColors(ctx, options);
    this.console = new LiveConsole({
      stream: ctx.stderr,
      dynamic: options.bool(GLOBAL, 'dynamic_ui') && ctx.isTTY.stderr,
      // A terminal that reports no size (a pty nobody sized) still gets lines.
      width: ctx.terminalWidth > 0 ? ctx.terminalWidth : 80,
      palette: this.colors,
    });
    this.observer = new ConsoleObserver(this.console, init.trace);
    this.#bytesAtStart = exec.store.stats().bytesWritten;
    this.#goal = { runner: new TrackingRunner(exec.services.runner), observer: this.observer };
    exec.attach(this.#goal);
    this.rc = new RuleContext(init.run, init.renv, ctx.signal);
  }

  print(line: string): void {
    this.console.print(line);
  }

  /** How far the goal is, for the live area's `[done/total noun]` and the still-running lines. */
  progress(done: number, total: number, noun: string): void {
    this.console.setProgress({ done, total, noun });
  }

  /**
   * Where a result the goal got came from: the source the observer saw it
   * come from in this run, else the graph of an earlier run (`memoized`).
   * Ask once per result; `description` names it in the trace.
   */
  provenance(result: ProcessResult, description: string): Provenance {
    if (this.observer.finishedInThisRun(result.actionDigest)) return result.source;
    this.observer.memoized(result, description);
    return 'memoized';
  }

  /**
   * Waits for every process of the execution to end (after a cancellation,
   * until its group is killed and its sandbox removed), prints the summary
   * line (`results`, the goal's own part, then processes and time; without
   * `results`, only if any process was asked for) and applies the store's
   * size bound. Idempotent.
   */
  async finish(results?: string): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await this.#goal.runner.drain();
    this.#init.exec.detach(this.#goal);
    const { options, exec, ctx } = this.#init;
    // A replay runs nothing: what said that processes ran or came from a cache would not be true of it.
    if (this.observer.tally.total > 0) this.#init.replay?.refuse('processes ran or were served from a cache');
    if (!ctx.signal.aborted && (results !== undefined || this.observer.tally.total > 0)) {
      const elapsedMs = performance.now() - this.#startedAt;
      const markElapsed = this.#init.replay === undefined ? undefined : (t: string): string => this.#init.replay!.markElapsed(t);
      this.console.print(
        summaryLine({ ...(results !== undefined ? { results } : {}), processes: this.observer.tally.parts(this.colors), elapsedMs, ...(markElapsed ? { markElapsed } : {}) }, this.colors),
      );
    }
    this.console.close();
    if (ctx.signal.aborted) return;
    const max = parseByteSize(options.string(GLOBAL, 'local_store_max_size'));
    if (max === undefined) return;
    const written = exec.store.stats().bytesWritten - this.#bytesAtStart;
    const logger = exec.context.logger;
    const end = this.#init.trace?.phase('bound the local store');
    const gc = await boundStoreSize(exec.store, max, written, logger, ctx.signal);
    end?.();
    if (gc !== undefined && gc.removedCount > 0) {
      this.console.print(
        `the local store was over local_store_max_size (${formatBytes(max)}): removed ${gc.removedCount} entries (${formatBytes(gc.removedBytes)}); ${formatBytes(gc.remainingBytes)} remain`,
      );
    }
  }
}
