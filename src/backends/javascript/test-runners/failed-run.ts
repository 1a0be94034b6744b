import { FILE_CASE_NAME, type TestCase, type TestCaseFailure } from '../../api/index.js';
import { buildRootPath, cleanStack, locationInFile, messageHead, stripAnsi, stripSandbox, type ReportContext } from './report-paths.js';

const ERROR_LINE = /(?:^|\s)((?:[A-Z][A-Za-z]*(?:Error|Exception)|Error)(?: \[[A-Z_]+\])?: .*)$/;

/**
 * The cases of a run that wrote no report (or one `parseReport` refused): each of its files
 * failed by itself. The output says why: the file whose frame it names gets the error and
 * its line (mocha's `Exception during run`, a runner that cannot load its config); the
 * others of a batch were not run because of it.
 */
export function failedRunCases(
  files: readonly string[],
  output: string,
  ctx: ReportContext & { readonly exitCode?: number | null; /** The report was read and had no failure (jest's coverage threshold, a crash after the tests). */ readonly reportRead?: boolean },
): TestCase[] {
  const text = stripAnsi(output);
  const lines = text.split('\n');
  const errorLine = lines.map((l) => ERROR_LINE.exec(l)?.[1]).find((m) => m !== undefined);
  const ended = ctx.exitCode === undefined || ctx.exitCode === null ? 'the runner failed' : `the runner exited with ${ctx.exitCode}`;
  const message = errorLine !== undefined ? stripSandbox(errorLine, ctx) : ctx.reportRead === true ? `${ended} although its report has no failure` : `${ended} without a report`;
  const details = cleanStack(text, ctx).trim();
  const located = files.map((f) => {
    const file = buildRootPath(f, ctx);
    return { file, location: locationInFile(text, file, ctx) };
  });
  const culprit = located.some((l) => l.location !== undefined);
  return located.map(({ file, location }) => {
    const failure: TestCaseFailure =
      culprit && location === undefined
        ? { message: `not run: another file of its batch stopped the runner (${messageHead(message, 1)})` }
        : { message: messageHead(message), ...(location ? { location } : {}), ...(details ? { details } : {}) };
    return { file, name: FILE_CASE_NAME, suites: [], status: 'failed', durationMs: 0, failure };
  });
}
