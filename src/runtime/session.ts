import type { RunContext } from '../core/index.js';
import type { Run } from '../engine/index.js';
import type { ProcessResult } from '../exec/index.js';
import { GLOBAL, parseByteSize, type Options } from '../options/index.js';
import { RuleContext, type RuleEnv } from '../backends/index.js';
import { LiveConsole } from '../ui/index.js';
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

export interface SessionInit {
  readonly ctx: RunContext;
  readonly run: Run;
  readonly options: Options;
  readonly renv: RuleEnv;
  readonly exec: RunExec;
}

/**
 * What a goal that runs processes sets up once: the console (live on a
 * terminal when `dynamic_ui`, plain lines otherwise, always on the run's own
 * stderr), the observer feeding it, and a RuleContext for the goal's own
 * calls into rules. While it is open, the run's processes report to it.
 * `finish` prints the process summary and keeps the store within its bound.
 */
export class ExecutionSession {
  readonly rc: RuleContext;
  readonly console: LiveConsole;
  readonly observer: ConsoleObserver;
  readonly #init: SessionInit;
  readonly #goal: { runner: TrackingRunner; observer: ConsoleObserver };
  readonly #bytesAtStart: number;
  #finished = false;

  constructor(init: SessionInit) {
    this.#init = init;
    const { ctx, options, exec } = init;
    this.console = new LiveConsole({
      stream: ctx.stderr,
      dynamic: options.bool(GLOBAL, 'dynamic_ui') && ctx.isTTY.stderr,
      // A terminal that reports no size (a pty nobody sized) still gets lines.
      width: ctx.terminalWidth > 0 ? ctx.terminalWidth : 80,
    });
    this.observer = new ConsoleObserver(this.console);
    this.#bytesAtStart = exec.store.stats().bytesWritten;
    this.#goal = { runner: new TrackingRunner(exec.services.runner), observer: this.observer };
    exec.attach(this.#goal);
    this.rc = new RuleContext(init.run, init.renv, ctx.signal);
  }

  print(line: string): void {
    this.console.print(line);
  }

  /**
   * Where a result the goal got came from: the source the observer saw it
   * come from in this run, else the graph of an earlier run (`memoized`,
   * counted in the summary). Ask once per result.
   */
  provenance(result: ProcessResult): Provenance {
    if (this.observer.finishedInThisRun(result.actionDigest)) return result.source;
    this.observer.memoized();
    return 'memoized';
  }

  /**
   * Waits for every process of the session to end (after a cancellation,
   * until its group is killed and its sandbox removed), prints the summary
   * of processes (if any ran or were looked up) and applies the store's
   * size bound. Idempotent.
   */
  async finish(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await this.#goal.runner.drain();
    this.#init.exec.detach(this.#goal);
    if (this.observer.total > 0) this.console.print(this.observer.summary());
    this.console.close();
    const { options, exec, ctx } = this.#init;
    if (ctx.signal.aborted) return;
    const max = parseByteSize(options.string(GLOBAL, 'local_store_max_size'));
    if (max === undefined) return;
    const written = exec.store.stats().bytesWritten - this.#bytesAtStart;
    const logger = exec.context.logger;
    const gc = await boundStoreSize(exec.store, max, written, logger, ctx.signal);
    if (gc !== undefined && gc.removedCount > 0) {
      this.console.print(
        `the local store was over local_store_max_size (${formatBytes(max)}): removed ${gc.removedCount} entries (${formatBytes(gc.removedBytes)}); ${formatBytes(gc.remainingBytes)} remain`,
      );
    }
  }
}
