import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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

  it('one flipped byte in the graph or in the values fails the checksum', () => {
    const bytes = file();
    for (const at of [bytes.length - 1, bytes.length - 20, bytes.length - 60]) {
      const bad = Buffer.from(bytes);
      bad[at] = bad[at]! ^ 0x01;
      assert.deepEqual(decodeGraphFile(bad, 'fp'), { ok: false, why: 'damaged (its checksum does not match)' }, `byte ${at}`);
    }
  });
});
