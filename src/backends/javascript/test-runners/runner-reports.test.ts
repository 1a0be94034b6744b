import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isFailureError } from '../../../core/index.js';
import { FILE_CASE_NAME, type TestCase } from '../../api/index.js';
import { failedRunCases, testRunnerNamed, type JsTestRunnerName } from './index.js';

// Real reports of vitest, jest and mocha, made by testdata/make-fixtures.mjs with the exact
// command `command()` gives (testdata/<runner>/runs.json: version, argv, exit code), from the
// same demo suite: nested suites, a pass, an assertion failure, a thrown error, skip, todo,
// a failing `beforeAll` and a file that throws while loading.

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const TESTDATA = join(repoRoot(), 'src/backends/javascript/test-runners/testdata');
const SANDBOX = '/tmp/trews-fixture-sandbox';

function fixture(runner: JsTestRunnerName, name: string): string {
  return readFileSync(join(TESTDATA, runner, name), 'utf8');
}

function parse(runner: JsTestRunnerName, name: string): readonly TestCase[] {
  return testRunnerNamed(runner).parseReport(fixture(runner, name), { packageDir: `packages/${runner}-demo`, sandboxRoot: SANDBOX });
}

function brief(cases: readonly TestCase[]): string[][] {
  return cases.map((c) => [c.file.replace(/^packages\/[a-z]+-demo\//, ''), [...c.suites, c.name].join(' > '), c.status]);
}

function only(cases: readonly TestCase[], name: string, file?: string): TestCase {
  const found = cases.filter((c) => c.name === name && (file === undefined || c.file.endsWith(file)));
  assert.equal(found.length, 1, `one case ${name} in ${JSON.stringify(brief(cases))}`);
  return found[0]!;
}

function assertClean(cases: readonly TestCase[]): void {
  for (const c of cases) {
    const text = JSON.stringify(c);
    assert.ok(!text.includes(SANDBOX), `the sandbox path leaks into ${text}`);
    assert.ok(!/node_modules|node:internal/.test(text) && !text.includes('\\u001b'), `runner frames or colours stay in ${text}`);
    assert.ok(c.durationMs >= 0);
  }
}

describe('vitest json report', () => {
  test('cases with suites, skip and todo; failures with the assertion and the line', () => {
    const cases = parse('vitest', 'all.json');
    assert.deepEqual(brief(cases), [
      ['tests/hook.test.js', 'hooked > never runs', 'skipped'],
      ['tests/hook.test.js', FILE_CASE_NAME, 'failed'],
      ['tests/load-error.test.js', FILE_CASE_NAME, 'failed'],
      ['tests/math.test.js', 'math > sums > adds', 'passed'],
      ['tests/math.test.js', 'math > sums > fails', 'failed'],
      ['tests/math.test.js', 'math > skipped one', 'skipped'],
      ['tests/math.test.js', 'math > todo one', 'todo'],
      ['tests/math.test.js', 'top level passes', 'passed'],
      ['tests/math.test.js', 'throws an error', 'failed'],
    ]);
    const fails = only(cases, 'fails');
    assert.equal(fails.failure?.message, 'AssertionError: expected 2 to be 3 // Object.is equality');
    assert.deepEqual(fails.failure?.location, { file: 'packages/vitest-demo/tests/math.test.js', line: 10, column: 21 });
    assert.equal(fails.failure?.details, 'AssertionError: expected 2 to be 3 // Object.is equality\n    at packages/vitest-demo/tests/math.test.js:10:21');
    assert.equal(only(cases, 'throws an error').failure?.message, 'boom\nsecond line');
    assert.equal(only(cases, FILE_CASE_NAME, 'load-error.test.js').failure?.message, 'cannot load');
    // vitest's json has no word of a failed beforeAll: the file fails, and says where to look.
    assert.match(only(cases, FILE_CASE_NAME, 'hook.test.js').failure!.message, /outside its test cases/);
    assertClean(cases);
  });

  test('a run of only the file that cannot load is that one failed case', () => {
    assert.deepEqual(brief(parse('vitest', 'load-error.json')), [['tests/load-error.test.js', FILE_CASE_NAME, 'failed']]);
  });
});

describe('jest json report', () => {
  test('cases with suites, skip and todo; failures with the assertion and the line', () => {
    const cases = parse('jest', 'all.json');
    assert.deepEqual(brief(cases), [
      ['tests/math.test.js', 'math > sums > adds', 'passed'],
      ['tests/math.test.js', 'math > sums > fails', 'failed'],
      ['tests/math.test.js', 'math > skipped one', 'skipped'],
      ['tests/math.test.js', 'math > todo one', 'todo'],
      ['tests/math.test.js', 'top level passes', 'passed'],
      ['tests/math.test.js', 'throws an error', 'failed'],
      ['tests/hook.test.js', 'hooked > never runs', 'failed'],
      ['tests/load-error.test.js', FILE_CASE_NAME, 'failed'],
    ]);
    const fails = only(cases, 'fails');
    assert.equal(fails.failure?.message, 'expect(received).toBe(expected) // Object.is equality\n\nExpected: 3\nReceived: 2');
    assert.deepEqual(fails.failure?.location, { file: 'packages/jest-demo/tests/math.test.js', line: 9, column: 21 });
    const hooked = only(cases, 'never runs');
    assert.equal(hooked.failure?.message, 'setup broke');
    assert.deepEqual(hooked.failure?.location, { file: 'packages/jest-demo/tests/hook.test.js', line: 3, column: 11 });
    const load = only(cases, FILE_CASE_NAME);
    assert.equal(load.failure?.message, 'cannot load');
    assert.deepEqual(load.failure?.location, { file: 'packages/jest-demo/tests/load-error.test.js', line: 2, column: 7 });
    assert.match(load.failure!.details!, /> 2 \| throw new Error\('cannot load'\);/, 'the code frame stays in the details');
    assertClean(cases);
  });

  test('a run of only the file that cannot load is that one failed case', () => {
    assert.deepEqual(brief(parse('jest', 'load-error.json')), [['tests/load-error.test.js', FILE_CASE_NAME, 'failed']]);
  });
});

describe('mocha (trews reporter)', () => {
  test('cases with their title path; pending is skipped; a failed before-all hook is a case of its suite', () => {
    const cases = parse('mocha', 'all.jsonl');
    assert.deepEqual(brief(cases), [
      ['test/math.test.js', 'top level passes', 'passed'],
      ['test/math.test.js', 'throws an error', 'failed'],
      ['test/math.test.js', 'math > skipped one', 'skipped'],
      ['test/math.test.js', 'math > pending one', 'skipped'],
      ['test/math.test.js', 'math > sums > adds', 'passed'],
      ['test/math.test.js', 'math > sums > fails', 'failed'],
      ['test/hook.test.js', 'hooked > "before all" hook for "never runs"', 'failed'],
    ]);
    const fails = only(cases, 'fails');
    assert.equal(fails.failure?.message, 'Expected values to be strictly equal:\n\n2 !== 3');
    assert.deepEqual(fails.failure?.location, { file: 'packages/mocha-demo/test/math.test.js', line: 10, column: 14 });
    assert.equal(
      fails.failure?.details,
      'AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n\n2 !== 3\n\n    at Context.<anonymous> (packages/mocha-demo/test/math.test.js:10:14)',
      "mocha's cwd-relative frames are made build-root relative",
    );
    assertClean(cases);
  });

  test('a file that stops mocha while loading leaves no report: its cases come from the output', () => {
    const runs = JSON.parse(fixture('mocha', 'runs.json')) as { run: string; outputs: Record<string, string | null>; exitCode: number }[];
    const run = runs.find((r) => r.run === 'load-error')!;
    assert.deepEqual(Object.values(run.outputs), [null], 'mocha wrote no report');
    const stderr = fixture('mocha', 'load-error.stderr.txt');
    const ctx = { packageDir: 'packages/mocha-demo', sandboxRoot: SANDBOX, exitCode: run.exitCode };
    const [alone] = failedRunCases(['test/load-error.test.js'], stderr, ctx);
    assert.deepEqual(
      { ...alone!, failure: { ...alone!.failure, details: undefined } },
      {
        file: 'packages/mocha-demo/test/load-error.test.js',
        name: FILE_CASE_NAME,
        suites: [],
        status: 'failed',
        durationMs: 0,
        failure: { message: 'Error: cannot load', location: { file: 'packages/mocha-demo/test/load-error.test.js', line: 2, column: 7 }, details: undefined },
      },
    );
    // In a batch, the file the output names carries the error; the others say they did not run.
    const batch = failedRunCases(['test/math.test.js', 'test/load-error.test.js'], stderr, ctx);
    assert.deepEqual(batch.map((c) => [c.file, c.failure?.location?.line]), [
      ['packages/mocha-demo/test/math.test.js', undefined],
      ['packages/mocha-demo/test/load-error.test.js', 2],
    ]);
    assert.match(batch[0]!.failure!.message, /^not run: another file of its batch stopped the runner \(Error: cannot load\)$/);
    assertClean(batch);
  });

  test('output naming no file fails every file with what the runner said, or the exit code', () => {
    const cases = failedRunCases(['a.test.js'], 'TypeError: config is not a function\n', { packageDir: '', exitCode: 2 });
    assert.deepEqual(cases.map((c) => [c.file, c.failure?.message]), [['a.test.js', 'TypeError: config is not a function']]);
    assert.equal(failedRunCases(['a.test.js'], 'killed\n', { packageDir: 'p', exitCode: 137 })[0]!.failure?.message, 'the runner exited with 137 without a report');
  });
});

describe('reports trews cannot read', () => {
  for (const runner of ['vitest', 'jest'] as const) {
    test(`${runner}: not JSON, no testResults, an unknown status: a FailureError that says so`, () => {
      const ctx = { packageDir: 'p' };
      const reason = (text: string): string => {
        try {
          testRunnerNamed(runner).parseReport(text, ctx);
        } catch (e) {
          assert.ok(isFailureError(e), String(e));
          assert.equal(e.failure.reason, 'test-report-unreadable');
          return e.failure.message;
        }
        assert.fail('parsed');
      };
      assert.match(reason(''), /it is empty/);
      assert.match(reason('<testsuites/>'), /it is not JSON/);
      assert.match(reason('{"numTotalTests":1}'), /no `testResults` array/);
      assert.match(reason('{"testResults":[{"name":"/a.js","assertionResults":[{"title":"t","status":"exploded"}]}]}'), /status `exploded`/);
    });
  }
  test('mocha: an empty report or a foreign line is a FailureError; a cut last line is not', () => {
    const parse = (t: string): readonly TestCase[] => testRunnerNamed('mocha').parseReport(t, { packageDir: 'p' });
    assert.throws(() => parse(''), (e: unknown) => isFailureError(e) && /empty/.test(e.failure.message));
    assert.throws(() => parse('{"stats":{}}\n{}\n'), (e: unknown) => isFailureError(e) && /line 1 is not an outcome/.test(e.failure.message));
    assert.deepEqual(brief(parse('{"event":"pass","file":"a.js","titlePath":["t"],"durationMs":1}\n{"event":"fa')), [['p/a.js', 't', 'passed']]);
  });
});
