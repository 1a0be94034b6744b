/**
 * The outcome of one test case, whatever runner ran it (node:test, vitest, jest, mocha):
 * what a test goal counts, prints on failure and writes as JUnit XML. Paths are relative
 * to the build root, so a case reads the same from any sandbox, machine or cache hit.
 */
export type TestCaseStatus = 'passed' | 'failed' | 'skipped' | 'todo';

export interface TestCaseLocation {
  /** Build-root relative. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column?: number;
}

export interface TestCaseFailure {
  /** The assertion's message: one or a few lines. */
  readonly message: string;
  /** Where it failed in the test file (the deepest stack frame in it), when the runner says. */
  readonly location?: TestCaseLocation;
  /** The stack or diff, without the runner's own frames and the sandbox's path. */
  readonly details?: string;
}

export interface TestCase {
  /** The test file, build-root relative. */
  readonly file: string;
  /** The case's own name. */
  readonly name: string;
  /** The enclosing describe()/suite names, outermost first. */
  readonly suites: readonly string[];
  readonly status: TestCaseStatus;
  readonly durationMs: number;
  readonly failure?: TestCaseFailure;
}

/**
 * The name of the case that stands for a test file that failed by itself: it threw while
 * loading, or its process ended badly outside any case. A file that cannot load is a
 * failure, never "0 cases, passed".
 */
export const FILE_CASE_NAME = '(file)';

/** `outer > inner > name`: how a case is named in a summary line. */
export function testCaseTitle(c: Pick<TestCase, 'suites' | 'name'>): string {
  return [...c.suites, c.name].join(' > ');
}

export interface TestCaseCounts {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly todo: number;
  readonly total: number;
}

export function countTestCases(cases: readonly TestCase[]): TestCaseCounts {
  const n = { passed: 0, failed: 0, skipped: 0, todo: 0 };
  for (const c of cases) n[c.status]++;
  return { ...n, total: cases.length };
}
