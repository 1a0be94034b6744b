import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testRunnerNamed, MOCHA_REPORTER_FILE } from './index.js';

// The argv each runner gets; testdata/<runner>/runs.json shows the same commands run for real.

describe('runner commands', () => {
  test('vitest: run, default on stdout, json to the report, lcov with reportOnFailure and no clean, filters last', () => {
    const cmd = testRunnerNamed('vitest').command(['src/a.test.ts', '-b.test.ts'], { reportFile: '.trews-test/report', coverageFile: '.trews-test/lcov.info', extraArgs: ['--config', 'v.ts'] });
    assert.deepEqual(cmd.argv, [
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      '--outputFile.json=.trews-test/report',
      '--coverage.enabled=true',
      '--coverage.reporter=lcovonly',
      '--coverage.reportsDirectory=.trews-test',
      '--coverage.reportOnFailure=true',
      '--coverage.clean=false',
      '--config',
      'v.ts',
      'src/a.test.ts',
      './-b.test.ts',
    ]);
    assert.ok(!cmd.argv.includes('--'), 'vitest drops the filters after --: it would run every test file');
    assert.equal(cmd.coverageFile, '.trews-test/lcov.info');
    assert.deepEqual(cmd.outputFiles, ['.trews-test/report', '.trews-test/lcov.info']);
  });

  test('vitest and jest never own the package directory for coverage', () => {
    for (const runner of ['vitest', 'jest'] as const) {
      for (const coverageFile of ['lcov.info', './lcov.info']) {
        const cmd = testRunnerNamed(runner).command(['a.test.js'], { reportFile: 'r.json', coverageFile });
        assert.equal(cmd.coverageFile, '.trews-coverage/lcov.info', `${runner} ${coverageFile}`);
        assert.ok(cmd.argv.some((a) => a.endsWith('=.trews-coverage')), cmd.argv.join(' '));
      }
    }
  });

  test('jest: json to the report, paths by --runTestsByPath, lcov only', () => {
    const cmd = testRunnerNamed('jest').command(['tests/a.test.js', 'tests/b (1).test.js'], { reportFile: 'out/r.json', coverageFile: 'out/cov/lcov.info', extraArgs: ['-c', 'jest.config.js'] });
    assert.deepEqual(cmd.argv, [
      'jest',
      '--ci',
      '--json',
      '--outputFile=out/r.json',
      '--coverage',
      '--coverageReporters=lcovonly',
      '--coverageDirectory=out/cov',
      '-c',
      'jest.config.js',
      '--runTestsByPath',
      'tests/a.test.js',
      'tests/b (1).test.js',
    ]);
    assert.equal(cmd.coverageFile, 'out/cov/lcov.info');
    assert.deepEqual(cmd.sandboxFiles, {});
  });

  test('mocha: our reporter, written into the sandbox; files after --; no coverage', () => {
    const mocha = testRunnerNamed('mocha');
    const cmd = mocha.command(['test/a.js'], { reportFile: 'r.jsonl', extraArgs: ['-r', 'ts-node/register'] });
    assert.deepEqual(cmd.argv, ['mocha', `--reporter=./${MOCHA_REPORTER_FILE}`, '--reporter-option=output=r.jsonl', '-r', 'ts-node/register', '--', 'test/a.js']);
    assert.deepEqual(Object.keys(cmd.sandboxFiles), [MOCHA_REPORTER_FILE]);
    assert.equal(mocha.supportsCoverage, false);
    assert.equal(cmd.coverageFile, undefined);
  });

  test('each runner names its package', () => {
    assert.deepEqual(
      (['node', 'vitest', 'jest', 'mocha'] as const).map((n) => [testRunnerNamed(n).name, testRunnerNamed(n).packageName]),
      [['node', null], ['vitest', 'vitest'], ['jest', 'jest'], ['mocha', 'mocha']],
    );
  });
});
