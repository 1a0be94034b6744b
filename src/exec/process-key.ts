import { digestEquals, digestString } from '../core/index.js';
import { createRunSlot, type ComputeContext, type Key } from '../engine/index.js';
import type { LocalStore } from '../store/index.js';
import { isCacheableResult } from './process.js';
import { toAction } from './to-action.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

/**
 * What a run lends the processes its computations start: the runner stack
 * and store of its services, and its context (observer, logger, warnings,
 * run id). The context carries no signal: a process stops when no run waits
 * for it any more, which is the engine's signal to its computation.
 */
export interface ExecRun {
  readonly runner: CommandRunner;
  readonly store: LocalStore;
  readonly context: Omit<ExecContext, 'signal' | 'observation'>;
}

/** The run slot through which computations reach their run's ExecRun. */
export const EXEC_RUN = createRunSlot<ExecRun>('exec');

let nextNeverId = 1;

/**
 * A process as an engine node. Its id is the action digest, so the engine
 * runs identical processes once within a run and, in a daemon, across runs:
 * a ProcessKey has no dependencies and is never invalidated. A result its
 * cache scope would not cache (a failed `successful` process, a timeout, any
 * `per-run` result) is transient: reused within its run, recomputed by the
 * next, so a daemon re-runs exactly what a fresh process would. `never` ids
 * carry a counter, so every key runs.
 *
 * The runner is not part of the key: it comes from the run that starts the
 * computation (EXEC_RUN), so a daemon's later runs use their own.
 *
 * The one transient kind a kept graph cannot rebuild from its id (engine
 * KeyRebuilder): the id is a digest, and the Process (argv, environment,
 * input tree, timeout, description) is not in it. It comes back as a stub;
 * what depends on it recomputes, which it must do anyway to run it again.
 */
export class ProcessKey implements Key<ProcessResult> {
  readonly id: string;
  readonly #process: Process;

  constructor(process: Process) {
    this.#process = process;
    const digest = digestString(toAction(process).actionDigest);
    this.id = process.cacheScope === 'never' ? `process:${digest}:#${nextNeverId++}` : `process:${digest}`;
  }

  isTransient(result: ProcessResult): boolean {
    return !isCacheableResult(this.#process, result.exitCode, result.timedOut);
  }

  get process(): Process {
    return this.#process;
  }

  describe(): string {
    return this.#process.description;
  }

  compute(ctx: ComputeContext, signal: AbortSignal): Promise<ProcessResult> {
    const run = ctx.slot(EXEC_RUN);
    return run.runner.run({ ...run.context, signal }, this.#process);
  }

  /**
   * Early cut-off compares what the result means, not how it was obtained:
   * a re-run that produced the same exit code, stdout, stderr and outputs is
   * the same value, whatever its timing and source.
   */
  equal(a: ProcessResult, b: ProcessResult): boolean {
    return (
      a.exitCode === b.exitCode &&
      a.timedOut === b.timedOut &&
      digestEquals(a.actionDigest, b.actionDigest) &&
      digestEquals(a.stdout, b.stdout) &&
      digestEquals(a.stderr, b.stderr) &&
      digestEquals(a.outputRoot, b.outputRoot)
    );
  }
}
