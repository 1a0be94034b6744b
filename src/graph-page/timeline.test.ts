import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TraceRecorder } from '../ui/trace-recorder.js';
import { assignLanes, compareRuns, formatMicros, parseTrace, totalsBySource, type TimelineBar } from './timeline.js';

const bar = (start: number, dur: number, source = 'ran locally', description = `p${start}`): TimelineBar => ({ description, source, start, dur });

describe('assignLanes', () => {
  it('gives each bar the lowest lane free when it starts, so lanes count the greatest parallelism', () => {
    // a [0,10) b [2,5) c [5,8) d [9,12) e [10,11)
    const bars = [bar(0, 10), bar(2, 3), bar(5, 3), bar(9, 3), bar(10, 1)];
    assert.deepEqual(assignLanes(bars), { lanes: [0, 1, 1, 1, 0], count: 2 });
  });

  it('orders by start whatever the input order, and puts memoized results (no slot) on lane -1', () => {
    const bars = [bar(5, 5), bar(0, 10), bar(3, 0, 'memoized'), bar(0, 1)];
    assert.deepEqual(assignLanes(bars), { lanes: [1, 0, -1, 1], count: 2 });
  });

  it('has no lanes for no bars', () => {
    assert.deepEqual(assignLanes([]), { lanes: [], count: 0 });
  });
});

describe('totalsBySource', () => {
  it('counts and sums per source in the fixed order, unknown sources last', () => {
    const bars = [bar(0, 10, 'local cache'), bar(0, 5, 'ran locally'), bar(0, 7, 'ran locally'), bar(0, 1, 'zzz')];
    assert.deepEqual(totalsBySource(bars), [
      { source: 'ran locally', count: 2, time: 12 },
      { source: 'local cache', count: 1, time: 10 },
      { source: 'zzz', count: 1, time: 1 },
    ]);
  });
});

describe('compareRuns', () => {
  const p = (description: string, source: string, action?: string, input?: string): TimelineBar => ({
    description,
    source,
    start: 0,
    dur: 1,
    ...(action !== undefined ? { actionDigest: action } : {}),
    ...(input !== undefined ? { inputRootDigest: input } : {}),
  });
  it('says why each executed process missed the cache, as far as the digests tell', () => {
    const before = { bars: [p('edit', 'ran locally', 'a1', 'i1'), p('env', 'ran locally', 'a2', 'i2'), p('evicted', 'local cache', 'a3', 'i3'), p('cached', 'ran locally', 'a4', 'i4'), p('old', 'ran locally')] };
    const now = { bars: [p('edit', 'ran locally', 'b1', 'j1'), p('env', 'remote', 'b2', 'i2'), p('evicted', 'ran locally', 'a3', 'i3'), p('cached', 'local cache', 'a4', 'i4'), p('fresh', 'ran locally', 'c', 'k')] };
    const changes = compareRuns(before, now);
    assert.deepEqual(
      changes.map((c) => [c.description, c.reason]),
      [
        ['edit', 'inputs differ'],
        ['env', 'command differs'],
        ['evicted', 'same action'],
        ['fresh', 'new'],
        ['old', 'gone'],
        ['cached', 'unchanged'],
      ],
    );
    assert.equal(changes[0]!.inputRootBefore, 'i1');
    assert.equal(changes[0]!.inputRootNow, 'j1');
  });

  it('pairs a memoized result, which the goal names (`test //:t`), with its process by action digest', () => {
    const changes = compareRuns({ bars: [p('Run test_shell_command //:t', 'ran locally', 'a1', 'i1')] }, { bars: [p('test //:t', 'memoized', 'a1')] });
    assert.deepEqual(changes, [{ description: 'test //:t', now: 'memoized', before: 'ran locally', reason: 'unchanged', inputRootBefore: 'i1' }]);
  });

  it('says unknown when the trace holds no digests', () => {
    assert.equal(compareRuns({ bars: [p('x', 'ran locally')] }, { bars: [p('x', 'ran locally')] })[0]!.reason, 'unknown');
  });
});

describe('parseTrace', () => {
  it('reads what the TraceRecorder writes: processes with their source and digests, and phases', () => {
    let t = 0;
    const r = new TraceRecorder({ now: () => t, metadata: { argv: ['test', '::'], runId: 'abcd1234' } });
    const end = r.phase('goal test');
    r.processStarted(1, { description: 'Run a', argv: ['sh', '-c', 'true'], actionDigest: 'ad/1', inputRootDigest: 'ir/2' });
    t = 5;
    r.processFinished(1, { source: 'ran locally', exitCode: 0, outputBytes: { stdout: 3 } });
    r.memoized({ description: 'Run b' }, { exitCode: 0 });
    end();
    const run = parseTrace('fallback', JSON.stringify(r.toJSON()));
    assert.equal(run.id, 'abcd1234');
    assert.deepEqual(run.argv, ['test', '::']);
    assert.deepEqual(run.phases, [{ name: 'goal test', start: 0, dur: 5000 }]);
    assert.deepEqual(run.bars, [
      { description: 'Run a', source: 'ran locally', start: 0, dur: 5000, argv: ['sh', '-c', 'true'], actionDigest: 'ad/1', inputRootDigest: 'ir/2', exitCode: 0, outputBytes: { stdout: 3 } },
      { description: 'Run b', source: 'memoized', start: 5000, dur: 0, exitCode: 0 },
    ]);
  });

  it('rejects what is not a trews trace, saying why', () => {
    assert.throws(() => parseTrace('x', '{"traceEvents": ['), /not JSON/);
    assert.throws(() => parseTrace('x', '[]'), /no traceEvents/);
    assert.throws(() => parseTrace('x', '{"traceEvents": [], "otherData": {"format": "other"}}'), /format "other"/);
  });
});

it('formats microseconds', () => {
  assert.equal(formatMicros(35_400), '35 ms');
  assert.equal(formatMicros(1_240_000), '1.2 s');
  assert.equal(formatMicros(125_000_000), '2 min 5 s');
});
