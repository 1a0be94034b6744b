import { FILE_CASE_NAME, type TestCase, type TestCaseFailure, type TestCaseStatus } from '../../api/index.js';
import { badReport, parseJsonReport } from './bad-report.js';
import { buildRootPath, cleanStack, locationInFile, messageHead, stripAnsi, stripSandbox, type ReportContext } from './report-paths.js';
import type { JsTestRunnerName } from './runner.js';

/**
 * jest's `--json` report, which vitest's `json` reporter writes too: `testResults` per file,
 * `assertionResults` per case with its `ancestorTitles`, `status` and `failureMessages`
 * (each the error's stack, its message first).
 */
interface JsonAssertion {
  readonly title?: unknown;
  readonly ancestorTitles?: unknown;
  readonly status?: unknown;
  readonly duration?: unknown;
  readonly failureMessages?: unknown;
}
interface JsonFile {
  readonly name?: unknown;
  readonly status?: unknown;
  readonly message?: unknown;
  readonly assertionResults?: unknown;
  readonly startTime?: unknown;
  readonly endTime?: unknown;
}

const STATUSES: Readonly<Record<string, TestCaseStatus>> = {
  passed: 'passed',
  failed: 'failed',
  pending: 'skipped',
  skipped: 'skipped',
  disabled: 'skipped',
  todo: 'todo',
  focused: 'passed',
};

export function parseJestJsonReport(runner: JsTestRunnerName, text: string, ctx: ReportContext): readonly TestCase[] {
  const doc = parseJsonReport(runner, text);
  const results = (doc as { testResults?: unknown } | null)?.testResults;
  if (!Array.isArray(results)) throw badReport(runner, 'it has no `testResults` array (was it written by `--json`/`--reporter=json`?)');
  const cases: TestCase[] = [];
  for (const [i, raw] of results.entries()) {
    const f = raw as JsonFile;
    if (typeof f !== 'object' || f === null || typeof f.name !== 'string') throw badReport(runner, `testResults[${i}] has no file \`name\``);
    const file = buildRootPath(f.name, ctx);
    const assertions = Array.isArray(f.assertionResults) ? (f.assertionResults as JsonAssertion[]) : [];
    const own: TestCase[] = [];
    for (const [j, a] of assertions.entries()) {
      if (typeof a?.title !== 'string' || typeof a.status !== 'string') throw badReport(runner, `testResults[${i}].assertionResults[${j}] has no \`title\` or \`status\``);
      const status = STATUSES[a.status];
      if (status === undefined) throw badReport(runner, `testResults[${i}].assertionResults[${j}] has the status \`${a.status}\`, which trews does not know`);
      const suites = Array.isArray(a.ancestorTitles) ? a.ancestorTitles.map(String) : [];
      const c: TestCase = { file, name: a.title, suites, status, durationMs: typeof a.duration === 'number' ? a.duration : 0 };
      const messages = Array.isArray(a.failureMessages) ? a.failureMessages.map(String) : [];
      own.push(status === 'failed' ? { ...c, failure: failureOfStack(messages.join('\n\n'), file, ctx) } : c);
    }
    cases.push(...own);
    // A file that failed with no failed case of its own: it threw while loading, or a hook failed outside any case.
    if (f.status === 'failed' && !own.some((c) => c.status === 'failed')) {
      cases.push(fileCase(file, typeof f.message === 'string' ? f.message : '', durationOf(f), ctx));
    }
  }
  return cases;
}

function durationOf(f: JsonFile): number {
  return typeof f.startTime === 'number' && typeof f.endTime === 'number' ? Math.max(0, f.endTime - f.startTime) : 0;
}

// A stack's first frame line; what comes before it is the message.
const FRAME_LINE = /^\s+at \S/;

/** A failure from an error's stack as jest and vitest print it: message lines, then `at` frames. */
function failureOfStack(stack: string, file: string, ctx: ReportContext): TestCaseFailure {
  const text = stripAnsi(stack);
  const lines = text.split('\n');
  const firstFrame = lines.findIndex((l) => FRAME_LINE.test(l));
  const head = (firstFrame < 0 ? lines : lines.slice(0, firstFrame)).join('\n');
  const message = messageHead(stripSandbox(head, ctx).replace(/^Error: /, '')) || 'failed';
  const location = locationInFile(text, file, ctx);
  const details = cleanStack(text, ctx);
  return { message, ...(location ? { location } : {}), ...(details ? { details } : {}) };
}

/**
 * jest's file message is `  ● Test suite failed to run\n\n    <message>\n\n    <code frame>\n\n      at …`;
 * vitest's is the bare message. The message is the first paragraph after the `●` title.
 */
function fileCase(file: string, message: string, durationMs: number, ctx: ReportContext): TestCase {
  const text = stripAnsi(message);
  const paragraphs = dedent(text)
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const body = paragraphs[0]?.startsWith('●') ? paragraphs.slice(1) : paragraphs;
  const head = body[0];
  const details = cleanStack(dedent(text), ctx).trim();
  const failure: TestCaseFailure = {
    message: head !== undefined ? messageHead(stripSandbox(head, ctx)) : 'the file failed outside its test cases (in a hook, or while loading); its output says why',
    ...optionalLocation(locationInFile(text, file, ctx)),
    ...(details !== '' && details !== head ? { details } : {}),
  };
  return { file, name: FILE_CASE_NAME, suites: [], status: 'failed', durationMs, failure };
}

function optionalLocation<T>(location: T | undefined): { location?: T } {
  return location !== undefined ? { location } : {};
}

function dedent(text: string): string {
  const lines = text.split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length);
  const cut = indents.length > 0 ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(cut)).join('\n');
}
