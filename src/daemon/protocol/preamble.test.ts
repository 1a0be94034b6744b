import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Chunk, ChunkDecoder, type ChunkType, encodeChunk } from './codec.js';
import { type NailgunRequest, RequestBuilder, type RequestStep, encodeRequest } from './preamble.js';

function chunk(type: ChunkType, payload = ''): Chunk {
  return { type, payload: Buffer.from(payload, 'utf8') };
}

/** Feeds chunks until the builder finishes or fails; returns the last step. */
function feed(chunks: readonly Chunk[], builder = new RequestBuilder()): RequestStep {
  let step: RequestStep = { status: 'more' };
  for (const c of chunks) {
    step = builder.accept(c);
    if (step.status !== 'more') return step;
  }
  return step;
}

function expectError(step: RequestStep, reason: string, message: RegExp): void {
  assert.equal(step.status, 'error');
  if (step.status !== 'error') return;
  assert.equal(step.error.reason, reason);
  assert.match(step.error.message, message);
}

describe('RequestBuilder', () => {
  test('collects arguments, environment, working directory and command', () => {
    const step = feed([
      chunk('A', 'list'),
      chunk('E', 'HOME=/home/me'),
      chunk('A', '::'),
      chunk('E', 'EMPTY='),
      chunk('E', 'EQ=a=b'),
      chunk('D', '/repo/src'),
      chunk('C', 'trews'),
    ]);
    assert.equal(step.status, 'done');
    if (step.status !== 'done') return;
    assert.equal(step.request.command, 'trews');
    assert.deepEqual(step.request.args, ['list', '::']);
    assert.equal(step.request.cwd, '/repo/src');
    assert.deepEqual({ ...step.request.env }, { HOME: '/home/me', EMPTY: '', EQ: 'a=b' });
  });

  test('later environment entries override earlier ones', () => {
    const step = feed([chunk('E', 'A=1'), chunk('E', 'A=2'), chunk('D', '/'), chunk('C', 'c')]);
    assert.equal(step.status === 'done' && step.request.env['A'], '2');
  });

  test('a Windows-style key starting with = keeps its leading =', () => {
    const step = feed([chunk('E', '=C:=C:\\src'), chunk('D', 'C:\\src'), chunk('C', 'c')]);
    assert.equal(step.status === 'done' && step.request.env['=C:'], 'C:\\src');
  });

  test('an environment key named __proto__ is an ordinary key', () => {
    const step = feed([chunk('E', '__proto__=x'), chunk('E', 'constructor=y'), chunk('D', '/'), chunk('C', 'c')]);
    assert.equal(step.status, 'done');
    if (step.status !== 'done') return;
    assert.equal(Object.getPrototypeOf(step.request.env), null);
    assert.deepEqual(Object.keys(step.request.env), ['__proto__', 'constructor']);
    assert.equal(step.request.env['__proto__'], 'x');
  });

  test('unicode survives as UTF-8', () => {
    const step = feed([chunk('A', 'ünïcødé ✓'), chunk('D', '/tmp/ß'), chunk('C', 'c')]);
    assert.ok(step.status === 'done');
    assert.deepEqual(step.request.args, ['ünïcødé ✓']);
    assert.equal(step.request.cwd, '/tmp/ß');
  });

  test('an environment entry without = is refused', () => {
    expectError(feed([chunk('E', 'NOVALUE'), chunk('D', '/'), chunk('C', 'c')]), 'malformed-environment', /"NOVALUE" has no '='/);
    expectError(feed([chunk('E', '=')]), 'malformed-environment', /no '='/);
  });

  test('the command before the working directory is refused', () => {
    expectError(feed([chunk('A', 'x'), chunk('C', 'c')]), 'missing-working-directory', /'C'.*before.*'D'/);
  });

  test('a second working directory is refused', () => {
    expectError(feed([chunk('D', '/a'), chunk('D', '/b')]), 'unexpected-chunk', /sent twice/);
  });

  test('arguments or environment after the working directory are refused', () => {
    expectError(feed([chunk('D', '/a'), chunk('A', 'x')]), 'unexpected-chunk', /an argument \('A'\) came after the working directory/);
    expectError(feed([chunk('D', '/a'), chunk('E', 'K=V')]), 'unexpected-chunk', /an environment entry \('E'\) came after/);
  });

  for (const type of ['0', '.', 'H', 'S', '1', '2', 'X'] as const) {
    test(`a '${type}' chunk before the command is refused`, () => {
      const step = feed([chunk('A', 'x'), chunk(type)]);
      expectError(step, 'unexpected-chunk', /chunk arrived before the command/);
      assert.ok(step.status === 'error' && step.error.message.startsWith(`a '${type}' chunk`));
    });
  }

  test('any chunk after the command is refused', () => {
    const builder = new RequestBuilder();
    assert.equal(feed([chunk('D', '/'), chunk('C', 'c')], builder).status, 'done');
    expectError(builder.accept(chunk('A', 'late')), 'unexpected-chunk', /already ended/);
  });

  test('stays failed after an error', () => {
    const builder = new RequestBuilder();
    const first = builder.accept(chunk('X'));
    assert.equal(first.status, 'error');
    const again = builder.accept(chunk('D', '/'));
    assert.equal(again.status === 'error' && first.status === 'error' && again.error, first.status === 'error' && first.error);
  });
});

describe('encodeRequest', () => {
  const request: NailgunRequest = {
    command: 'trews',
    args: ['test', 'src::', ''],
    env: { PATH: '/bin', NAILGUN_TTY_1: '1', WITH_EQ: 'a=b' },
    cwd: '/repo',
  };

  test('sends arguments, environment, directory, then command', () => {
    const decoded = new ChunkDecoder().push(Buffer.concat(encodeRequest(request)));
    assert.ok(decoded.ok);
    assert.deepEqual(
      decoded.chunks.map((c) => `${c.type}:${c.payload.toString()}`),
      ['A:test', 'A:src::', 'A:', 'E:PATH=/bin', 'E:NAILGUN_TTY_1=1', 'E:WITH_EQ=a=b', 'D:/repo', 'C:trews'],
    );
  });

  test('round-trips through RequestBuilder', () => {
    const decoded = new ChunkDecoder().push(Buffer.concat(encodeRequest(request)));
    assert.ok(decoded.ok);
    const step = feed(decoded.chunks);
    assert.ok(step.status === 'done');
    assert.deepEqual({ ...step.request, env: { ...step.request.env } }, request);
  });

  test('refuses environment names that cannot be sent as KEY=VALUE', () => {
    assert.throws(() => encodeRequest({ ...request, env: { 'A=B': 'c' } }), /cannot be sent/);
    assert.throws(() => encodeRequest({ ...request, env: { '': 'c' } }), /cannot be sent/);
  });

  test('each element is one whole chunk', () => {
    const frames = encodeRequest({ command: 'c', args: ['a'], env: {}, cwd: '/' });
    assert.deepEqual(frames, [encodeChunk('A', 'a'), encodeChunk('D', '/'), encodeChunk('C', 'c')]);
  });
});
