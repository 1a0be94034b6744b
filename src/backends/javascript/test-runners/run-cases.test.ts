import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FILE_CASE_NAME, type TestCase } from '../../api/index.js';
import { isFailureError } from '../../../core/index.js';
import { casesOfRun, testRunnerNamed } from './index.js';

const mocha = testRunnerNamed('mocha');
const CTX = { packageDir: 'p', sandboxRoot: '/sb' };
const line = (o: object): string => `${JSON.stringify(o)}\n`;
const pass = (file: string, title: string): string => line({ event: 'pass', file: `/sb/p/${file}`, titlePath: [title], durationMs: 1 });
const fail = (file: string, title: string): string => line({ event: 'fail', file: `/sb/p/${file}`, titlePath: [title], error: { message: 'no', stack: `Error: no\n    at /sb/p/${file}:3:1` } });

function brief(cases: readonly TestCase[]): string[][] {
  return cases.map((c) => [c.file, c.name, c.status, c.failure?.message ?? '']);
}

describe('casesOfRun', () => {
  test('a passing run is its cases', () => {
    assert.deepEqual(brief(casesOfRun(mocha, { report: pass('a.test.js', 't'), files: ['a.test.js'], output: '', exitCode: 0 }, CTX)), [['p/a.test.js', 't', 'passed', '']]);
  });

  test('a failed run whose report has a failed case is its cases: the case says why', () => {
    const report = pass('a.test.js', 't') + fail('b.test.js', 'u');
    assert.deepEqual(brief(casesOfRun(mocha, { report, files: ['a.test.js', 'b.test.js', 'empty.test.js'], output: '', exitCode: 1 }, CTX)), [
      ['p/a.test.js', 't', 'passed', ''],
      ['p/b.test.js', 'u', 'failed', 'no'],
    ]);
  });

  test('no report, or an empty one: every file failed by itself, with what the output says', () => {
    for (const report of [undefined, '', '\n']) {
      const cases = casesOfRun(mocha, { ...(report !== undefined ? { report } : {}), files: ['a.test.js'], output: 'Error: Cannot find module \'chai\'\n', exitCode: 1 }, CTX);
      assert.deepEqual(brief(cases), [['p/a.test.js', FILE_CASE_NAME, 'failed', "Error: Cannot find module 'chai'"]]);
    }
  });

  test('a non-zero exit with every case passed fails the files: it never reads as passed', () => {
    const cases = casesOfRun(mocha, { report: pass('a.test.js', 't'), files: ['a.test.js'], output: 'Jest: "global" coverage threshold for lines (90%) not met: 50%\n', exitCode: 1 }, CTX);
    assert.deepEqual(brief(cases), [
      ['p/a.test.js', 't', 'passed', ''],
      ['p/a.test.js', FILE_CASE_NAME, 'failed', 'the runner exited with 1 although its report has no failure'],
    ]);
    assert.match(cases[1]!.failure!.details!, /coverage threshold/);
  });

  test('cases of files it was not asked to run (a vitest filter matching more) are left out', () => {
    const report = pass('a.test.js', 't') + pass('sub/a.test.js', 'other');
    assert.deepEqual(brief(casesOfRun(mocha, { report, files: ['a.test.js'], output: '', exitCode: 0 }, CTX)), [['p/a.test.js', 't', 'passed', '']]);
  });

  test('a case named by the source of a compiled file it ran is that file\'s', () => {
    const report = pass('src/a.test.ts', 't');
    const ctx = { ...CTX, sourceOf: { 'p/dist/a.test.js': 'p/src/a.test.ts' } };
    assert.deepEqual(brief(casesOfRun(mocha, { report, files: ['dist/a.test.js'], output: '', exitCode: 0 }, ctx)), [['p/src/a.test.ts', 't', 'passed', '']]);
    assert.deepEqual(brief(casesOfRun(mocha, { report, files: ['dist/a.test.js'], output: '', exitCode: 0 }, CTX)), [], 'without sourceOf it is another file');
  });

  test('a report that is there but unreadable stays a FailureError', () => {
    assert.throws(
      () => casesOfRun(mocha, { report: '{"stats":{}}\n{}\n', files: ['a.test.js'], output: '', exitCode: 1 }, CTX),
      (e: unknown) => isFailureError(e) && e.failure.reason === 'test-report-unreadable',
    );
  });
});
