import { abortError } from '../core/index.js';
import { RunConflictError, type Engine, type Run, type RunOptions } from '../engine/index.js';

export interface WaitPolicy {
  /** `daemon_timeout_when_multiple_invocations`: how long to wait, in seconds; 0 does not wait. */
  readonly timeoutS: number;
  /** Tells the user why the run waits (a line, no newline). */
  say(line: string): Promise<void>;
}

/**
 * Starts a run, waiting for the runs in progress when they brought other
 * options or environment variables: a daemon's graph holds one set of
 * inputs at a time (see Engine.startRun). A run with the same inputs starts
 * at once, beside them. Gives up with a clear failure after the timeout.
 */
export async function startRunWhenFree(engine: Engine, options: RunOptions, wait: WaitPolicy): Promise<Run> {
  const deadline = Date.now() + wait.timeoutS * 1000;
  let told = false;
  for (;;) {
    try {
      return engine.startRun(options);
    } catch (e) {
      if (!(e instanceof RunConflictError)) throw e;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new RunConflictError(e.live, [
          `waited ${wait.timeoutS}s (daemon_timeout_when_multiple_invocations); run again when it is done, or with the same options and environment variables`,
        ]);
      }
      if (!told) {
        told = true;
        await wait.say(`trews: waiting for ${e.failure.message.replace(/ is in progress$| are in progress$/, '')} to finish (up to ${wait.timeoutS}s)`);
      }
      await waitIdle(engine, left, options.signal);
    }
  }
}

/** engine.whenIdle(), but no longer than `ms` and no longer than the run's own signal allows. */
async function waitIdle(engine: Engine, ms: number, signal: AbortSignal | undefined): Promise<void> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), ms);
  const stop = signal === undefined ? timeout.signal : AbortSignal.any([signal, timeout.signal]);
  try {
    await engine.whenIdle(stop);
  } catch (e) {
    if (signal?.aborted) throw abortError('the run was cancelled while waiting for the runs in progress');
    if (!timeout.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
}
