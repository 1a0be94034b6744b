import type { TestCase } from '../../api/index.js';
import type { ReportContext } from './report-paths.js';

export type JsTestRunnerName = 'node' | 'vitest' | 'jest' | 'mocha';

export const JS_TEST_RUNNER_NAMES: readonly JsTestRunnerName[] = ['node', 'vitest', 'jest', 'mocha'];

/** A process that runs test files: what the caller puts in its action. */
export interface JsTestCommand {
  /** argv[0] is a bin name found on PATH in the sandbox (`node`, `vitest`, `jest`, `mocha`). */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /**
   * Files the caller writes into the sandbox before running it, relative to the cwd → their
   * text (node:test's reporter module). Part of the action's inputs like any other file.
   */
  readonly sandboxFiles: Readonly<Record<string, string>>;
  /** Files the process writes, relative to the cwd: the report and, when asked, the lcov. */
  readonly outputFiles: readonly string[];
  /**
   * Where the lcov lands, when coverage was asked for: `coverageFile` itself for node:test;
   * `lcov.info` in `coverageFile`'s directory for vitest and jest, whose istanbul reporter
   * names its file (so pass `<dir of its own>/lcov.info` to make the two the same).
   */
  readonly coverageFile?: string;
}

export interface JsTestCommandOptions {
  /** Where the machine-readable report goes, relative to the cwd. */
  readonly reportFile: string;
  /** Where lcov goes, relative to the cwd; no coverage when absent. */
  readonly coverageFile?: string;
  /** The user's own flags from the test script (`DetectedTestRunner.extraArgs`), kept. */
  readonly extraArgs?: readonly string[];
}

export interface JsTestRunner {
  readonly name: JsTestRunnerName;
  /** The npm package that provides it (null for node:test). */
  readonly packageName: string | null;
  /** Whether `command` can write lcov (`coverageFile`); mocha has no coverage of its own. */
  readonly supportsCoverage: boolean;
  /**
   * The process that runs exactly `files` (paths relative to the cwd, the package directory),
   * writes the machine-readable report to `reportFile` and, when given, lcov to `coverageFile`,
   * and keeps a human-readable report on stdout.
   */
  command(files: readonly string[], opts: JsTestCommandOptions): JsTestCommand;
  /**
   * The report's cases, paths build-root relative. A report it cannot read is a
   * FailureError (`internal` or `input`) naming what is wrong, never a stack trace.
   */
  parseReport(text: string, ctx: ReportContext): readonly TestCase[];
}
