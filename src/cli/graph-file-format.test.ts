import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { serialize } from 'node:v8';
import type { PersistedGraph } from '../engine/index.js';
import { decodeGraphFile, encodeGraphFile, GRAPH_FILE_MAGIC } from './graph-file-format.js';

/** A two-record graph whose values are real v8-serialized bytes. */
function sample(): PersistedGraph {
  const values = [serialize({ a: 1 }), serialize(['b', 2])];
  return {
    format: 4,
    ids: ['file:a', 'pkg:a'],
    paths: ['a', null],
    flags: Uint8Array.from([4, 0]),
    generations: Int32Array.from([1, 2]),
    valueBytes: Buffer.concat(values),
    valueEnd: Uint32Array.from([values[0]!.length, values[0]!.length + values[1]!.length]),
    depStart: Uint32Array.from([0, 0, 1]),
    deps: Uint32Array.from([0]),
    depGenerations: Int32Array.from([1]),
    ages: Uint32Array.from([0, 0]),
    revStart: Uint32Array.from([0, 1, 1]),
    rev: Uint32Array.from([1]),
    byId: Uint32Array.from([0, 1]),
  };
}

/** `bytes` with its header's checksum replaced by what `make` says of the two sections. */
function withChecksum(bytes: Buffer, make: (sections: Buffer) => string): Buffer {
  const at = GRAPH_FILE_MAGIC.length;
  const end = at + 4 + bytes.readUInt32LE(at);
  const header = JSON.parse(bytes.subarray(at + 4, end).toString('utf8')) as Record<string, unknown>;
  const sections = bytes.subarray(end);
  const json = Buffer.from(JSON.stringify({ ...header, checksum: make(sections) }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([GRAPH_FILE_MAGIC, length, json, sections]);
}

const file = (fingerprint = 'fp'): Buffer => encodeGraphFile(fingerprint, { graph: sample(), stamps: new Map([['a', 'f:1']]) });

describe('the graph file format', () => {
  it('reads back what it wrote, the values as a view of the bytes read (no copy)', () => {
    const bytes = file();
    const v = decodeGraphFile(bytes, 'fp');
    assert.ok(v.ok, v.ok ? '' : v.why);
    const { graph, stamps } = v.payload;
    const want = sample();
    assert.deepEqual([...graph.ids], [...want.ids]);
    assert.deepEqual(graph.valueEnd, want.valueEnd);
    assert.deepEqual(Buffer.from(graph.valueBytes), want.valueBytes);
    assert.equal(graph.valueBytes.buffer, bytes.buffer, 'a view of the file');
    assert.deepEqual(stamps, new Map([['a', 'f:1']]));
  });

  it('another fingerprint, another format, and a foreign file are each ignored with their reason', () => {
    const bytes = file('other');
    assert.deepEqual(decodeGraphFile(bytes, 'fp'), { ok: false, why: 'made by another build of trews, for other options or for another state of the local store' });
    assert.deepEqual(decodeGraphFile(Buffer.from('trews-graph/2\n....'), 'fp'), { ok: false, why: 'not a graph file of this format' });
    assert.deepEqual(decodeGraphFile(serialize({ magic: 'trews-graph/2' }), 'fp'), { ok: false, why: 'not a graph file of this format' });
    assert.deepEqual(decodeGraphFile(Buffer.alloc(0), 'fp'), { ok: false, why: 'not a graph file of this format' });
  });

  it('a file cut anywhere, or longer than its header says, is damaged or truncated', () => {
    const bytes = file();
    for (let cut = GRAPH_FILE_MAGIC.length; cut < bytes.length; cut += 7) {
      const v = decodeGraphFile(bytes.subarray(0, cut), 'fp');
      assert.ok(!v.ok, `cut at ${cut}`);
      assert.match(v.why, /damaged|truncated|not a graph file/);
    }
    assert.deepEqual(decodeGraphFile(Buffer.concat([bytes, Buffer.from([0])]), 'fp'), { ok: false, why: 'damaged or truncated' });
  });

  it('checks with CRC-32, reads a file a Node without it checked with SHA-256, and refuses a checksum it cannot compute', () => {
    const bytes = file();
    const header = bytes.subarray(GRAPH_FILE_MAGIC.length + 4, GRAPH_FILE_MAGIC.length + 4 + bytes.readUInt32LE(GRAPH_FILE_MAGIC.length)).toString('utf8');
    assert.match(header, /"checksum":"crc32:[0-9a-f]{8}"/);
    const sha = withChecksum(bytes, (s) => `sha256:${createHash('sha256').update(s).digest('hex')}`);
    const v = decodeGraphFile(sha, 'fp');
    assert.ok(v.ok, v.ok ? '' : v.why);
    assert.deepEqual([...v.payload.graph.ids], ['file:a', 'pkg:a']);
    const wrongSha = withChecksum(bytes, () => `sha256:${'0'.repeat(64)}`);
    assert.deepEqual(decodeGraphFile(wrongSha, 'fp'), { ok: false, why: 'damaged (its checksum does not match)' });
    assert.deepEqual(decodeGraphFile(withChecksum(bytes, () => 'md4:00'), 'fp'), { ok: false, why: 'checked with md4, which this Node.js cannot compute' });
  });

  it('one flipped byte in the graph or in the values fails the checksum', () => {
    const bytes = file();
    for (const at of [bytes.length - 1, bytes.length - 20, bytes.length - 60]) {
      const bad = Buffer.from(bytes);
      bad[at] = bad[at]! ^ 0x01;
      assert.deepEqual(decodeGraphFile(bad, 'fp'), { ok: false, why: 'damaged (its checksum does not match)' }, `byte ${at}`);
    }
  });
});
