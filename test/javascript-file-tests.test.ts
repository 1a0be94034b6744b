// End-to-end: `trews test` runs each test file of a JavaScript workspace as
// its own cached process, on a copy of examples/ts-workspace (TypeScript
// packages whose `test` script is `node --test dist/`, so each file runs
// compiled, from the build's outputs). Real CLI, real npm install from the
// machine's npm cache, real tsc and node:test.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { repoRoot, runTrews, type CliResult } from './helpers/index.js';
import { resultLines, summaryLine } from './helpers/shell.js';

const EXAMPLE = join(repoRoot(), 'examples', 'ts-workspace');
const LEFT_OUT = new Set(['node_modules', 'dist', '.trews.d']);
const STRINGS_TEST = 'packages/strings/src/index.test.ts';

/** The result lines with the time gone and the case counts kept: `✓ <address> succeeded (ran locally): 2 cases`. */
function results(r: CliResult): string[] {
  return resultLines(r.stderr);
}

describe('JavaScript tests per file', () => {
  let scratch: string;
  let root: string;
  const trews = (args: string[]): Promise<CliResult> =>
    runTrews(args, {
      cwd: root,
      env: { TREWS_DAEMON: 'false', TREWS_LOCAL_STORE_DIR: join(scratch, 'store'), TMPDIR: scratch },
      timeoutMs: 300_000,
    });
  const edit = async (path: string, f: (text: string) => string): Promise<void> => writeFile(join(root, path), f(await readFile(join(root, path), 'utf8')));

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'trews-js-file-tests-'));
    root = join(scratch, 'ts-workspace');
    await cp(EXAMPLE, root, { recursive: true, filter: (src) => !LEFT_OUT.has(src.split('/').pop() ?? '') || src === EXAMPLE });
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('runs each test file as its own process, with its cases, instead of the packages\' test scripts', async () => {
    const r = await trews(['test', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli/src/message.test.ts:../cli succeeded (ran locally): 1 case',
      '✓ packages/greeter/src/index.test.ts:../greeter succeeded (ran locally): 2 cases',
      '✓ packages/strings/src/index.test.ts:../strings succeeded (ran locally): 2 cases',
    ]);
    assert.match(r.stderr, /^Tests: 3 passed, 3 total · Cases: 5 passed, 5 total · Processes: 7 ran locally · Time: /m);
  });

  it('after an edit, reruns exactly the test files whose imports reach it; the others come from the cache', async () => {
    // A new file nothing imports: the strings build reruns (its output differs), no test can see it.
    await writeFile(join(root, 'packages/strings/src/unused.ts'), 'export const unused = 1;\n');
    let r = await trews(['test', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli/src/message.test.ts:../cli succeeded (local cache): 1 case',
      '✓ packages/greeter/src/index.test.ts:../greeter succeeded (local cache): 2 cases',
      '✓ packages/strings/src/index.test.ts:../strings succeeded (local cache): 2 cases',
    ]);
    // greeter's source: its own test and the app's (which imports @demo/greeter) rerun; strings' test cannot reach it.
    await edit('packages/greeter/src/index.ts', (t) => `${t}\nexport const edited = true;\n`);
    r = await trews(['test', '::']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), [
      '✓ apps/cli/src/message.test.ts:../cli succeeded (ran locally): 1 case',
      '✓ packages/greeter/src/index.test.ts:../greeter succeeded (ran locally): 2 cases',
      '✓ packages/strings/src/index.test.ts:../strings succeeded (local cache): 2 cases',
    ]);
    // The build of greeter and of the app (its build depends on ^build) and two tests.
    assert.equal(summaryLine(r.stderr), '4 ran locally, 3 from the local cache');
  });

  it('runs one file by its path; a failing case is told by its name, its assertion and its file:line', async () => {
    const good = await readFile(join(root, STRINGS_TEST), 'utf8');
    const lines = good.split('\n').length;
    await writeFile(
      join(root, STRINGS_TEST),
      `${good.replace("import { test } from 'node:test';", "import { describe, test } from 'node:test';")}\ndescribe('titles', () => {\n  test('breaks on purpose', () => {\n    assert.equal(titleCase('ada'), 'ADA');\n  });\n});\n`,
    );
    try {
      const r = await trews(['test', STRINGS_TEST, '--test-report-dir=reports']);
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(results(r), ['✕ packages/strings/src/index.test.ts:../strings failed (ran locally): 3 cases (2 passed, 1 failed)']);
      // The assertion is on the 4th line of what was appended after the file's last line; column of `assert`.
      const failure = `  ✕ titles › breaks on purpose (${STRINGS_TEST}:${lines + 3}:12)`;
      assert.ok(r.stderr.includes(`${failure}\n    Expected values to be strictly equal:\n`), r.stderr);
      assert.ok(r.stderr.includes("'Ada' !== 'ADA'"), r.stderr);
      assert.match(r.stderr, /^Tests: 1 failed, 1 total · Cases: 2 passed, 1 failed, 3 total · /m);

      // JUnit XML, parsed back: one file per test file, its cases with the failure and its line.
      const xml = await readFile(join(root, 'reports', `${STRINGS_TEST}.xml`), 'utf8');
      const parsed = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'testcase' || name === 'testsuite' }).parse(xml) as {
        testsuites: { testsuite: { '@_name': string; '@_tests': string; '@_failures': string; testcase: { '@_name': string; '@_classname': string; '@_line'?: string; failure?: { '@_message': string } }[] }[] };
      };
      const suite = parsed.testsuites.testsuite[0]!;
      assert.equal(suite['@_name'], STRINGS_TEST);
      assert.equal(suite['@_tests'], '3');
      assert.equal(suite['@_failures'], '1');
      const broken = suite.testcase.find((c) => c['@_name'] === 'breaks on purpose')!;
      assert.equal(broken['@_classname'], 'titles');
      assert.equal(broken['@_line'], String(lines + 3));
      assert.match(broken.failure!['@_message'], /Expected values to be strictly equal/);
    } finally {
      await writeFile(join(root, STRINGS_TEST), good);
    }
    // A cached result still has its cases: the report is an output of the process.
    await rm(join(root, 'reports'), { recursive: true });
    const r = await trews(['test', STRINGS_TEST, '--test-report-dir=reports']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r), ['✓ packages/strings/src/index.test.ts:../strings succeeded (local cache): 2 cases']);
    assert.match(await readFile(join(root, 'reports', `${STRINGS_TEST}.xml`), 'utf8'), /<testsuite name="packages\/strings\/src\/index\.test\.ts" tests="2" failures="0"/);
  });

  it('with test_granularity = "package", the packages\' test scripts run instead', async () => {
    const r = await trews(['test', '::', '--javascript-test-granularity=package']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(results(r).map((l) => l.replace(/ \((ran locally|local cache)\)$/, '')), [
      '✓ apps/cli:test succeeded',
      '✓ packages/greeter:test succeeded',
      '✓ packages/strings:test succeeded',
    ]);
  });

  it('files with one batch_compatibility_tag run in one process, each told by its own cases', async () => {
    await writeFile(join(root, 'packages/strings/BUILD'), 'package_json(test_batch_compatibility_tag="unit")\n');
    const more = 'packages/strings/src/more.test.ts';
    await writeFile(
      join(root, more),
      "import assert from 'node:assert/strict';\nimport { test } from 'node:test';\nimport { titleCase } from './index.js';\n\ntest('fails', () => {\n  assert.equal(titleCase('x'), 'y');\n});\n",
    );
    try {
      const r = await trews(['test', 'packages/strings::']);
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(results(r), [
        '✓ packages/strings/src/index.test.ts:../strings succeeded (ran locally): 2 cases',
        '✕ packages/strings/src/more.test.ts:../strings failed (ran locally): 1 case (1 failed)',
      ]);
      assert.ok(r.stderr.includes(`  ✕ fails (${more}:6:10)`), r.stderr);
      // The build of strings and one test process for both files.
      assert.equal(summaryLine(r.stderr), '2 ran locally, 1 from the local cache');
    } finally {
      await rm(join(root, more));
      await rm(join(root, 'packages/strings/BUILD'));
    }
  });
});
