import type { CommandRunner, ExecContext, Process, ProcessResult } from '../exec/index.js';

/**
 * Remembers the requests in flight, so a cancelled run can wait for them to
 * end. The engine rejects a cancelled run's gets at once, while the runner
 * underneath is still killing the process group and removing its sandbox;
 * a run that returned then (and a CLI that exited) would leave both behind.
 */
export class TrackingRunner implements CommandRunner {
  readonly #inner: CommandRunner;
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(inner: CommandRunner) {
    this.#inner = inner;
  }

  run(ctx: ExecContext, process: Process): Promise<ProcessResult> {
    const p = this.#inner.run(ctx, process);
    this.#inflight.add(p);
    const forget = (): void => {
      this.#inflight.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  /** Resolves once nothing started through this runner is still running. */
  async drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }
}
