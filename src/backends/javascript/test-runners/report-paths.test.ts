import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildRootPath, cleanStack, locationInFile, messageHead, stripAnsi } from './report-paths.js';

const SB = { packageDir: 'packages/a', sandboxRoot: '/sb/123/' };

describe('report paths', () => {
  test('sandbox-absolute, file URLs (escaped too) and cwd-relative paths all become build-root relative', () => {
    assert.equal(buildRootPath('/sb/123/packages/a/t.test.js', SB), 'packages/a/t.test.js');
    assert.equal(buildRootPath('file:///sb/123/packages/a/my%20t.test.js', SB), 'packages/a/my t.test.js');
    assert.equal(buildRootPath('t.test.js', SB), 'packages/a/t.test.js');
    assert.equal(buildRootPath('./sub/../t.test.js', SB), 'packages/a/t.test.js');
    assert.equal(buildRootPath('t.test.js', { packageDir: '' }), 't.test.js');
    assert.equal(buildRootPath('t.test.js', { packageDir: '.' }), 't.test.js');
    assert.equal(buildRootPath('/sb/1234/x.js', SB), '/sb/1234/x.js', 'a sibling directory sharing the prefix is not inside the sandbox');
    assert.equal(buildRootPath('file:///bad%zz.js', SB), '/bad%zz.js', 'a malformed escape is kept, not thrown');
  });

  test('the location is the first frame in the test file, not a helper it called', () => {
    const stack = [
      'Error: no',
      '    at check (/sb/123/packages/a/helpers.js:3:9)',
      '    at Context.<anonymous> (/sb/123/packages/a/t.test.js:10:5)',
      '    at /sb/123/packages/a/t.test.js:20:1',
    ].join('\n');
    assert.deepEqual(locationInFile(stack, 'packages/a/t.test.js', SB), { file: 'packages/a/t.test.js', line: 10, column: 5 });
    assert.equal(locationInFile(stack, 'packages/a/other.test.js', SB), undefined);
    assert.equal(locationInFile(undefined, 'x', SB), undefined);
    // A source-mapped stack points into the compiled file's source: that is the failure's place.
    const mapped = 'Error: no\n    at Context.<anonymous> (/sb/123/packages/a/src/t.test.ts:7:3)';
    assert.equal(locationInFile(mapped, 'packages/a/dist/t.test.js', SB), undefined);
    assert.deepEqual(locationInFile(mapped, 'packages/a/dist/t.test.js', { ...SB, sourceOf: { 'packages/a/dist/t.test.js': 'packages/a/src/t.test.ts' } }), {
      file: 'packages/a/src/t.test.ts',
      line: 7,
      column: 3,
    });
  });

  test('clean stacks: runner and Node frames gone, paths relative, the sandbox cut from the message', () => {
    const stack = [
      "Error: ENOENT: no such file '/sb/123/packages/a/data.json'",
      '    at Object.<anonymous> (test/t.test.js:4:9)',
      '    at Promise.then.completed (/sb/123/node_modules/jest-circus/build/utils.js:298:28)',
      '    at new Promise (<anonymous>)',
      '    at file:///sb/123/node_modules/@vitest/runner/dist/index.js:1:1',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      '    at async Promise.all (index 0)',
      '    at helper (file:///sb/123/packages/a/util.js:2:3)',
      '',
      '',
    ].join('\n');
    assert.equal(
      cleanStack(stack, SB),
      "Error: ENOENT: no such file 'packages/a/data.json'\n    at Object.<anonymous> (packages/a/test/t.test.js:4:9)\n    at helper (packages/a/util.js:2:3)",
    );
  });

  test('details are bounded: the head and the tail of a huge diff or output, long lines cut', () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    const out = cleanStack([...lines, 'x'.repeat(50_000)].join('\n'), SB).split('\n');
    assert.equal(out.length, 121);
    assert.equal(out[0], 'line 0');
    assert.equal(out[59], 'line 59');
    assert.equal(out[60], '… (4881 lines left out)');
    assert.equal(out[119], 'line 4999');
    assert.equal(out[120], `${'x'.repeat(1000)}… (49000 more characters)`);
  });

  test('message heads are bounded; colours are stripped', () => {
    const long = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
    const head = messageHead(`\n\n${long}\n\n`);
    assert.equal(head.split('\n').length, 13);
    assert.match(head, /^line 0\n/);
    assert.match(head, /… \(18 more lines\)$/);
    assert.equal(stripAnsi('\u001b[31mred\u001b[39m \u001b[1mbold\u001b[22m'), 'red bold');
  });
});
