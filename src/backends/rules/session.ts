import { randomUUID } from 'node:crypto';
import type { Logger, RunContext } from '../../core/index.js';
import type { Run } from '../../engine/index.js';
import { GLOBAL, parseByteSize, type Options } from '../../options/index.js';
import type { TargetEnv } from '../../targets/index.js';
import { LiveConsole } from '../../ui/index.js';
import type { Backend } from '../backend.js';
import { ConsoleObserver } from './console-observer.js';
import { RuleContext } from './rule-context.js';
import type { ExecServices } from './services.js';
import { TrackingRunner } from './tracking-runner.js';
import { boundStoreSize, formatBytes } from './store-bound.js';
import type { TargetRules } from './target-rules.js';

export interface SessionInit {
  readonly ctx: RunContext;
  readonly run: Run;
  readonly env: TargetEnv;
  readonly options: Options;
  readonly services: ExecServices;
  readonly logger: Logger;
  readonly backends: readonly Backend[];
}

/** Rules by target type alias, from every backend. */
export function rulesByType(backends: readonly Backend[]): Map<string, TargetRules> {
  const m = new Map<string, TargetRules>();
  for (const b of backends) for (const [type, rules] of Object.entries(b.rules ?? {})) m.set(type, rules);
  return m;
}

/**
 * What a goal that runs processes sets up once: the console (live on a
 * terminal when `dynamic_ui`, plain lines otherwise, always on the run's own
 * stderr), the observer feeding it, the run's ExecContext and RuleContext.
 * `finish` prints the process summary and keeps the store within its bound.
 */
export class ExecutionSession {
  readonly rc: RuleContext;
  readonly console: LiveConsole;
  readonly observer: ConsoleObserver;
  readonly #init: SessionInit;
  readonly #runner: TrackingRunner;
  readonly #bytesAtStart: number;
  #finished = false;

  constructor(init: SessionInit) {
    this.#init = init;
    const { ctx, options } = init;
    this.console = new LiveConsole({
      stream: ctx.stderr,
      dynamic: options.bool(GLOBAL, 'dynamic_ui') && ctx.isTTY.stderr,
      // A terminal that reports no size (a pty nobody sized) still gets lines.
      width: ctx.terminalWidth > 0 ? ctx.terminalWidth : 80,
    });
    this.observer = new ConsoleObserver(this.console);
    this.#bytesAtStart = init.services.store.stats().bytesWritten;
    this.#runner = new TrackingRunner(init.services.runner);
    this.rc = new RuleContext({
      run: init.run,
      env: init.env,
      services: { store: init.services.store, runner: this.#runner },
      execCtx: { signal: ctx.signal, runId: randomUUID(), observer: this.observer, logger: init.logger },
      options,
      clientEnv: ctx.env,
      rules: rulesByType(init.backends),
      record: this.observer,
    });
  }

  print(line: string): void {
    this.console.print(line);
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
    await this.#runner.drain();
    if (this.observer.total > 0) this.console.print(this.observer.summary());
    this.console.close();
    const { options, services, logger, ctx } = this.#init;
    if (ctx.signal.aborted) return;
    const max = parseByteSize(options.string(GLOBAL, 'local_store_max_size'));
    if (max === undefined) return;
    const written = services.store.stats().bytesWritten - this.#bytesAtStart;
    const gc = await boundStoreSize(services.store, max, written, logger, ctx.signal);
    if (gc !== undefined && gc.removedCount > 0) {
      this.console.print(
        `the local store was over local_store_max_size (${formatBytes(max)}): removed ${gc.removedCount} entries (${formatBytes(gc.removedBytes)}); ${formatBytes(gc.remainingBytes)} remain`,
      );
    }
  }
}
