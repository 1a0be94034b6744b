import { digestEquals, digestString } from '../core/index.js';
import type { ComputeContext, Key } from '../engine/index.js';
import { isCacheableResult } from './process.js';
import { toAction } from './to-action.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

let nextNeverId = 1;

/**
 * The newest ExecContext each key id was requested with. The engine keeps
 * the first key object of a node for good, so in a daemon a later run may
 * (re)compute through a key built by a run that has ended or was cancelled;
 * its context's signal may be aborted and its observer gone. compute() then
 * uses the newest live context for the same id. Entries go when their
 * context is garbage-collected.
 */
const latest = new Map<string, WeakRef<ExecContext>>();
const forget = new FinalizationRegistry<{ id: string; ref: WeakRef<ExecContext> }>(({ id, ref }) => {
  if (latest.get(id) === ref) latest.delete(id);
});

/**
 * A process as an engine node. Its id is the action digest, so the engine
 * runs identical processes once within a run and, in a daemon, across runs:
 * a ProcessKey has no dependencies and is never invalidated. A result its
 * cache scope would not cache (a failed `successful` process, a timeout, any
 * `per-run` result) is transient: reused within its run, recomputed by the
 * next, so a daemon re-runs exactly what a fresh process would. `never` ids
 * carry a counter, so every key runs.
 */
export class ProcessKey implements Key<ProcessResult> {
  readonly id: string;
  readonly #runner: CommandRunner;
  readonly #ctx: ExecContext;
  readonly #process: Process;

  constructor(runner: CommandRunner, execCtx: ExecContext, process: Process) {
    this.#runner = runner;
    this.#ctx = execCtx;
    this.#process = process;
    const digest = digestString(toAction(process).actionDigest);
    switch (process.cacheScope) {
      case 'never':
        this.id = `process:${digest}:#${nextNeverId++}`;
        break;
      default:
        this.id = `process:${digest}`;
    }
    const ref = new WeakRef(execCtx);
    latest.set(this.id, ref);
    forget.register(execCtx, { id: this.id, ref });
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

  compute(_ctx: ComputeContext, signal: AbortSignal): Promise<ProcessResult> {
    let execCtx = this.#ctx;
    if (execCtx.signal.aborted && !signal.aborted) {
      const newer = latest.get(this.id)?.deref();
      execCtx = newer !== undefined && !newer.signal.aborted ? newer : { ...execCtx, signal, observer: undefined };
    }
    // Both: the run's cancellation kills its processes, and the engine's
    // (all requesters gone) does too.
    const combined = execCtx.signal === signal ? signal : AbortSignal.any([execCtx.signal, signal]);
    return this.#runner.run({ ...execCtx, signal: combined, observation: undefined }, this.#process);
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
