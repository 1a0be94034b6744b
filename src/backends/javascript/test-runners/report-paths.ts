import { posix } from 'node:path';
import type { TestCaseLocation } from '../../api/index.js';

/** What a report's paths are made relative to (see `JsTestRunner.parseReport`). */
export interface ReportContext {
  /** The package directory, build-root relative (`''` or `.` for the root package). */
  readonly packageDir: string;
  /** The absolute directory the process ran under (the sandbox's build root), stripped from paths. */
  readonly sandboxRoot?: string;
  /**
   * Compiled test file → its source, both build-root relative (`pkg/dist/a.test.js` →
   * `pkg/src/a.test.ts`): with source maps (`--enable-source-maps`, vitest, jest) a stack
   * points into the source, and that frame is where the failure is.
   */
  readonly sourceOf?: Readonly<Record<string, string>>;
}

/** `file:///sb/pkg/a.test.ts` or `/sb/pkg/a.test.ts` (with sandbox `/sb`) or `a.test.ts` (cwd `pkg`) → `pkg/a.test.ts`. */
export function buildRootPath(path: string, ctx: ReportContext): string {
  let p = path;
  if (p.startsWith('file://')) {
    try {
      p = decodeURIComponent(p.slice('file://'.length));
    } catch {
      p = p.slice('file://'.length);
    }
  }
  const root = ctx.sandboxRoot?.replace(/\/+$/, '');
  if (root !== undefined && root !== '' && p.startsWith(`${root}/`)) return posix.normalize(p.slice(root.length + 1));
  // Absolute outside the sandbox: nothing to make it relative to, so it stays as the runner said.
  if (posix.isAbsolute(p)) return posix.normalize(p);
  const dir = ctx.packageDir === '.' ? '' : ctx.packageDir;
  return posix.normalize(posix.join(dir, p));
}

// Frames of the runners and of Node itself say nothing about the user's test.
const RUNNER_FRAME =
  /\(<anonymous>\)$|\((?:node:|internal\/)|\bat (?:node:|internal\/)|\bat async Promise\.all|node_modules\/(?:vitest|@vitest|tinypool|tinyspy|jest-[a-z-]+|@jest|expect|mocha|chai)\/|node:internal/;

/**
 * A stack or diff as a user wants to read it: the sandbox's path gone (so it reads the same
 * on every machine and cache hit), the runners' and Node's frames dropped, trailing blanks
 * trimmed, and bounded (120 lines, the first and last 60; 1000 characters a line).
 */
export function cleanStack(text: string, ctx: ReportContext): string {
  const lines = text
    .split(/\r?\n/)
    .filter((l) => !(/^\s*at /.test(l) && RUNNER_FRAME.test(l)))
    .map((l) => {
      // Frames name files as the runner saw them (cwd-relative for jest and mocha, absolute for others): build-root relative, all of them.
      const m = FRAME_PATH.exec(l);
      return m ? `${m[1]}${buildRootPath(m[2]!, ctx)}${m[3]}` : stripSandbox(l, ctx);
    });
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  return bounded(lines);
}

// A case is kept in the graph, the cache and a JUnit file: a diff of a huge object or a chatty
// process's whole stderr must not make it megabytes. The head says what failed, the tail how it ended.
const DETAIL_LINES = 120;
const DETAIL_LINE_CHARS = 1000;

function bounded(lines: readonly string[]): string {
  const clipped = lines.map((l) => (l.length > DETAIL_LINE_CHARS ? `${l.slice(0, DETAIL_LINE_CHARS)}… (${l.length - DETAIL_LINE_CHARS} more characters)` : l));
  if (clipped.length <= DETAIL_LINES) return clipped.join('\n');
  const half = DETAIL_LINES / 2;
  return [...clipped.slice(0, half), `… (${clipped.length - DETAIL_LINES} lines left out)`, ...clipped.slice(-half)].join('\n');
}

/** `text` with the sandbox's absolute path (and its `file://` form) cut out of every path in it. */
export function stripSandbox(text: string, ctx: ReportContext): string {
  const root = ctx.sandboxRoot?.replace(/\/+$/, '');
  if (root === undefined || root === '') return text;
  return text.split(`file://${root}/`).join('').split(`${root}/`).join('');
}

// The path of a frame, between what comes before it and `:line:col`.
const FRAME_PATH = /^(\s*at (?:.*? \()?)((?:file:\/\/)?[^()\s][^()]*?)(:\d+:\d+\)?\s*)$/;

const FRAME = /^\s*at (?:.*? \()?((?:file:\/\/)?[^()\s][^()]*?):(\d+):(\d+)\)?\s*$/;

/**
 * The first frame of `stack` in the test file `file` (build-root relative), or in its source
 * (`ctx.sourceOf`): where the assertion failed. A frame in a helper the test calls is not
 * it; the test's line is.
 */
export function locationInFile(stack: string | undefined, file: string, ctx: ReportContext): TestCaseLocation | undefined {
  if (stack === undefined) return undefined;
  const source = ctx.sourceOf?.[file];
  for (const line of stack.split(/\r?\n/)) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const at = buildRootPath(m[1]!, ctx);
    if (at === file || at === source) return { file: at, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

/**
 * The first lines of an error message: what a summary shows under the case's name. The
 * rest (a long diff) stays in the details.
 */
export function messageHead(message: string, maxLines = 12): string {
  const lines = message.replace(/\r\n/g, '\n').split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  if (lines.length <= maxLines) return lines.join('\n');
  return [...lines.slice(0, maxLines), `… (${lines.length - maxLines} more lines)`].join('\n');
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g;

/** Without terminal colours: a runner colours its messages when it thinks a terminal reads them. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}
