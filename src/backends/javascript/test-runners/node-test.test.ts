import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { transformSync } from 'esbuild';
import { isFailureError } from '../../../core/index.js';
import { FILE_CASE_NAME, type TestCase } from '../../api/index.js';
import { testRunnerNamed } from './index.js';

// A real `node --test` in a directory that stands for a sandbox: `root` is its build root, the
// package is `pkg/`. What the reporter wrote is parsed back, so the reporter module and the
// parser are tested together against the Node that runs these tests.

const SUITE = `import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
describe('outer', () => {
  describe('inner', () => {
    it('adds', () => { assert.equal(1 + 1, 2); });
    it('fails', () => { assert.equal(1 + 1, 3, 'sum is wrong'); });
  });
  it.skip('skipped one', () => {});
  it.todo('todo one');
});
test('top level', async (t) => {
  await t.test('subtest passes', () => {});
  await t.test('subtest fails', () => { throw new Error('boom\\nsecond line'); });
});
test('plain pass', () => {});
`;

const HOOK = `import { describe, it, before } from 'node:test';
describe('with a failing hook', () => {
  before(() => { throw new Error('setup broke'); });
  it('never runs', () => {});
});
`;

const LOAD_ERROR = `import { test } from 'node:test';
test('never registered', () => {});
throw new Error('cannot load');
`;

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function runNodeTests(
  files: Record<string, string>,
  opts: { coverage?: boolean; run?: readonly string[]; extraArgs?: readonly string[]; sourceOf?: Record<string, string>; before?: (pkg: string) => void } = {},
): { cases: readonly TestCase[]; root: string; status: number | null; stdout: string; lcov?: string } {
  const root = mkdtempSync(join(tmpdir(), 'trews-node-test-'));
  roots.push(root);
  const pkg = join(root, 'pkg');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(pkg, path)), { recursive: true });
    writeFileSync(join(pkg, path), text);
  }
  writeFileSync(join(pkg, 'package.json'), '{"type":"module"}');
  const runner = testRunnerNamed('node');
  opts.before?.(pkg);
  const cmd = runner.command(opts.run ?? Object.keys(files), {
    reportFile: 'out/report.jsonl',
    ...(opts.coverage ? { coverageFile: 'out/lcov.info' } : {}),
    ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
  });
  mkdirSync(join(pkg, 'out'));
  for (const [path, text] of Object.entries(cmd.sandboxFiles)) writeFileSync(join(pkg, path), text);
  // These tests run under node --test themselves: NODE_TEST_CONTEXT would make the child report to us over stdout.
  const { NODE_TEST_CONTEXT: _, NODE_OPTIONS: __, ...env } = process.env;
  const r = spawnSync(process.execPath, cmd.argv.slice(1), { cwd: pkg, encoding: 'utf8', env: { ...env, ...cmd.env } });
  const cases = runner.parseReport(readFileSync(join(pkg, 'out/report.jsonl'), 'utf8'), { packageDir: 'pkg', sandboxRoot: root, ...(opts.sourceOf ? { sourceOf: opts.sourceOf } : {}) });
  return { cases, root, status: r.status, stdout: r.stdout, ...(opts.coverage ? { lcov: readFileSync(join(pkg, cmd.coverageFile!), 'utf8') } : {}) };
}

describe('node:test', () => {
  test('the command keeps spec on stdout and writes the report and lcov where asked', () => {
    const cmd = testRunnerNamed('node').command(['test/a.test.js', '-odd.test.js'], {
      reportFile: 'r.jsonl',
      coverageFile: 'c/lcov.info',
      extraArgs: ['--import', 'tsx'],
    });
    assert.deepEqual(cmd.argv, [
      'node',
      '--test',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=./.trews-node-test-reporter.mjs',
      '--test-reporter-destination=r.jsonl',
      '--experimental-test-coverage',
      '--test-reporter=lcov',
      '--test-reporter-destination=c/lcov.info',
      '--import',
      'tsx',
      'test/a.test.js',
      './-odd.test.js',
    ]);
    assert.deepEqual(cmd.outputFiles, ['r.jsonl', 'c/lcov.info']);
    assert.equal(cmd.coverageFile, 'c/lcov.info');
    assert.deepEqual(Object.keys(cmd.sandboxFiles), ['.trews-node-test-reporter.mjs']);
  });

  test('cases of a real run: suites, nesting, skip, todo, failures at their line', () => {
    const { cases, root, status, stdout } = runNodeTests({ 'test/a.test.js': SUITE });
    assert.equal(status, 1);
    assert.match(stdout, /✖ fails/, 'spec stays on stdout for humans');
    const brief = cases.map((c) => [c.file, [...c.suites, c.name].join(' > '), c.status]);
    assert.deepEqual(brief, [
      ['pkg/test/a.test.js', 'outer > inner > adds', 'passed'],
      ['pkg/test/a.test.js', 'outer > inner > fails', 'failed'],
      ['pkg/test/a.test.js', 'outer > skipped one', 'skipped'],
      ['pkg/test/a.test.js', 'outer > todo one', 'todo'],
      ['pkg/test/a.test.js', 'top level > subtest passes', 'passed'],
      ['pkg/test/a.test.js', 'top level > subtest fails', 'failed'],
      ['pkg/test/a.test.js', 'plain pass', 'passed'],
    ]);
    const fails = cases.find((c) => c.name === 'fails')!;
    assert.equal(fails.failure?.message, 'sum is wrong\n\n2 !== 3');
    assert.deepEqual(fails.failure?.location, { file: 'pkg/test/a.test.js', line: 6, column: 32 });
    assert.ok(fails.failure?.details?.includes('at TestContext.<anonymous> (pkg/test/a.test.js:6:32)'), fails.failure?.details);
    const sub = cases.find((c) => c.name === 'subtest fails')!;
    assert.equal(sub.failure?.message, 'boom\nsecond line');
    assert.deepEqual(sub.failure?.location, { file: 'pkg/test/a.test.js', line: 13, column: 47 });
    for (const c of cases) {
      assert.ok(c.durationMs >= 0);
      const text = JSON.stringify(c);
      assert.ok(!text.includes(root), `the sandbox path leaks into ${text}`);
      assert.ok(!/node:internal|async_hooks/.test(text), `Node's own frames stay in ${text}`);
    }
  });

  test('a file that throws while loading is one failed case at the throw, not zero cases', () => {
    const { cases, status } = runNodeTests({ 'ok.test.js': "import { test } from 'node:test';\ntest('fine', () => {});\n", 'bad.test.js': LOAD_ERROR });
    assert.equal(status, 1);
    const bad = cases.filter((c) => c.file === 'pkg/bad.test.js');
    assert.equal(bad.length, 1);
    assert.equal(bad[0]!.name, FILE_CASE_NAME);
    assert.equal(bad[0]!.status, 'failed');
    assert.equal(bad[0]!.failure?.message, 'Error: cannot load');
    assert.deepEqual(bad[0]!.failure?.location, { file: 'pkg/bad.test.js', line: 3, column: 7 });
    assert.deepEqual(
      cases.filter((c) => c.file === 'pkg/ok.test.js').map((c) => [c.name, c.status]),
      [['fine', 'passed']],
    );
  });

  test('a failing hook fails its suite as a case of its own, and the tests it cancelled', () => {
    const { cases } = runNodeTests({ 'hook.test.js': HOOK });
    assert.ok(cases.length > 0);
    assert.ok(cases.every((c) => c.status === 'failed'), JSON.stringify(cases));
    assert.ok(cases.some((c) => c.failure?.message.includes('setup broke')), JSON.stringify(cases));
  });

  test('odd throws, timeouts and skips with a reason are cases like any other', () => {
    const { cases } = runNodeTests({
      'odd.test.js': [
        "import { test } from 'node:test';",
        "test('throws a string', () => { throw 'just a string'; });",
        "test('throws null', () => { throw null; });",
        // A pending timer keeps the event loop busy: without it Node cancels the tests after this one.
        "test('too slow', { timeout: 50 }, () => new Promise((resolve) => setTimeout(resolve, 1000)));",
        "test('skips itself', (t) => { t.skip('not on this platform'); });",
        "test('todo with a reason', { todo: 'later' }, () => {});",
        '',
      ].join('\n'),
    });
    assert.deepEqual(
      cases.map((c) => [c.name, c.status]),
      [['throws a string', 'failed'], ['throws null', 'failed'], ['too slow', 'failed'], ['skips itself', 'skipped'], ['todo with a reason', 'todo']],
    );
    assert.equal(cases[0]!.failure?.message, 'just a string');
    assert.match(cases[2]!.failure!.message, /timed out after 50ms/);
    for (const c of cases.filter((x) => x.status === 'failed')) assert.deepEqual(c.failure?.location?.file, 'pkg/odd.test.js');
  });

  test('a file whose process fails after its tests passed fails by itself; an empty file is no case', () => {
    const { cases } = runNodeTests({
      'late.test.js': "import { test } from 'node:test';\ntest('passes', () => {});\nsetTimeout(() => { throw new Error('late async error'); }, 10);\n",
      'code.test.js': "import { test } from 'node:test';\ntest('passes', () => { process.exitCode = 3; });\n",
      'empty.test.js': '// no tests yet\n',
    });
    assert.deepEqual(
      cases.map((c) => [c.file, c.name, c.status, c.failure?.message]),
      [
        ['pkg/late.test.js', 'passes', 'passed', undefined],
        ['pkg/late.test.js', FILE_CASE_NAME, 'failed', 'Error: A resource generated asynchronous activity after the test ended. This activity created the error "Error: late async error" which triggered an uncaughtException event, caught by the test runner.'],
        ['pkg/code.test.js', 'passes', 'passed', undefined],
        ['pkg/code.test.js', FILE_CASE_NAME, 'failed', 'its process exited with code 3 outside any test'],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)),
    );
  });

  test('a compiled test run with source maps fails at the line of its TypeScript source', () => {
    const source = [
      "import { test } from 'node:test';",
      "import assert from 'node:assert/strict';",
      'interface Box { readonly n: number }',
      'const box: Box = { n: 1 };',
      '',
      "test('typed', () => {",
      '  assert.equal(box.n, 2);',
      '});',
      '',
    ].join('\n');
    const compile = (pkg: string): void => {
      const out = transformSync(source, { loader: 'ts', format: 'esm', sourcemap: 'external', sourcefile: '../src/a.test.ts' });
      mkdirSync(join(pkg, 'dist'), { recursive: true });
      writeFileSync(join(pkg, 'dist/a.test.js'), `${out.code}//# sourceMappingURL=a.test.js.map\n`);
      writeFileSync(join(pkg, 'dist/a.test.js.map'), out.map);
    };
    const { cases } = runNodeTests(
      { 'src/a.test.ts': source },
      { before: compile, run: ['dist/a.test.js'], extraArgs: ['--enable-source-maps'], sourceOf: { 'pkg/dist/a.test.js': 'pkg/src/a.test.ts' } },
    );
    // Node 20 source-maps the test's own file too: the case is the source's.
    assert.deepEqual(cases.map((c) => [c.file, c.name, c.status]), [['pkg/src/a.test.ts', 'typed', 'failed']]);
    assert.deepEqual(cases[0]!.failure?.location, { file: 'pkg/src/a.test.ts', line: 7, column: 10 });
  });

  test('coverage writes lcov beside the report', () => {
    const { lcov, cases } = runNodeTests({ 'lib.js': 'export const f = (x) => x > 0 ? 1 : 2;\n', 'lib.test.js': "import { test } from 'node:test';\nimport { f } from './lib.js';\ntest('f', () => { f(1); });\n" }, { coverage: true });
    assert.deepEqual(cases.map((c) => c.status), ['passed']);
    assert.match(lcov!, /^SF:.*lib\.js$/m);
    assert.match(lcov!, /end_of_record/);
  });

  test('a report that is not the reporter\'s is a FailureError naming the line, a cut last line is not', () => {
    const parse = (t: string): readonly TestCase[] => testRunnerNamed('node').parseReport(t, { packageDir: 'pkg' });
    assert.throws(
      () => parse('<?xml version="1.0"?>\n<testsuites/>\n'),
      (e: unknown) => isFailureError(e) && e.failure.reason === 'test-report-unreadable' && /line 1 is not JSON/.test(e.failure.message),
    );
    assert.throws(() => parse('{"event":"bogus"}\n'), (e: unknown) => isFailureError(e) && /not an event/.test(e.failure.message));
    const cut = '{"event":"start","file":"/x/a.js","name":"t","nesting":0}\n{"event":"pass","file":"/x/a.js","name":"t","nesting":0,"durationMs":1}\n{"event":"fa';
    assert.deepEqual(parse(cut).map((c) => [c.file, c.name, c.status]), [['/x/a.js', 't', 'passed']]);
  });
});
