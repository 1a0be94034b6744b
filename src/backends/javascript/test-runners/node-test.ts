import { FILE_CASE_NAME, type TestCase, type TestCaseFailure, type TestCaseStatus } from '../../api/index.js';
import { badReport } from './bad-report.js';
import { NODE_REPORTER_FILE, NODE_REPORTER_SOURCE } from './node-reporter-module.js';
import { buildRootPath, cleanStack, locationInFile, messageHead, stripSandbox, type ReportContext } from './report-paths.js';
import type { JsTestCommand, JsTestCommandOptions, JsTestRunner } from './runner.js';

/**
 * node:test, run as `node --test <files>`: each file in its own child process (Node's
 * isolation), `spec` on stdout for humans, our JSON-lines reporter to the report file, and
 * Node's own `lcov` reporter (with `--experimental-test-coverage`) to the coverage file.
 */
export const nodeTestRunner: JsTestRunner = {
  name: 'node',
  packageName: null,
  supportsCoverage: true,
  command(files: readonly string[], opts: JsTestCommandOptions): JsTestCommand {
    const argv = [
      'node',
      '--test',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=./${NODE_REPORTER_FILE}`,
      `--test-reporter-destination=${opts.reportFile}`,
    ];
    const outputFiles = [opts.reportFile];
    if (opts.coverageFile !== undefined) {
      argv.push('--experimental-test-coverage', '--test-reporter=lcov', `--test-reporter-destination=${opts.coverageFile}`);
      outputFiles.push(opts.coverageFile);
    }
    argv.push(...(opts.extraArgs ?? []), ...files.map(asOperand));
    return {
      argv,
      env: {},
      sandboxFiles: { [NODE_REPORTER_FILE]: NODE_REPORTER_SOURCE },
      outputFiles,
      ...(opts.coverageFile !== undefined ? { coverageFile: opts.coverageFile } : {}),
    };
  },
  parseReport: parseNodeTestReport,
};

/** A file named `-x.test.js` would read as a flag. */
function asOperand(file: string): string {
  return file.startsWith('-') ? `./${file}` : file;
}

interface ReportedError {
  readonly failureType?: string;
  readonly message: string;
  readonly stack?: string;
  readonly name?: string;
  readonly code?: string;
  readonly exitCode?: number;
  readonly signal?: string;
}

interface ReportedEvent {
  readonly event: 'start' | 'pass' | 'fail' | 'stderr' | 'diagnostic';
  readonly file?: string;
  readonly name?: string;
  readonly nesting?: number;
  readonly line?: number;
  readonly column?: number;
  readonly skip?: true | string;
  readonly todo?: true | string;
  readonly suite?: true;
  readonly durationMs?: number;
  readonly error?: ReportedError;
  readonly message?: string;
}

interface FileState {
  readonly names: string[];
  readonly hasChildren: boolean[];
  readonly stderr: string[];
}

// A file's stderr is only read for a file that failed by itself; a chatty test must not make the report unbounded.
const MAX_STDERR_CHUNKS = 400;

export function parseNodeTestReport(text: string, ctx: ReportContext): readonly TestCase[] {
  const events = readEvents(text);
  const files = new Map<string, FileState>();
  const stateOf = (file: string): FileState => {
    let s = files.get(file);
    if (s === undefined) {
      s = { names: [], hasChildren: [], stderr: [] };
      files.set(file, s);
    }
    return s;
  };
  const cases: TestCase[] = [];
  // Node 20 says what failed outside a file's tests (an error after a test ended) in a diagnostic without a file, just before that file's own failure.
  let diagnostics: string[] = [];
  for (const e of events) {
    if (e.event === 'diagnostic') {
      if (e.message !== undefined && !SUMMARY_DIAGNOSTIC.test(e.message)) diagnostics.push(e.message);
      continue;
    }
    if (e.file === undefined) continue;
    const st = stateOf(e.file);
    if (e.event === 'stderr') {
      if (e.message !== undefined) st.stderr.push(e.message);
      if (st.stderr.length > MAX_STDERR_CHUNKS) st.stderr.splice(0, st.stderr.length - MAX_STDERR_CHUNKS);
      continue;
    }
    const nesting = e.nesting ?? 0;
    const name = e.name ?? '';
    if (e.event === 'start') {
      st.names.length = nesting;
      st.names[nesting] = name;
      st.hasChildren.length = nesting;
      st.hasChildren[nesting] = false;
      if (nesting > 0) st.hasChildren[nesting - 1] = true;
      continue;
    }
    const file = buildRootPath(e.file, ctx);
    // The test Node makes of a file that reported no case of its own: it failed to load, or ended badly.
    if (nesting === 0 && name === e.file) {
      if (e.event === 'fail') cases.push(fileCase(file, e, st.stderr.join(''), diagnostics, ctx));
      diagnostics = [];
      continue;
    }
    const suites = st.names.slice(0, nesting);
    const parent = e.suite === true || st.hasChildren[nesting] === true;
    if (parent) {
      // A suite or a test with subtests is a case only when it failed by itself (a hook, its own body).
      if (e.event === 'fail' && e.error?.failureType !== 'subtestsFailed') {
        cases.push({ file, name, suites, status: 'failed', durationMs: e.durationMs ?? 0, failure: failureOf(e, file, ctx) });
      }
      continue;
    }
    const status: TestCaseStatus = e.skip !== undefined ? 'skipped' : e.todo !== undefined ? 'todo' : e.event === 'pass' ? 'passed' : 'failed';
    const c: TestCase = { file, name, suites, status, durationMs: e.durationMs ?? 0 };
    cases.push(status === 'failed' ? { ...c, failure: failureOf(e, file, ctx) } : c);
  }
  return cases;
}

function readEvents(text: string): ReportedEvent[] {
  const events: ReportedEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      // The process was killed while the reporter wrote its last line: the lines before it stand.
      if (i === lines.length - 1) break;
      throw badReport('node', `line ${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    if (typeof v !== 'object' || v === null || !['start', 'pass', 'fail', 'stderr', 'diagnostic'].includes((v as { event?: unknown }).event as string)) {
      throw badReport('node', `line ${i + 1} is not an event trews' reporter writes: ${line.slice(0, 80)}`);
    }
    events.push(v as ReportedEvent);
  }
  return events;
}

function failureOf(e: ReportedEvent, file: string, ctx: ReportContext): TestCaseFailure {
  const err = e.error;
  const declared = e.line !== undefined ? { file, line: e.line, ...(e.column !== undefined ? { column: e.column } : {}) } : undefined;
  if (err === undefined) return { message: 'failed', ...(declared ? { location: declared } : {}) };
  const message = messageHead(stripSandbox(err.message, ctx)) || (err.failureType ?? 'failed');
  const location = locationInFile(err.stack, file, ctx) ?? declared;
  const details = err.stack !== undefined ? cleanStack(err.stack, ctx) : undefined;
  return { message: withKind(message, err), ...(location ? { location } : {}), ...(details ? { details } : {}) };
}

// A timeout or a cancelled test says so: its message alone ("test timed out after 100ms") is not always enough.
function withKind(message: string, err: ReportedError): string {
  if (err.failureType === 'cancelledByParent' && !/cancel/i.test(message)) return `cancelled: ${message}`;
  return message;
}

const SUMMARY_DIAGNOSTIC = /^(?:tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) \d+(?:\.\d+)?$/;

const HEADER = /^((?:file:\/\/)?\/[^:\s]+):(\d+)\s*$/;
const ERROR_LINE = /^(?:[A-Z][A-Za-z]*(?:Error|Exception)|Error)(?: \[[A-Z_]+\])?(?::|$)/;

/** The case of a file that failed outside any case: its stderr says why (Node prints the error there). */
function fileCase(file: string, e: ReportedEvent, stderr: string, diagnostics: readonly string[], ctx: ReportContext): TestCase {
  const output = stderr
    .split('\n')
    .filter((l) => !/^Node\.js v\d+/.test(l))
    .join('\n');
  const lines = output.split('\n');
  const errorAt = lines.findIndex((l) => ERROR_LINE.test(l));
  const message = errorAt >= 0 ? lines[errorAt]! : (diagnostics[0] ?? lines.filter((l) => l.trim() !== '').pop() ?? howItEnded(e.error));
  let location = locationInFile(output, file, ctx);
  if (location === undefined) {
    for (const l of lines) {
      const m = HEADER.exec(l);
      if (m && buildRootPath(m[1]!, ctx) === file) {
        location = { file, line: Number(m[2]) };
        break;
      }
    }
  }
  const details = cleanStack([...diagnostics, output].join('\n'), ctx).trim();
  const failure: TestCaseFailure = {
    message: messageHead(stripSandbox(message, ctx)),
    ...(location ? { location } : {}),
    ...(details ? { details } : {}),
  };
  return { file, name: FILE_CASE_NAME, suites: [], status: 'failed', durationMs: e.durationMs ?? 0, failure };
}

function howItEnded(err: ReportedError | undefined): string {
  if (err?.signal !== undefined) return `its process was killed by ${err.signal} outside any test`;
  if (err?.exitCode !== undefined) return `its process exited with code ${err.exitCode} outside any test`;
  return err?.message ?? 'failed';
}
