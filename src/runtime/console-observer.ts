import { digestString, isAbortError, type Digest } from '../core/index.js';
import type { Process, ProcessObserver, ProcessResult } from '../exec/index.js';
import { ProcessTally, type LiveConsole } from '../ui/index.js';

/**
 * The run's ProcessObserver: running processes go to the live console,
 * finished ones to the tally, kept sandboxes to a permanent line. It also
 * remembers which actions finished in this run, so a goal can tell a result
 * the runner stack produced now from one the daemon's graph kept.
 */
export class ConsoleObserver implements ProcessObserver {
  readonly tally = new ProcessTally();
  readonly #console: LiveConsole;
  readonly #finished = new Set<string>();
  #memoized = 0;

  constructor(console: LiveConsole) {
    this.#console = console;
  }

  started(id: number, process: Process): void {
    this.#console.taskStarted(id, process.description);
  }

  finished(id: number, _process: Process, outcome: { readonly result?: ProcessResult; readonly error?: unknown }): void {
    this.#console.taskFinished(id);
    if (outcome.result !== undefined) {
      this.tally.add(outcome.result.source);
      this.#finished.add(digestString(outcome.result.actionDigest));
    } else if (!isAbortError(outcome.error)) {
      this.tally.failed();
    }
  }

  sandboxKept(_id: number, process: Process, path: string): void {
    this.#console.print(`kept the sandbox of \`${process.description}\` at ${path} (run ${path}/__run.sh to reproduce it)`);
  }

  /** Whether an action finished in this run, reported by a runner. */
  finishedInThisRun(actionDigest: Digest): boolean {
    return this.#finished.has(digestString(actionDigest));
  }

  /** A result served from the daemon's graph, which no runner saw. */
  memoized(): void {
    this.#memoized += 1;
  }

  get total(): number {
    return this.tally.total + this.#memoized;
  }

  /** `12 processes: 2 ran locally, 10 from the local cache` (with `, 3 memoized` in a daemon). */
  summary(): string {
    if (this.#memoized === 0) return this.tally.line();
    const line = this.tally.line();
    const colon = line.indexOf(': ');
    const parts = colon < 0 ? [] : line.slice(colon + 2).split(', ');
    parts.push(`${this.#memoized} memoized`);
    const total = this.total;
    return `${total} process${total === 1 ? '' : 'es'}: ${parts.join(', ')}`;
  }
}
