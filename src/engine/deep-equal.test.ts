import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deepEqual } from './deep-equal.js';

test('primitives: NaN equals NaN, +0 equals -0, types are not coerced', () => {
  assert.equal(deepEqual(NaN, NaN), true);
  assert.equal(deepEqual(0, -0), true);
  assert.equal(deepEqual(1, 1), true);
  assert.equal(deepEqual(1, '1'), false);
  assert.equal(deepEqual(null, undefined), false);
  assert.equal(deepEqual(undefined, undefined), true);
  assert.equal(deepEqual('a', 'a'), true);
  assert.equal(deepEqual(10n, 10n), true);
  assert.equal(deepEqual(NaN, 0), false);
  assert.equal(deepEqual(null, {}), false);
  assert.equal(deepEqual({}, null), false);
});

test('arrays compare element-wise and by length', () => {
  assert.equal(deepEqual([1, [2, { a: 3 }]], [1, [2, { a: 3 }]]), true);
  assert.equal(deepEqual([1, 2], [1, 2, 3]), false);
  assert.equal(deepEqual([1, 2], [2, 1]), false);
  assert.equal(deepEqual([], {}), false);
  assert.equal(deepEqual({}, []), false);
  assert.equal(deepEqual([NaN], [NaN]), true);
});

test('plain objects: same keys in any order, undefined-valued key differs from a missing one', () => {
  assert.equal(deepEqual({ a: 1, b: { c: [1] } }, { b: { c: [1] }, a: 1 }), true);
  assert.equal(deepEqual({ a: 1 }, { a: 1, b: 2 }), false);
  assert.equal(deepEqual({ a: 1, b: 2 }, { a: 1 }), false);
  assert.equal(deepEqual({ a: undefined }, {}), false);
  assert.equal(deepEqual({}, { a: undefined }), false);
  assert.equal(deepEqual({ a: 1 }, { a: 2 }), false);
  assert.equal(deepEqual(Object.create(null), {}), false);
  const bare1 = Object.assign(Object.create(null) as object, { x: 1 });
  const bare2 = Object.assign(Object.create(null) as object, { x: 1 });
  assert.equal(deepEqual(bare1, bare2), true);
});

test('class instances must share a prototype', () => {
  class P {
    constructor(readonly x: number) {}
  }
  class Q {
    constructor(readonly x: number) {}
  }
  assert.equal(deepEqual(new P(1), new P(1)), true);
  assert.equal(deepEqual(new P(1), new P(2)), false);
  assert.equal(deepEqual(new P(1), new Q(1)), false);
  assert.equal(deepEqual(new P(1), { x: 1 }), false);
});

test('Map: by key, with structural values; object keys matched structurally', () => {
  assert.equal(deepEqual(new Map([['a', { x: 1 }]]), new Map([['a', { x: 1 }]])), true);
  assert.equal(deepEqual(new Map([['a', 1]]), new Map([['a', 2]])), false);
  assert.equal(deepEqual(new Map([['a', 1]]), new Map([['b', 1]])), false);
  assert.equal(deepEqual(new Map([['a', 1]]), new Map([['a', 1], ['b', 2]])), false);
  assert.equal(deepEqual(new Map([[{ k: 1 }, 'v']]), new Map([[{ k: 1 }, 'v']])), true);
  assert.equal(deepEqual(new Map([[{ k: 1 }, 'v']]), new Map([[{ k: 2 }, 'v']])), false);
  assert.equal(deepEqual(new Map(), new Set()), false);
});

test('Set: membership, object members matched structurally', () => {
  assert.equal(deepEqual(new Set([1, 2, 3]), new Set([3, 2, 1])), true);
  assert.equal(deepEqual(new Set([1, 2]), new Set([1, 3])), false);
  assert.equal(deepEqual(new Set([1]), new Set([1, 2])), false);
  assert.equal(deepEqual(new Set([{ a: 1 }, { a: 2 }]), new Set([{ a: 2 }, { a: 1 }])), true);
  assert.equal(deepEqual(new Set([{ a: 1 }, { a: 1 }]), new Set([{ a: 1 }, { a: 2 }])), false);
});

test('bytes: Uint8Array and Buffer compare by content, small and large', () => {
  assert.equal(deepEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])), true);
  assert.equal(deepEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])), false);
  assert.equal(deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])), false);
  assert.equal(deepEqual(Buffer.from('hello'), Buffer.from('hello')), true);
  assert.equal(deepEqual(Buffer.from('hello'), new Uint8Array(Buffer.from('hello'))), true);
  const big = Buffer.alloc(10_000, 7);
  const big2 = Buffer.alloc(10_000, 7);
  assert.equal(deepEqual(big, big2), true);
  big2[9_999] = 8;
  assert.equal(deepEqual(big, big2), false);
  assert.equal(deepEqual(new Uint8Array([1]), [1]), false);
  assert.equal(deepEqual(new Float64Array([1.5]), new Float64Array([1.5])), true);
  assert.equal(deepEqual(new Float64Array([1.5]), new Float64Array([2.5])), false);
});

test('Date, RegExp and Error', () => {
  assert.equal(deepEqual(new Date(5), new Date(5)), true);
  assert.equal(deepEqual(new Date(5), new Date(6)), false);
  assert.equal(deepEqual(new Date(NaN), new Date(NaN)), true);
  assert.equal(deepEqual(new Date(5), 5), false);
  assert.equal(deepEqual(/a/g, /a/g), true);
  assert.equal(deepEqual(/a/g, /a/i), false);
  assert.equal(deepEqual(new Error('x'), new Error('x')), true);
  assert.equal(deepEqual(new Error('x'), new Error('y')), false);
  assert.equal(deepEqual(new Error('x'), new TypeError('x')), false);
});

test('functions and symbols compare by identity', () => {
  const f = (): number => 1;
  assert.equal(deepEqual(f, f), true);
  assert.equal(deepEqual(f, () => 1), false);
  assert.equal(deepEqual({ f }, { f }), true);
  assert.equal(deepEqual(Symbol('a'), Symbol('a')), false);
});

test('large arrays of small objects: equal copies, and a difference in the last element', () => {
  // Timing is measured outside the tests (DESIGN.md: benchmarks are not tests).
  const make = (): { address: string; type: string; deps: string[]; n: number }[] =>
    Array.from({ length: 100_000 }, (_, i) => ({ address: `src/p${i}:lib`, type: 'shell_sources', deps: [`src/p${i - 1}:lib`], n: i }));
  const a = make();
  const b = make();
  assert.equal(deepEqual(a, b), true);
  b[99_999]!.deps[0] = 'changed';
  assert.equal(deepEqual(a, b), false);
});
