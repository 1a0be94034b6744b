import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isFailureError } from '../../core/index.js';
import { mapLcovPaths, mergeLcov } from './index.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const TESTDATA = join(repoRoot(), 'src/goals/test-reports/testdata');

/** The record of `sf` in `lcov`, its lines in order. */
function record(lcov: string, sf: string): string[] {
  const lines = lcov.split('\n');
  const start = lines.indexOf(`SF:${sf}`);
  assert.ok(start >= 0, `no SF:${sf} in\n${lcov}`);
  return lines.slice(start, lines.indexOf('end_of_record', start) + 1);
}

describe('mergeLcov', () => {
  test('sums hits of one file from two processes and counts again', () => {
    const a = ['TN:', 'SF:src/x.js', 'FN:1,f', 'FN:5,g', 'FNDA:2,f', 'FNDA:0,g', 'FNF:2', 'FNH:1', 'BRDA:2,0,0,1', 'BRDA:2,0,1,0', 'BRF:2', 'BRH:1', 'DA:1,2', 'DA:2,2', 'DA:3,0', 'LF:3', 'LH:2', 'end_of_record', ''].join('\n');
    const b = ['TN:', 'SF:src/x.js', 'FN:5,g', 'FNDA:1,g', 'BRDA:2,0,0,0', 'BRDA:2,0,1,3', 'BRDA:9,1,0,-', 'DA:3,4', 'DA:9,0', 'LF:2', 'LH:1', 'end_of_record', 'SF:src/a.js', 'DA:1,1', 'end_of_record', ''].join('\n');
    assert.equal(
      mergeLcov([a, b]),
      [
        'TN:', 'SF:src/a.js', 'FNF:0', 'FNH:0', 'BRF:0', 'BRH:0', 'DA:1,1', 'LF:1', 'LH:1', 'end_of_record',
        'TN:', 'SF:src/x.js', 'FN:1,f', 'FN:5,g', 'FNDA:2,f', 'FNDA:1,g', 'FNF:2', 'FNH:2',
        'BRDA:2,0,0,1', 'BRDA:2,0,1,3', 'BRDA:9,1,0,-', 'BRF:3', 'BRH:2',
        'DA:1,2', 'DA:2,2', 'DA:3,4', 'DA:9,0', 'LF:4', 'LH:3', 'end_of_record', '',
      ].join('\n'),
    );
    assert.equal(mergeLcov([b, a]), mergeLcov([a, b]), 'the order of the processes does not matter');
  });

  test('a branch not run in one process and taken in another is taken', () => {
    const merged = mergeLcov(['SF:x\nBRDA:1,0,0,-\nend_of_record\n', 'SF:x\nBRDA:1,0,0,2\nend_of_record\n']);
    assert.deepEqual(record(merged, 'x').filter((l) => l.startsWith('BR')), ['BRDA:1,0,0,2', 'BRF:1', 'BRH:1']);
  });

  test('lcov 2 FN with an end line, names with commas, DA checksums and CRLF', () => {
    const merged = mergeLcov(['SF:x\r\nFN:3,9,a, b\r\nFNDA:1,a, b\r\nDA:3,1,abc\r\nend_of_record\r\n', 'SF:x\nFNDA:2,a, b\nDA:3,1\nend_of_record\n']);
    assert.deepEqual(record(merged, 'x'), ['SF:x', 'FN:3,a, b', 'FNDA:3,a, b', 'FNF:1', 'FNH:1', 'BRF:0', 'BRH:0', 'DA:3,2', 'LF:1', 'LH:1', 'end_of_record']);
  });

  test('two real node:test reports of one module, merged as worked out by hand', () => {
    const a = readFileSync(join(TESTDATA, 'node-a.lcov'), 'utf8');
    const b = readFileSync(join(TESTDATA, 'node-b.lcov'), 'utf8');
    const merged = mergeLcov([a, b]);
    assert.deepEqual(record(merged, 'lib.mjs'), [
      'SF:lib.mjs',
      'FN:1,f',
      'FN:7,g',
      'FNDA:2,f',
      'FNDA:1,g',
      'FNF:2',
      'FNH:2',
      'BRDA:1,0,0,2',
      'BRDA:1,1,0,2',
      'BRDA:2,2,0,0',
      'BRDA:4,2,0,0',
      'BRDA:7,3,0,1',
      'BRF:5',
      'BRH:3',
      'DA:1,2',
      'DA:2,2',
      'DA:3,1',
      'DA:4,1',
      'DA:5,1',
      'DA:6,2',
      'DA:7,2',
      'LF:7',
      'LH:7',
      'end_of_record',
    ]);
    assert.deepEqual(record(merged, 'a.test.mjs'), record(mergeLcov([a]), 'a.test.mjs'), "a file only one process covered is its own record");
    assert.equal(mergeLcov([merged]), merged, 'merging is idempotent on its own output');
  });

  test('garbage is a FailureError naming the report and line, not a NaN in the output', () => {
    assert.throws(
      () => mergeLcov(['SF:x\nDA:1,1\nend_of_record\n', 'SF:x\nDA:one,1\nend_of_record\n']),
      (e: unknown) => isFailureError(e) && e.failure.reason === 'lcov-unreadable' && /report 2 line 2/.test(e.failure.message),
    );
    assert.throws(() => mergeLcov(['DA:1,1\n']), (e: unknown) => isFailureError(e) && /outside a record/.test(e.failure.message));
    assert.equal(mergeLcov([]), '');
    assert.equal(mergeLcov(['', '\n']), '');
  });

  test('mapLcovPaths rewrites SF lines only', () => {
    assert.equal(mapLcovPaths('TN:SF:x\nSF:lib.js\r\nDA:1,1\nSF:/sb/p/b.js\n', (p) => `pkg/${p}`), 'TN:SF:x\nSF:pkg/lib.js\r\nDA:1,1\nSF:pkg//sb/p/b.js\n');
  });
});
