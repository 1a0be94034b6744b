import type { TestCase } from '../../api/index.js';
import { failedRunCases } from './failed-run.js';
import { buildRootPath, type ReportContext } from './report-paths.js';
import type { JsTestRunner } from './runner.js';

/** What a test process left: its report (if it wrote one), the files it was given, its output and how it ended. */
export interface TestRunOutcome {
  /** The report file's text; undefined when the process wrote none. */
  readonly report?: string;
  /** The files the command ran, relative to the cwd (as given to `command`). */
  readonly files: readonly string[];
  /** Its stderr (and stdout, if the caller has them together): read only when the report does not say why it failed. */
  readonly output: string;
  readonly exitCode: number | null;
}

/**
 * The cases of one test process, whatever happened to it: the report's cases for the files
 * it was asked to run (vitest's filters may match more), and a failed `(file)` case for
 * each of its files when the run failed with no failed case saying why: no report or an
 * empty one (mocha stopped by a file that throws while loading, a runner that cannot
 * start), or a non-zero exit with every case passed (jest's coverage threshold). So a test
 * process that failed never reads as passed, and one that passed reads as its cases.
 * A report that is there but unreadable stays a FailureError (`parseReport`).
 */
export function casesOfRun(runner: JsTestRunner, run: TestRunOutcome, ctx: ReportContext): readonly TestCase[] {
  const failedCtx = { ...ctx, exitCode: run.exitCode };
  if (run.report === undefined || run.report.trim() === '') return failedRunCases(run.files, run.output, failedCtx);
  // A source-mapped runner may name a compiled file's source (node --enable-source-maps does): both are the file's.
  const wanted = new Set(run.files.flatMap((f) => [buildRootPath(f, ctx), ctx.sourceOf?.[buildRootPath(f, ctx)] ?? []].flat()));
  const cases = runner.parseReport(run.report, ctx).filter((c) => wanted.has(c.file));
  // A failed case explains a failed run. A file with no case is not one: node:test and mocha report nothing for a file without tests.
  if (run.exitCode === 0 || cases.some((c) => c.status === 'failed')) return cases;
  return [...cases, ...failedRunCases(run.files, run.output, { ...failedCtx, reportRead: true })];
}
