import { type TestCase, type TestCaseStatus } from '../../api/index.js';
import { badReport } from './bad-report.js';
import { MOCHA_REPORTER_FILE, MOCHA_REPORTER_SOURCE } from './mocha-reporter-module.js';
import { buildRootPath, cleanStack, locationInFile, messageHead, stripAnsi, stripSandbox, type ReportContext } from './report-paths.js';
import type { JsTestCommand, JsTestCommandOptions, JsTestRunner } from './runner.js';

/**
 * mocha, run as `mocha <files>` with trews' reporter (JSON lines to the report file, spec on
 * stdout). No coverage: mocha has none of its own (c8/nyc wrap it). A file that throws while
 * loading stops mocha before any test runs and before the reporter exists: no report, so the
 * caller makes the cases from the output (`failedRunCases`); run mocha files one per process
 * to keep that to the one file.
 */
export const mochaRunner: JsTestRunner = {
  name: 'mocha',
  packageName: 'mocha',
  supportsCoverage: false,
  command(files: readonly string[], opts: JsTestCommandOptions): JsTestCommand {
    const argv = ['mocha', `--reporter=./${MOCHA_REPORTER_FILE}`, `--reporter-option=output=${opts.reportFile}`, ...(opts.extraArgs ?? []), '--', ...files];
    return { argv, env: {}, sandboxFiles: { [MOCHA_REPORTER_FILE]: MOCHA_REPORTER_SOURCE }, outputFiles: [opts.reportFile] };
  },
  parseReport: parseMochaReport,
};

interface MochaEvent {
  readonly event: 'pass' | 'fail' | 'pending' | 'end';
  readonly file?: string;
  readonly titlePath?: readonly string[];
  readonly durationMs?: number;
  readonly hook?: true;
  readonly error?: { readonly message?: string; readonly stack?: string; readonly name?: string };
}

const FRAME_LINE = /^\s+at \S/;

export function parseMochaReport(text: string, ctx: ReportContext): readonly TestCase[] {
  if (text.trim() === '') throw badReport('mocha', 'it is empty (did mocha stop before running any test?)');
  const cases: TestCase[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let e: MochaEvent;
    try {
      e = JSON.parse(line) as MochaEvent;
    } catch {
      if (i === lines.length - 1) break;
      throw badReport('mocha', `line ${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    if (e.event === 'end') continue;
    if (!['pass', 'fail', 'pending'].includes(e.event) || !Array.isArray(e.titlePath) || e.titlePath.length === 0) {
      throw badReport('mocha', `line ${i + 1} is not an outcome trews' reporter writes: ${line.slice(0, 80)}`);
    }
    const file = e.file !== undefined ? buildRootPath(e.file, ctx) : '';
    const status: TestCaseStatus = e.event === 'pass' ? 'passed' : e.event === 'pending' ? 'skipped' : 'failed';
    const c: TestCase = {
      file,
      name: e.titlePath[e.titlePath.length - 1]!,
      suites: e.titlePath.slice(0, -1),
      status,
      durationMs: typeof e.durationMs === 'number' ? e.durationMs : 0,
    };
    if (status !== 'failed') {
      cases.push(c);
      continue;
    }
    const stack = stripAnsi(e.error?.stack ?? '');
    const message = messageHead(stripSandbox(stripAnsi(e.error?.message ?? ''), ctx)) || messageOfStack(stack) || 'failed';
    const location = locationInFile(stack, file, ctx);
    const details = stack !== '' ? cleanStack(stack, ctx) : undefined;
    cases.push({ ...c, failure: { message, ...(location ? { location } : {}), ...(details ? { details } : {}) } });
  }
  return cases;
}

function messageOfStack(stack: string): string {
  const lines = stack.split('\n');
  const end = lines.findIndex((l) => FRAME_LINE.test(l));
  return messageHead((end < 0 ? lines : lines.slice(0, end)).join('\n'));
}
