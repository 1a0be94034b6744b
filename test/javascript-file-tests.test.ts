// End-to-end: `trews test` runs each test file of a JavaScript workspace as
// its own cached process, on a copy of examples/ts-workspace (TypeScript
// packages whose `test` script is `node --test dist/`, so each file runs
// compiled, from the build's outputs). Real CLI, real npm install from the
// machine's npm cache, real tsc and node:test.
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { execFileSync } from 'node:child_process';
import { copyExampleWorkspace, runTrews, withRepo, type CliResult, type ExampleWorkspace } from './helpers/index.js';
import { resultLines, summaryLine } from './helpers/shell.js';

const STRINGS_TEST = 'packages/strings/src/index.test.ts';

/** The result lines with the time gone and the case counts kept: `✓ <address> succeeded (ran locally): 2 cases`. */
function results(r: CliResult): string[] {
  return resultLines(r.stderr);
}

describe('JavaScript tests per file', () => {
  let ws: ExampleWorkspace;
  let root: string;
  const trews = (args: string[]): Promise<CliResult> => ws.trews(args);
  const edit = (path: string, f: (text: string) => string): Promise<void> => ws.edit(path, f);

  before(async () => {
    ws = await copyExampleWorkspace('trews-js-file-tests-');
    root = ws.root;
  });
  after(() => ws.remove());

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

const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

/** A plain-JavaScript workspace: nothing to build, so each test file runs from its sources. */
const PLAIN: Record<string, string> = {
  'package.json': json({ name: 'plain', private: true, workspaces: ['packages/*'] }),
  'packages/math/package.json': json({ name: '@plain/math', version: '1.0.0', type: 'module', scripts: { test: 'node --test' } }),
  'packages/math/src/add.js': 'export const add = (a, b) => a + b;\n',
  'packages/math/src/mul.js': "import { add } from './add.js';\nexport const mul = (a, b) => { let r = 0; for (let i = 0; i < b; i++) r = add(r, a); return r; };\n",
  'packages/math/test/add.test.js': "import assert from 'node:assert/strict';\nimport { test } from 'node:test';\nimport { add } from '../src/add.js';\ntest('adds', () => assert.equal(add(2, 3), 5));\n",
  'packages/math/test/mul.test.js': "import assert from 'node:assert/strict';\nimport { test } from 'node:test';\nimport { mul } from '../src/mul.js';\ntest('multiplies', () => assert.equal(mul(2, 3), 6));\n",
  'packages/tool/package.json': json({ name: '@plain/tool', version: '1.0.0', scripts: { test: 'make check' } }),
  'packages/tool/test/x.test.js': '',
};

describe('JavaScript tests per file, from the sources', () => {
  it('an edit reruns the tests that import it (through the daemon); a script trews cannot read stays the package\'s test', async () => {
    await withRepo(PLAIN, async (repo, env) => {
      execFileSync('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund'], { cwd: repo.root, stdio: 'ignore' });
      const trews = (args: string[]): Promise<CliResult> => runTrews(args, { cwd: repo.root, env, timeoutMs: 300_000 });
      try {
        let r = await trews(['test', 'packages/math::']);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(results(r), [
          '✓ packages/math/test/add.test.js:../math succeeded (ran locally): 1 case',
          '✓ packages/math/test/mul.test.js:../math succeeded (ran locally): 1 case',
        ]);
        // `make check` names no runner: packages/tool keeps its script, and its file is no test of its own.
        r = await trews(['list', 'packages/tool::']);
        assert.equal(r.code, 0, r.stderr);
        r = await trews(['peek', 'packages/tool/test/x.test.js', 'packages/tool:test']);
        const peeked = JSON.parse(r.stdout) as { address: string; skip_tests: boolean }[];
        assert.deepEqual(peeked.map((t) => [t.address, t.skip_tests]), [
          ['packages/tool/test/x.test.js:../tool', true],
          ['packages/tool:test', false],
        ]);
        // mul.js: only the test that imports it reruns.
        await repo.write('packages/math/src/mul.js', PLAIN['packages/math/src/mul.js']!.replace('let r = 0;', 'let r = 0 * a;'));
        r = await trews(['test', 'packages/math::']);
        assert.equal(r.code, 0, r.stderr);
        // Not run: from the daemon's graph or the local cache (the package's file list, which the rule reads, changed).
        assert.deepEqual(results(r).map((l) => l.replace(/\((memoized|local cache)\)/, '(cached)')), [
          '✓ packages/math/test/add.test.js:../math succeeded (cached): 1 case',
          '✓ packages/math/test/mul.test.js:../math succeeded (ran locally): 1 case',
        ]);
        // add.js: both import it (mul.test.js through mul.js).
        await repo.write('packages/math/src/add.js', 'export const add = (a, b) => b + a;\n');
        r = await trews(['test', 'packages/math::']);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(results(r), [
          '✓ packages/math/test/add.test.js:../math succeeded (ran locally): 1 case',
          '✓ packages/math/test/mul.test.js:../math succeeded (ran locally): 1 case',
        ]);
      } finally {
        await trews(['daemon', 'stop']);
      }
    });
  });
});
