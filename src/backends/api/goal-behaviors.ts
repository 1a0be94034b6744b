import type { ProcessResult } from '../../exec/index.js';
import { interactiveBehavior, memoizedBehavior } from './behaviors.js';
import type { Digest } from '../../core/index.js';
import type { TestCase } from './test-cases.js';

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
  /** Its cases, when the runner reported them (a per-file JavaScript test): counted, shown on failure, written as JUnit XML. */
  readonly cases?: readonly TestCase[];
  /**
   * Whether it passed, when its process's exit does not say (a file of a
   * batch: the batch's process fails when any file does, and the file's
   * own cases decide). Unset: exit code 0 and no timeout.
   */
  readonly passed?: boolean;
  /** Coverage it measured (`[test] use_coverage`), as lcov with build-root paths; merged across tests by the goal. */
  readonly coverage?: string;
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
  /** The process that packed them, when one did (its provenance is counted). */
  readonly result?: ProcessResult;
}

/** `trews test`: the target's test, run (or found in a cache). */
export const TEST = memoizedBehavior<TestOutcome>('test');
/** `trews package`: the target's package, built (or found in a cache). */
export const PACKAGE = memoizedBehavior<BuiltPackage>('package');
/** `trews run`: the program to run in the workspace, attached to the terminal. */
export const RUN = interactiveBehavior<InteractiveProcess, RunRequest>('run');

/** What `trews build` writes into the workspace for one target. */
export interface BuiltOutputs {
  /** The target whose outputs these are (two selected targets may name one build: a package and its `build` script). */
  readonly address: string;
  /** The outputs, at their paths from the build root. */
  readonly tree: Digest;
  /**
   * The declared outputs as globs from the build root (`packages/lib/dist/**`,
   * `!packages/app/.next/cache/**`): a workspace file they match that the tree
   * lacks is stale, and nothing they do not match is touched.
   */
  readonly outputs: readonly string[];
  /** The process that made them (its provenance is reported). */
  readonly result: ProcessResult;
}

/** `trews build`: the target's outputs, built (or found in a cache), or null when it builds nothing. */
export const BUILD = memoizedBehavior<BuiltOutputs | null>('build');

/** What `trews check` found for one target: its checker's process, and the diagnostics it printed (`file:line:col: error …`, build-root paths). */
export interface CheckOutcome {
  readonly result: ProcessResult;
  /** What ran (`tsc --noEmit -p tsconfig.json`). */
  readonly checker: string;
  readonly diagnostics: readonly string[];
}

/** `trews check`: the target's type-check (or found in a cache), or null when it has nothing to check. */
export const CHECK = memoizedBehavior<CheckOutcome | null>('check');

/** `trews export`: what the target lays out in the workspace for editors and tools (a JavaScript workspace's node_modules), or null. */
export const EXPORT = memoizedBehavior<BuiltOutputs | null>('export');
