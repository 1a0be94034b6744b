import { digestString, isAbortError, type Digest } from '../core/index.js';
import type { Process, ProcessObserver, ProcessResult } from '../exec/index.js';
import { ProcessTally, type LiveConsole, type TracedOutcome, type TracedProcess, type TraceRecorder } from '../ui/index.js';

/** What a trace keeps of a process: what it was asked to do. */
export function tracedProcess(p: Process): TracedProcess {
  return { description: p.description, argv: p.argv, inputRootDigest: digestString(p.inputRoot) };
}

/** What a trace keeps of a result: where it came from, how it ended, and the sizes of what it wrote. */
export function tracedResult(r: ProcessResult): Omit<TracedOutcome, 'source'> {
  const sizes: Record<string, number> = { stdout: r.stdout.sizeBytes, stderr: r.stderr.sizeBytes };
  for (const f of r.actionResult.outputFiles) sizes[f.path] = Number(f.digest?.sizeBytes ?? 0);
  for (const d of r.actionResult.outputDirectories) sizes[`${d.path}/`] = Number(d.treeDigest?.sizeBytes ?? 0);
  return { exitCode: r.exitCode, timedOut: r.timedOut, executionMs: r.executionMs, actionDigest: digestString(r.actionDigest), outputBytes: sizes, outputRootDigest: digestString(r.outputRoot) };
}

/**
 * The run's ProcessObserver: running processes go to the live console and
 * the trace, finished ones to the tally, kept sandboxes to a permanent
 * line. It also remembers which actions finished in this run, so a goal can
 * tell a result the runner stack produced now from one the daemon's graph
 * kept.
 */
export class ConsoleObserver implements ProcessObserver {
  readonly tally = new ProcessTally();
  readonly #console: LiveConsole;
  readonly #trace: TraceRecorder | undefined;
  readonly #finished = new Set<string>();
  #memoized = 0;

  constructor(console: LiveConsole, trace?: TraceRecorder) {
    this.#console = console;
    this.#trace = trace;
  }

  started(id: number, process: Process): void {
    this.#console.taskStarted(id, process.description);
    this.#trace?.processStarted(id, tracedProcess(process));
  }

  finished(id: number, _process: Process, outcome: { readonly result?: ProcessResult; readonly error?: unknown }): void {
    this.#console.taskFinished(id);
    if (outcome.result !== undefined) {
      this.tally.add(outcome.result.source);
      this.#finished.add(digestString(outcome.result.actionDigest));
      this.#trace?.processFinished(id, { ...tracedResult(outcome.result), source: outcome.result.source });
    } else {
      const cancelled = isAbortError(outcome.error);
      if (!cancelled) this.tally.failed();
      const e = outcome.error;
      this.#trace?.processFinished(id, { error: cancelled ? 'cancelled' : e instanceof Error ? e.message : String(e) });
    }
  }

  sandboxKept(_id: number, process: Process, path: string): void {
    this.#console.print(`kept the sandbox of \`${process.description}\` at ${path} (run ${path}/__run.sh to reproduce it)`);
  }

  /** Whether an action finished in this run, reported by a runner. */
  finishedInThisRun(actionDigest: Digest): boolean {
    return this.#finished.has(digestString(actionDigest));
  }

  /** A result served from the daemon's graph, which no runner saw (`description`: what the goal asked for). */
  memoized(result: ProcessResult, description: string): void {
    this.#memoized += 1;
    this.#trace?.memoized({ description }, tracedResult(result));
  }

  /** Results of the goal the daemon's graph held: counted with the goal's results, not as processes. */
  get memoizedCount(): number {
    return this.#memoized;
  }

  /** Processes the runner stack saw, and results the graph held. */
  get total(): number {
    return this.tally.total + this.#memoized;
  }
}
