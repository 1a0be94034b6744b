import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nullLogger, type Sha256Hex } from '../core/index.js';
import { summaryLine } from '../ui/index.js';
import { parseReplayRecord, REPLAY_DIR, replayFileName } from './replay-format.js';
import { markElapsed, OutputCapture, ReplayRecorder, type FinishedRun, type ReplaySetup } from './replay-record.js';

const scratch = mkdtempSync(join(tmpdir(), 'trews-replay-record-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A stream that keeps what is written to it, as process.stdout would print it. */
function sink(): NodeJS.WriteStream & { text: string } {
  const s = {
    text: '',
    write(chunk: unknown): boolean {
      s.text += String(chunk);
      return true;
    },
  };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

/** The fields of a record: [tag, value] in order, after its format line. */
function fields(bytes: Buffer): [string, string][] {
  const parsed = parseReplayRecord(bytes);
  assert.ok(parsed !== undefined, 'the record parses');
  return parsed.map((f) => [f.tag, f.value.toString('utf8')]);
}

describe('replayFileName', () => {
  it('is FNV-1a (64-bit) over the working directory and each argument, each ended by NUL (as the native client computes it)', () => {
    assert.equal(replayFileName('', []), 'af63bd4c8601b7df');
    assert.equal(replayFileName('/tmp/r', ['--no-daemon', 'build', '::']), '94c562915fb1dfb6');
    assert.equal(replayFileName('/tmp/é', ['a']), '9e323947edeb72cd', 'over the UTF-8 bytes');
    assert.notEqual(replayFileName('/a', ['b c']), replayFileName('/a', ['b', 'c']));
  });
});

describe('parseReplayRecord', () => {
  const good = Buffer.from('trews-replay 2\nc4:/a/b\nr3:x\ny\nz0:\n');
  it('reads the fields, any byte in a value', () => {
    assert.deepEqual(
      parseReplayRecord(good)?.map((f) => [f.tag, f.value.toString()]),
      [
        ['c', '/a/b'],
        ['r', 'x\ny'],
        ['z', ''],
      ],
    );
  });
  it('refuses a damaged, truncated, foreign or overlong record', () => {
    for (const bad of [
      good.subarray(0, good.length - 1),
      good.subarray(0, 20),
      Buffer.from('trews-replay 1\nz0:\n'),
      Buffer.from('trews-replay 2\nc9:/a/b\nz0:\n'),
      Buffer.from('trews-replay 2\nc:/a\nz0:\n'),
      Buffer.from('trews-replay 2\nz0:\nc1:x\n'),
      Buffer.alloc(0),
    ]) {
      assert.equal(parseReplayRecord(bad), undefined, JSON.stringify(bad.toString()));
    }
  });
});

describe('OutputCapture', () => {
  it('passes the output on unchanged and keeps it in order, with each summary time as a blank to fill', () => {
    const out = sink();
    const err = sink();
    const capture = new OutputCapture();
    capture.install(out, err);
    out.write('a line\n');
    err.write(`${summaryLine({ processes: 'none', elapsedMs: 210, markElapsed })}\n`);
    err.write(Buffer.from('bytes\n'));
    assert.equal(out.text, 'a line\n');
    assert.equal(err.text, 'Processes: none · Time: 0.21s\nbytes\n', 'nothing of the marks reaches the stream');
    assert.equal(capture.broken, undefined);
    assert.deepEqual(
      capture.segments.map((s) => [s.fd, s.kind, s.bytes.toString()]),
      [
        [1, 'text', 'a line\n'],
        [2, 'text', 'Processes: none · Time: '],
        [2, 'elapsed', '0.21s'],
        [2, 'text', '\n'],
        [2, 'text', 'bytes\n'],
      ],
    );
  });

  it('cannot keep text written in another encoding, or more than a MiB', () => {
    const capture = new OutputCapture();
    const err = sink();
    capture.install(sink(), err);
    err.write('aGk=', 'base64' as never);
    assert.match(capture.broken ?? '', /base64/);
    const big = new OutputCapture();
    const out = sink();
    big.install(out, sink());
    out.write('x'.repeat(1 << 20));
    out.write('y');
    assert.match(big.broken ?? '', /more than 1048576 bytes/);
  });
});

describe('ReplayRecorder', () => {
  let n = 0;
  /** A build root whose files the run "started" after (a start in the future makes every file old enough to stamp). */
  function setup(): { root: string; run: FinishedRun; replay: ReplaySetup; file: string } {
    const root = join(scratch, `root-${n++}`);
    mkdirSync(join(root, 'src'), { recursive: true });
    writeFileSync(join(root, 'trews.toml'), '');
    writeFileSync(join(root, 'src', 'a.txt'), 'a\n');
    writeFileSync(join(root, 'out.txt'), 'out\n');
    const code = join(root, 'code.cjs');
    writeFileSync(code, '// trews\n');
    const capture = new OutputCapture();
    const err = sink();
    capture.install(sink(), err);
    err.write(`done ${summaryLine({ processes: 'none', elapsedMs: 5, markElapsed })}\n`);
    const run: FinishedRun = {
      root,
      cwd: root,
      argv: ['--no-daemon', 'build', '::'],
      env: { B: '2', A: '1' },
      exitCode: 0,
      startedAtMs: Date.now() + 60_000,
      graph: { stamps: new Map([['src/a.txt', 'kept-stamp']]), programs: [join(root, 'no-such-tool')], listings: new Map() },
      storeFiles: [],
      storeDir: join(root, 'store'),
      configFile: 'trews.toml',
    };
    return { root, run, replay: { capture, codeFiles: [code], execPath: process.execPath, uid: 0, gid: 0 }, file: join(root, '.trews.d', REPLAY_DIR, replayFileName(root, run.argv)) };
  }

  it('writes every fact, the stamps and the output with its blank, ending in z', async () => {
    const { run, replay, file } = setup();
    const recorder = new ReplayRecorder(replay, nullLogger);
    recorder.observe('out.txt');
    await recorder.record(run);
    const f = fields(readFileSync(file));
    const tags = f.map(([t]) => t).join('');
    assert.match(tags, /^ugcaaaeenpspspsqsqsqsrtrxz$/);
    assert.deepEqual(
      f.filter(([t]) => t === 'e').map(([, v]) => v),
      ['A=1', 'B=2'],
      'the environment sorted',
    );
    const paths = f.filter(([t]) => t === 'p').map(([, v]) => v);
    assert.deepEqual(paths, ['src/a.txt', 'trews.toml', 'out.txt']);
    assert.equal(f[f.findIndex(([t, v]) => t === 'p' && v === 'src/a.txt') + 1]![1], 'kept-stamp', "the graph's own stamp");
    assert.match(f[f.findIndex(([t, v]) => t === 'p' && v === 'out.txt') + 1]![1], /^f:4:\d+:\d+:\d+:\d+:\d+$/);
    const tool = f.findIndex(([t, v]) => t === 'q' && v.endsWith('no-such-tool'));
    assert.equal(f[tool + 1]![1], 'absent');
    assert.deepEqual(
      f.filter(([t]) => 'rtx'.includes(t)),
      [
        ['r', 'done Processes: none · Time: '],
        ['t', '2'],
        ['r', '\n'],
        ['x', '0'],
      ],
    );
  });

  it('records nothing, and removes an older record, when the run failed, a goal refused, or the graph did not answer alone', async () => {
    const cases: [string, (r: ReplayRecorder, run: FinishedRun) => FinishedRun][] = [
      ['failed', (_r, run) => ({ ...run, exitCode: 1 })],
      ['refused', (r, run) => (r.refuse('a report was written'), run)],
      ['not the graph alone', (_r, run) => ({ ...run, graph: undefined })],
    ];
    for (const [what, spoil] of cases) {
      const { run, replay, file } = setup();
      await new ReplayRecorder(replay, nullLogger).record(run);
      assert.ok(existsSync(file), what);
      const recorder = new ReplayRecorder(replay, nullLogger);
      await recorder.record(spoil(recorder, run));
      assert.ok(!existsSync(file), what);
    }
  });

  it('a restorable build: its parent by listing, its outputs with digests and blobs, its counts marked; refused with a stray file or a damaged blob', async () => {
    const { root, run, replay, file } = setup();
    mkdirSync(join(root, 'pkg', 'dist'), { recursive: true });
    writeFileSync(join(root, 'pkg', 'dist', 'a.js'), 'a\n');
    const hash = createHash('sha256').update('a\n').digest('hex');
    const blob = join(run.storeDir, 'cas', hash.slice(0, 2), hash);
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, 'a\n');
    const record = async (): Promise<void> => {
      const capture = new OutputCapture();
      const out = sink();
      capture.install(out, sink());
      const recorder = new ReplayRecorder({ ...replay, capture }, nullLogger);
      for (const p of ['pkg', 'pkg/dist', 'pkg/dist/a.js']) recorder.observe(p);
      const mark = recorder.restorable({ bases: ['pkg/dist'], entries: [{ kind: 'file', path: 'pkg/dist/a.js', digest: { hash: hash as Sha256Hex, sizeBytes: 2 }, isExecutable: false }] });
      out.write(`built: ${mark('0 files written, 1 unchanged')}\n`);
      assert.equal(out.text, 'built: 0 files written, 1 unchanged\n', 'the mark does not reach the stream');
      await recorder.record(run);
    };
    await record();
    const f = fields(readFileSync(file));
    assert.deepEqual(
      f.filter(([t]) => t === 'p').map(([, v]) => v),
      ['src/a.txt', 'trews.toml'],
      'what a restore changes is not proven by a stamp',
    );
    const at = (tag: string): string[] => {
      const i = f.findIndex(([t]) => t === tag);
      return f.slice(i, i + 3).map(([t, v]) => `${t}${v}`);
    };
    assert.deepEqual(at('P').slice(0, 1), ['Ppkg']);
    // The kind `d`, the name `dist`, a NUL.
    assert.equal(at('P')[2], 'Lddist\0', "the parent's listing: the directory `dist`");
    assert.deepEqual(at('B').slice(0, 2), ['Bpkg/dist', 'k0']);
    assert.deepEqual([at('D')[0], at('D')[2]], ['Dpkg/dist', 'La.js\0']);
    assert.deepEqual(at('F').slice(0, 2), ['Fpkg/dist/a.js', `h${hash}:2:0`]);
    assert.match(at('F')[2]!, /^sf:2:/);
    assert.deepEqual(at('m').slice(0, 1), [`m${blob}`]);
    assert.deepEqual(
      f.filter(([t]) => 'ow'.includes(t)),
      [
        ['o', 'built: '],
        ['w', '0'],
        ['o', '\n'],
      ],
    );

    writeFileSync(join(root, 'pkg', 'dist', 'stray.js'), 'stray\n');
    await record();
    assert.ok(!existsSync(file), 'a file in the output directory that is no output');
    rmSync(join(root, 'pkg', 'dist', 'stray.js'));
    await record();
    assert.ok(existsSync(file));
    writeFileSync(blob, 'b\n');
    await record();
    assert.ok(!existsSync(file), 'a blob that does not hold its digest');
  });

  it('records nothing when a path it rests on changed within the racy margin of the start', async () => {
    const { run, replay, file } = setup();
    const recorder = new ReplayRecorder(replay, nullLogger);
    recorder.observe('out.txt');
    await recorder.record({ ...run, startedAtMs: Date.now() });
    assert.ok(!existsSync(file), 'out.txt was just written');
  });
});
