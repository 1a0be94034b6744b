import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { failure } from '../core/index.js';
import { renderFailure } from './diagnostic.js';
import { SOURCE_WINDOW } from './safe-text.js';
import { LiveConsole, liveLines, progressHeader, stillRunningLine } from './live-console.js';
import { countsLine, formatDuration, ProcessTally, summaryLine } from './summary.js';
import { naturalCompare } from './natural-sort.js';
import { colorEnabled } from './colors.js';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('renderFailure', () => {
  it('draws the location, a caret under the span, notes and hints', () => {
    const f = failure('input', 'x', 'unknown target `//lib:utl`', {
      location: { file: 'app/BUILD', line: 3, col: 19, lineText: '    dependencies=["//lib:utl"],', length: 11 },
      notes: ['reached through: //:root -> app:app'],
      hints: ['did you mean //lib:util?'],
    });
    assert.equal(
      renderFailure(f),
      'error: app/BUILD:3:19: unknown target `//lib:utl`\n      dependencies=["//lib:utl"],\n                    ^^^^^^^^^^^\n  reached through: //:root -> app:app\n  did you mean //lib:util?\n',
    );
  });

  it('shows control characters and direction overrides escaped, and keeps the caret under its span', () => {
    const f = failure('input', 'x', 'bad name `x\x1b]0;owned\x07`\r\u202e', {
      location: { file: 'a/BUILD', line: 1, col: 14, lineText: 'target(name="\x1b[2Jx", tags=["\x9b"])', length: 6 },
      notes: ['stderr: \x1b[31mred\x1b[0m'],
      hints: ['tab\there'],
    });
    const text = renderFailure(f);
    const raw = [...text].filter((c) => c !== '\n' && (c < ' ' || (c >= '\x7f' && c <= '\x9f') || (c >= '\u202a' && c <= '\u202e')));
    assert.deepEqual(raw, [], 'no raw control character is printed');
    assert.equal(
      text,
      [
        'error: a/BUILD:1:14: bad name `x\\x1b]0;owned\\x07`\\x0d\\u{202e}',
        '  target(name="\\x1b[2Jx", tags=["\\x9b"])',
        '               ^^^^^^^^^',
        '  stderr: \\x1b[31mred\\x1b[0m',
        '  tab\\x09here',
        '',
      ].join('\n'),
    );
  });

  it('shows a window of a very long source line around the caret, and cuts very long messages', () => {
    const line = `${'a'.repeat(5_000_000)}BAD${'b'.repeat(5_000_000)}`;
    const f = failure('input', 'x', `unknown name \`${'n'.repeat(3_000_000)}\``, {
      location: { file: 'a/BUILD', line: 1, col: 5_000_001, lineText: line, length: 3 },
    });
    const [message, source, caret] = renderFailure(f).split('\n');
    assert.ok(message!.length < 1100, `message is ${message!.length} characters`);
    assert.match(message!, /… \(\d+ more characters\)$/);
    assert.ok(source!.length <= 2 + 2 + SOURCE_WINDOW, `source is ${source!.length} characters`);
    assert.ok(source!.startsWith('  …') && source!.endsWith('…'));
    const at = caret!.indexOf('^');
    assert.equal(source!.slice(at, at + 3), 'BAD');
    assert.equal(caret!.slice(at), '^^^');
  });

  it('adds the log path to internal errors only', () => {
    assert.match(renderFailure(failure('internal', 'x', 'boom'), { logPath: '/r/.trews.d/trews.log' }), /details are in \/r\/.trews.d\/trews.log/);
    assert.doesNotMatch(renderFailure(failure('input', 'x', 'boom'), { logPath: '/l' }), /details/);
  });
});

describe('LiveConsole', () => {
  it('prints only permanent lines when not dynamic', () => {
    const sink = new Sink();
    const c = new LiveConsole({ stream: sink, dynamic: false, width: 80 });
    c.taskStarted(1, 'Run a');
    c.print('done a');
    c.taskFinished(1);
    c.close();
    assert.equal(sink.text, 'done a\n');
  });

  it('redraws the running tasks in place and erases them at the end', () => {
    const sink = new Sink();
    let now = 0;
    const c = new LiveConsole({ stream: sink, dynamic: true, width: 80, now: () => now, redrawMs: 1_000_000 });
    c.taskStarted(1, 'Run a');
    now = 1500;
    c.taskStarted(2, 'Run b');
    c.print('line');
    c.taskFinished(1);
    c.taskFinished(2);
    c.close();
    // Between timer ticks only a permanent line redraws; the live area is erased (cursor up + clear) before it and at the end.
    assert.equal(
      sink.text,
      '1 process running\n   0.0s  Run a\n' + '\x1b[2F\x1b[0Jline\n2 processes running\n   1.5s  Run a\n   0.0s  Run b\n' + '\x1b[3F\x1b[0J',
    );
  });

  it('liveLines sorts by start, cuts to the width and summarizes overflow', () => {
    const tasks = [
      { label: 'b', start: 5 },
      { label: 'a-very-long-label-indeed', start: 0 },
      { label: 'c', start: 6 },
    ];
    assert.deepEqual(liveLines(tasks, 1000, 20, 2), ['   1.0s  a-very-lon…', '         … and 2 more']);
  });
});

describe('ProcessTally', () => {
  it('summarizes by source in a fixed order', () => {
    const t = new ProcessTally();
    for (let i = 0; i < 3; i++) t.add('local cache');
    t.add('ran locally');
    t.failed();
    assert.equal(t.parts(), '1 ran locally, 3 from the local cache, 1 could not run');
    assert.equal(new ProcessTally().parts(), 'none');
  });

  it('formats durations', () => {
    assert.equal(formatDuration(420), '0.42s');
    assert.equal(formatDuration(63_000), '1m03s');
  });
});

describe('naturalCompare', () => {
  it('orders numbers by value (p2 before p10), and is a total order', () => {
    assert.deepEqual(['p10', 'p2', 'p1', 'a:t10', 'a:t9', 'p01', 'b'].sort(naturalCompare), ['a:t9', 'a:t10', 'b', 'p1', 'p01', 'p2', 'p10']);
    assert.deepEqual(['shard-10', 'shard-9', 'shard-9a'].sort(naturalCompare), ['shard-9', 'shard-9a', 'shard-10']);
    assert.equal(naturalCompare('x', 'x'), 0);
    assert.ok(naturalCompare('1', '01') < 0 && naturalCompare('01', '1') > 0);
  });

  it('compares digit runs in place exactly as by their significant digits (leading zeros, long runs, 0 and 00)', () => {
    // The definition the in-place comparison replaced: significant digits by length, then text.
    const reference = (a: string, b: string): number => {
      const ra = a.match(/\d+|\D/g) ?? [];
      const rb = b.match(/\d+|\D/g) ?? [];
      for (let k = 0; k < ra.length && k < rb.length; k++) {
        const [x, y] = [ra[k]!, rb[k]!];
        if (/^\d/.test(x) && /^\d/.test(y)) {
          const [nx, ny] = [x.replace(/^0+(?=\d)/, ''), y.replace(/^0+(?=\d)/, '')];
          if (nx.length !== ny.length) return nx.length - ny.length;
          if (nx !== ny) return nx < ny ? -1 : 1;
          if (x.length !== y.length) return x.length - y.length;
        } else if (x !== y) return x.charCodeAt(0) - y.charCodeAt(0);
      }
      return ra.length - rb.length;
    };
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const word = (): string => Array.from({ length: 1 + rnd(8) }, () => '0019ap:/'[rnd(8)]).join('');
    for (let k = 0; k < 5000; k++) {
      const [a, b] = [word(), word()];
      assert.equal(Math.sign(naturalCompare(a, b)), Math.sign(reference(a, b)), `${a} vs ${b}`);
    }
    assert.ok(naturalCompare('p0', 'p00') < 0 && naturalCompare('p00', 'p0') > 0 && naturalCompare('p007', 'p7') > 0);
    assert.ok(naturalCompare('x12345678901234567890', 'x12345678901234567891') < 0);
  });
});

describe('progress, still running and the summary line', () => {
  it('the header counts the goal\'s results and the processes running now', () => {
    assert.equal(progressHeader({ done: 3, total: 10, noun: 'tests' }, 2), '[3/10 tests] 2 processes running');
    assert.equal(progressHeader(undefined, 1), '1 process running');
  });

  it('a pipe quiet for QUIET_MS says what still runs, longest first', async () => {
    const sink = new Sink();
    let now = 0;
    const c = new LiveConsole({ stream: sink, dynamic: false, width: 80, now: () => now, quietMs: 8 });
    c.setProgress({ done: 1, total: 3, noun: 'tests' });
    c.taskStarted(1, 'Run a');
    now = 2;
    c.taskStarted(2, 'Run b');
    now = 12_000;
    const deadline = Date.now() + 30_000;
    while (!sink.text.includes('still running') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    c.close();
    assert.equal(sink.text.split('\n')[0], '[1/3 tests] still running: Run a (12.0s), Run b (12.0s)');
    assert.equal(stillRunningLine([{ label: 'x', start: 0 }], 1500, undefined), 'still running: x (1.5s)');
  });

  it('one line: the goal\'s counts, the processes by source, the time', () => {
    const tally = new ProcessTally();
    for (const s of ['local cache', 'ran locally', 'local cache']) tally.add(s);
    const counts = countsLine('Tests', [{ count: 2, label: 'passed' }, { count: 0, label: 'failed' }], 2, 1);
    assert.equal(summaryLine({ results: counts, processes: tally.parts(), elapsedMs: 4200 }), 'Tests: 2 passed, 2 total (1 memoized) · Processes: 1 ran locally, 2 from the local cache · Time: 4.2s');
  });
});

describe('colorEnabled', () => {
  const choose = (o: Partial<Parameters<typeof colorEnabled>[0]>): boolean => colorEnabled({ option: true, optionSet: false, env: {}, isTTY: true, ...o });
  it('follows the terminal, NO_COLOR, FORCE_COLOR and --colors', () => {
    assert.equal(choose({}), true);
    assert.equal(choose({ isTTY: false }), false);
    assert.equal(choose({ env: { NO_COLOR: '1' } }), false);
    assert.equal(choose({ env: { TERM: 'dumb' } }), false);
    assert.equal(choose({ isTTY: false, env: { FORCE_COLOR: '1' } }), true);
    assert.equal(choose({ env: { FORCE_COLOR: '0' } }), false);
    assert.equal(choose({ option: false, env: { FORCE_COLOR: '1' } }), false);
    assert.equal(choose({ isTTY: false, optionSet: true }), true);
  });
});
