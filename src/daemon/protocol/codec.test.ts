import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Chunk, ChunkDecoder, ChunkType, HEADER_BYTES, encodeChunk, isChunkType } from './codec.js';
import { ProtocolError } from './errors.js';
import { decodeExitCode, encodeExit } from './exit-code.js';

const ALL_TYPES = Object.values(ChunkType);

function decodeAll(decoder: ChunkDecoder, bytes: Uint8Array): Chunk[] {
  const r = decoder.push(bytes);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.chunks;
}

function simplify(chunks: readonly Chunk[]): { type: string; payload: string }[] {
  return chunks.map((c) => ({ type: c.type, payload: c.payload.toString('latin1') }));
}

describe('encodeChunk', () => {
  test('writes a 4-byte big-endian length, the type byte, then the payload', () => {
    const frame = encodeChunk(ChunkType.Argument, 'héllo');
    const payload = Buffer.from('héllo', 'utf8');
    assert.deepEqual([...frame.subarray(0, 5)], [0, 0, 0, payload.byteLength, 0x41]);
    assert.deepEqual(frame.subarray(5), payload);
  });

  test('encodes lengths above 255 across all four header bytes', () => {
    const frame = encodeChunk(ChunkType.Stdout, Buffer.alloc(0x01_02_03, 7));
    assert.deepEqual([...frame.subarray(0, 5)], [0x00, 0x01, 0x02, 0x03, 0x31]);
    assert.equal(frame.byteLength, HEADER_BYTES + 0x01_02_03);
  });

  test('an empty payload is a bare header', () => {
    assert.deepEqual([...encodeChunk(ChunkType.StartInput)], [0, 0, 0, 0, 0x53]);
    assert.deepEqual([...encodeChunk(ChunkType.Heartbeat, new Uint8Array(0))], [0, 0, 0, 0, 0x48]);
  });

  test('uses the Nailgun type bytes', () => {
    assert.deepEqual(
      { ...ChunkType },
      {
        Argument: 'A',
        Environment: 'E',
        WorkingDirectory: 'D',
        Command: 'C',
        Stdin: '0',
        StdinEof: '.',
        Heartbeat: 'H',
        StartInput: 'S',
        Stdout: '1',
        Stderr: '2',
        Exit: 'X',
      },
    );
    assert.ok(isChunkType('X'));
    assert.ok(!isChunkType('L'));
    assert.ok(!isChunkType('P'));
  });
});

describe('ChunkDecoder', () => {
  test('round-trips every chunk type', () => {
    for (const type of ALL_TYPES) {
      const payload = Buffer.from(`payload of ${type}\u0000\xff`, 'latin1');
      const chunks = decodeAll(new ChunkDecoder(), encodeChunk(type, payload));
      assert.equal(chunks.length, 1, type);
      assert.equal(chunks[0]?.type, type);
      assert.deepEqual(chunks[0]?.payload, payload);
    }
  });

  test('decodes many chunks coalesced into one read', () => {
    const frames = ALL_TYPES.map((t, i) => encodeChunk(t, 'x'.repeat(i)));
    const chunks = decodeAll(new ChunkDecoder(), Buffer.concat(frames));
    assert.deepEqual(
      simplify(chunks),
      ALL_TYPES.map((t, i) => ({ type: t, payload: 'x'.repeat(i) })),
    );
  });

  test('decodes a stream fed one byte at a time', () => {
    const frames = Buffer.concat([
      encodeChunk(ChunkType.Argument, 'one'),
      encodeChunk(ChunkType.StartInput),
      encodeChunk(ChunkType.Stdout, Buffer.alloc(3000, 0x61)),
      encodeChunk(ChunkType.Exit, '3'),
    ]);
    const decoder = new ChunkDecoder();
    const chunks: Chunk[] = [];
    for (let i = 0; i < frames.byteLength; i++) {
      chunks.push(...decodeAll(decoder, frames.subarray(i, i + 1)));
    }
    assert.deepEqual(simplify(chunks), [
      { type: 'A', payload: 'one' },
      { type: 'S', payload: '' },
      { type: '1', payload: 'a'.repeat(3000) },
      { type: 'X', payload: '3' },
    ]);
    assert.equal(decoder.bufferedBytes, 0);
    assert.deepEqual(decoder.end(), { ok: true });
  });

  test('decodes reads that split chunks at arbitrary points', () => {
    const frames = Buffer.concat(Array.from({ length: 50 }, (_, i) => encodeChunk(ChunkType.Stderr, `line ${i}\n`)));
    const decoder = new ChunkDecoder();
    const chunks: Chunk[] = [];
    // Uneven read sizes, so cuts land in headers and payloads alike.
    for (let at = 0, size = 1; at < frames.byteLength; at += size, size = (size % 13) + 2) {
      chunks.push(...decodeAll(decoder, frames.subarray(at, at + size)));
    }
    assert.equal(chunks.map((c) => c.payload.toString()).join(''), Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''));
  });

  test('accepts Uint8Array views that are not Buffers', () => {
    const frame = encodeChunk(ChunkType.Command, 'list');
    const copy = new Uint8Array(frame.byteLength + 4);
    copy.set(frame, 2);
    const chunks = decodeAll(new ChunkDecoder(), copy.subarray(2, 2 + frame.byteLength));
    assert.deepEqual(simplify(chunks), [{ type: 'C', payload: 'list' }]);
  });

  test('refuses a payload above the limit from its header alone', () => {
    const decoder = new ChunkDecoder({ maxPayloadBytes: 10 });
    const header = encodeChunk(ChunkType.Stdin, Buffer.alloc(11)).subarray(0, HEADER_BYTES);
    const r = decoder.push(header);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.error instanceof ProtocolError);
    assert.equal(!r.ok && r.error.reason, 'payload-too-large');
    assert.match(!r.ok ? r.error.message : '', /11-byte payload.*limit of 10 bytes/);
  });

  test('accepts a payload exactly at the limit', () => {
    const decoder = new ChunkDecoder({ maxPayloadBytes: 10 });
    assert.equal(decodeAll(decoder, encodeChunk(ChunkType.Stdin, Buffer.alloc(10))).length, 1);
  });

  test('the default limit is 16 MiB', () => {
    const decoder = new ChunkDecoder();
    const header = Buffer.from([0x01, 0x00, 0x00, 0x01, 0x31]);
    const r = decoder.push(header);
    assert.equal(!r.ok && r.error.reason, 'payload-too-large');
    const fine = new ChunkDecoder().push(Buffer.from([0x01, 0x00, 0x00, 0x00, 0x31]));
    assert.ok(fine.ok);
  });

  test('refuses an unknown chunk type, naming it', () => {
    const decoder = new ChunkDecoder();
    const good = encodeChunk(ChunkType.Argument, 'a');
    const bad = Buffer.from([0, 0, 0, 0, 0x4c]); // 'L', the C client's long argument, which we do not speak
    const r = decoder.push(Buffer.concat([good, bad]));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.reason, 'unknown-chunk-type');
    assert.match(!r.ok ? r.error.message : '', /'L' \(0x4c\)/);
    // The well-formed chunk before it is still reported.
    assert.deepEqual(simplify(r.chunks), [{ type: 'A', payload: 'a' }]);
  });

  test('describes an unprintable type byte in hex', () => {
    const r = new ChunkDecoder().push(Buffer.from([0, 0, 0, 0, 0x00]));
    assert.match(!r.ok ? r.error.message : '', /unknown Nailgun chunk type 0x00$/);
  });

  test('stays failed after an error', () => {
    const decoder = new ChunkDecoder();
    const first = decoder.push(Buffer.from([0, 0, 0, 0, 0x7a]));
    assert.equal(first.ok, false);
    const again = decoder.push(encodeChunk(ChunkType.Argument, 'a'));
    assert.equal(again.ok, false);
    assert.equal(!again.ok && !first.ok && again.error, !first.ok && first.error);
    assert.equal(decoder.end().ok, false);
  });

  test('end() inside a header is a truncation', () => {
    const decoder = new ChunkDecoder();
    decodeAll(decoder, Buffer.from([0, 0, 0]));
    const r = decoder.end();
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.reason, 'truncated');
    assert.match(!r.ok ? r.error.message : '', /got 3 of 5 bytes/);
  });

  test('end() inside a payload is a truncation', () => {
    const decoder = new ChunkDecoder();
    decodeAll(decoder, encodeChunk(ChunkType.Stdout, 'hello').subarray(0, 7));
    const r = decoder.end();
    assert.equal(!r.ok && r.error.reason, 'truncated');
    assert.match(!r.ok ? r.error.message : '', /'1' chunk: got 2 of its 5 payload bytes/);
  });

  test('end() between chunks is clean', () => {
    const decoder = new ChunkDecoder();
    decodeAll(decoder, encodeChunk(ChunkType.Stdout, 'hello'));
    assert.deepEqual(decoder.end(), { ok: true });
  });

  // How long this takes is a figure, not an assertion: bench/pathological-inputs.ts
  // prints it for growing sizes (linear: the time per byte stays flat). Quadratic
  // behaviour (Array#shift per byte) would take minutes here, far past the timeout.
  test('a long payload fed byte by byte decodes whole', { timeout: 120_000 }, () => {
    const payload = Buffer.alloc(200_000, 0x62);
    const frame = encodeChunk(ChunkType.Stdout, payload);
    const decoder = new ChunkDecoder();
    const chunks: Chunk[] = [];
    for (let i = 0; i < frame.byteLength; i++) {
      chunks.push(...decodeAll(decoder, frame.subarray(i, i + 1)));
      if (i < frame.byteLength - 1) assert.equal(chunks.length, 0);
    }
    assert.equal(chunks.length, 1);
    assert.deepEqual(chunks[0]?.payload, payload);
    assert.equal(decoder.bufferedBytes, 0);
  });
});

describe('exit chunk', () => {
  test('is sent as bare decimal digits', () => {
    const frame = encodeExit(42);
    assert.deepEqual(simplify(decodeAll(new ChunkDecoder(), frame)), [{ type: 'X', payload: '42' }]);
    assert.equal(encodeExit(-1).subarray(HEADER_BYTES).toString(), '-1');
  });

  test('decodes with and without a trailing newline', () => {
    assert.deepEqual(decodeExitCode(Buffer.from('0')), { ok: true, code: 0 });
    assert.deepEqual(decodeExitCode(Buffer.from('3\n')), { ok: true, code: 3 });
    assert.deepEqual(decodeExitCode(Buffer.from('899\r\n')), { ok: true, code: 899 });
    assert.deepEqual(decodeExitCode(Buffer.from('-2')), { ok: true, code: -2 });
  });

  test('refuses anything else', () => {
    for (const bad of ['', '\n', 'x', '1 ', ' 1', '1\n\n', '1.5', '0x1', '99999999999', '2147483648']) {
      const r = decodeExitCode(Buffer.from(bad));
      assert.equal(r.ok, false, JSON.stringify(bad));
      assert.equal(!r.ok && r.error.reason, 'malformed-exit-code');
    }
  });

  test('encodeExit refuses codes that do not fit the protocol', () => {
    assert.throws(() => encodeExit(1.5), RangeError);
    assert.throws(() => encodeExit(2 ** 31), RangeError);
    assert.throws(() => encodeExit(Number.NaN), RangeError);
  });
});
