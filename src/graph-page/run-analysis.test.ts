import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consumedOutputs, criticalPath, diffFiles } from './run-analysis.js';

const bar = (start: number, dur: number, source = 'ran locally') => ({ start, dur, source });
const set = (...xs: string[]) => new Set(xs);

describe('consumedOutputs', () => {
  it('ties a process to the one whose output contents are among its inputs, under any path', () => {
    const bars = [bar(0, 10), bar(12, 10), bar(0, 5)];
    const deps = consumedOutputs(bars, [set('src-a'), set('src-b', 'out-a'), set('src-c')], [set('out-a'), set('out-b'), set('out-c')]);
    assert.deepEqual(deps, [[], [0], []]);
  });

  it('does not tie a process to one that had not finished when it started', () => {
    const bars = [bar(0, 10), bar(5, 10)];
    assert.deepEqual(consumedOutputs(bars, [set(), set('x')], [set('x'), set()]), [[], []]);
  });

  it('does not make a process that passed contents on their origin', () => {
    // 0 makes x; 1 copies x through to its outputs; 2 reads x: 2 waited for 0, and 1 for 0, not 2 for 1.
    const bars = [bar(0, 10), bar(11, 5), bar(20, 5)];
    const deps = consumedOutputs(bars, [set(), set('x'), set('x')], [set('x'), set('x'), set()]);
    assert.deepEqual(deps, [[], [0], [0]]);
  });

  it('ties nothing to contents some process had before any origin of them finished, nor to ignored contents', () => {
    // `same` is a source file's contents that process 0 also happens to write; process 1 had it from the start.
    const bars = [bar(0, 10), bar(1, 3), bar(20, 5)];
    const deps = consumedOutputs(bars, [set(), set('same'), set('same', 'empty')], [set('same', 'empty'), set(), set()], set('empty'));
    assert.deepEqual(deps, [[], [], []]);
  });

  it('knows nothing of a process whose trees are unknown', () => {
    const bars = [bar(0, 10), bar(12, 1)];
    assert.deepEqual(consumedOutputs(bars, [undefined, undefined], [set('x'), undefined]), [[], []]);
  });
});

describe('criticalPath', () => {
  it('follows, from the process that finished last, the one each waited for that finished last', () => {
    const bars = [bar(0, 10), bar(0, 30), bar(31, 5), bar(40, 20), bar(12, 3)];
    // 3 waited for 2 and 4; 2 waited for 0 and 1 (1 finished later).
    const path = criticalPath(bars, [[], [], [0, 1], [2, 4], [0]]);
    assert.deepEqual(path, [1, 2, 3]);
  });

  it('leaves out memoized results and is empty when nothing took time', () => {
    assert.deepEqual(criticalPath([bar(5, 0, 'memoized'), bar(0, 1)], [[], []]), [1]);
    assert.deepEqual(criticalPath([bar(5, 0, 'memoized')], [[]]), []);
  });

  it('stops on a cycle in what it is given rather than looping', () => {
    assert.deepEqual(criticalPath([bar(0, 5), bar(0, 6)], [[1], [0]]), [0, 1]);
  });
});

describe('diffFiles', () => {
  it('names the files added, removed and changed, sorted, and counts those past the limit', () => {
    const before = new Map([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    const now = new Map([
      ['a', '1'],
      ['b', '9'],
      ['d', '4'],
    ]);
    assert.deepEqual(diffFiles(before, now), {
      files: [
        { path: 'b', change: 'changed' },
        { path: 'c', change: 'removed' },
        { path: 'd', change: 'added' },
      ],
      more: 0,
    });
    assert.deepEqual(diffFiles(before, now, 1), { files: [{ path: 'b', change: 'changed' }], more: 2 });
  });
});
