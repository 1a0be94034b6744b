import type { Logger } from '../core/index.js';
import type { ExecContext, Process, ProcessObservation, ProcessObserver, ProcessResult } from './types.js';

/**
 * When the observer hears about a request (see README.md):
 *
 * - one id per request to the stack, allocated by its outermost runner;
 * - `started` once, when the work really begins: when the process gets its
 *   execution slot (inside the bounded section, so queueing is not shown as
 *   running), or when a layer starts a lookup slow enough to be worth showing
 *   (a remote cache may). A request that never reaches that point (a local
 *   cache hit, a per-run memo hit, a cancellation or failure while queued) is
 *   `started` immediately before it is `finished`, so observers always see a
 *   started/finished pair;
 * - `finished` exactly once, with the result or the error.
 *
 * Observer exceptions are logged and swallowed: a broken progress display
 * must not fail a build.
 */
let nextId = 1;

class Observation implements ProcessObservation {
  readonly id: number;
  readonly #observer: ProcessObserver;
  readonly #process: Process;
  readonly #logger: Logger;
  #started = false;
  #finished = false;

  constructor(id: number, observer: ProcessObserver, process: Process, logger: Logger) {
    this.id = id;
    this.#observer = observer;
    this.#process = process;
    this.#logger = logger;
  }

  markStarted(): void {
    if (this.#started || this.#finished) return;
    this.#started = true;
    this.#call('started', () => this.#observer.started(this.id, this.#process));
  }

  sandboxKept(path: string): void {
    if (this.#finished) return;
    const kept = this.#observer.sandboxKept;
    if (kept !== undefined) this.#call('sandboxKept', () => kept.call(this.#observer, this.id, this.#process, path));
  }

  finish(outcome: { readonly result?: ProcessResult; readonly error?: unknown }): void {
    if (this.#finished) return;
    this.markStarted();
    this.#finished = true;
    this.#call('finished', () => this.#observer.finished(this.id, this.#process, outcome));
  }

  #call(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#logger.warn(`process observer: ${what}(${this.id}) threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }
}

/**
 * Runs `body` as one observed request. Every runner's `run` goes through
 * this, so whichever runner is outermost owns the observation and inner ones
 * join it through `ctx.observation`; a runner used on its own is observed too.
 */
export async function observed(
  ctx: ExecContext,
  process: Process,
  body: (ctx: ExecContext) => Promise<ProcessResult>,
): Promise<ProcessResult> {
  if (ctx.observation !== undefined || ctx.observer === undefined) return body(ctx);
  const obs = new Observation(nextId++, ctx.observer, process, ctx.logger);
  let result: ProcessResult;
  try {
    result = await body({ ...ctx, observation: obs });
  } catch (error) {
    obs.finish({ error });
    throw error;
  }
  obs.finish({ result });
  return result;
}
