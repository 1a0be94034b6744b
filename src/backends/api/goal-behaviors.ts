import type { ProcessResult } from '../../exec/index.js';
import { interactiveBehavior, memoizedBehavior } from './behaviors.js';
import type { Digest } from '../../core/index.js';

/**
 * The behaviours of the goals every build has. A backend that brings a goal
 * of its own defines its behaviour the same way, next to its rules.
 */

/** The outcome of a test: its process's result and the timeout it ran with (seconds). */
export interface TestOutcome {
  readonly result: ProcessResult;
  readonly timeoutS: number | null;
  /** What to do about a failure, when the backend can tell (`add \`jq\` to \`tools\``); printed under the test's output. */
  readonly hints?: readonly string[];
}

/** A process `trews run` starts in the workspace, attached to the client's terminal. */
export interface InteractiveProcess {
  /** argv[0] is an absolute path. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Absolute. */
  readonly cwd: string;
  /** Removes what the rule made for the run (a chroot of execution dependencies); called however the run ends. */
  cleanup?(): Promise<void>;
}

/** What `trews run` asks of a runnable target. */
export interface RunRequest {
  /** The arguments after `--`. */
  readonly args: readonly string[];
  /** The client's whole environment, which the program runs with. */
  readonly env: Readonly<Record<string, string>>;
}

export interface BuiltPackage {
  /** The package's files at their paths relative to the dist directory. */
  readonly tree: Digest;
  /** Those paths, sorted. */
  readonly files: readonly string[];
}

/** `trews test`: the target's test, run (or found in a cache). */
export const TEST = memoizedBehavior<TestOutcome>('test');
/** `trews package`: the target's package, built (or found in a cache). */
export const PACKAGE = memoizedBehavior<BuiltPackage>('package');
/** `trews run`: the program to run in the workspace, attached to the terminal. */
export const RUN = interactiveBehavior<InteractiveProcess, RunRequest>('run');
