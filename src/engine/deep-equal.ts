/**
 * Structural equality, the default early cut-off test. It decides whether a
 * recomputed value is "the same" as the memoized one, so a false negative only
 * costs extra recomputation upstream, while a false positive would serve stale
 * results. It therefore errs on the side of "different": prototypes must match,
 * a property that is present-but-undefined differs from a missing one.
 *
 * Supported: primitives (NaN equals NaN, +0 equals -0), arrays, plain objects
 * and class instances (own enumerable string keys), Map, Set, Date, RegExp,
 * Error (name, message and own enumerable keys), Uint8Array/Buffer and other
 * ArrayBuffer views (compared byte for byte; a Buffer equals a Uint8Array with
 * the same bytes). Values must be acyclic: engine values are trees.
 *
 * Performance matters: target and file lists are large arrays of small objects,
 * compared on every recompute. The walk allocates nothing for arrays and plain
 * objects (for-in instead of Object.keys), and checks identity first so that
 * shared sub-trees are skipped.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    // NaN is the only value not equal to itself.
    return a !== a && b !== b;
  }
  return objectsEqual(a, b);
}

const hasOwn = Object.prototype.hasOwnProperty;
const objectProto = Object.prototype;

function objectsEqual(a: object, b: object): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && arraysEqual(a, b);
  const proto: unknown = Object.getPrototypeOf(a);
  if (proto === objectProto || proto === null) {
    return Object.getPrototypeOf(b) === proto && ownKeysEqual(a, b);
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) return bytesEqual(a, b);
  if (proto !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) return viewsEqual(a, b as ArrayBufferView);
  if (a instanceof Date) {
    const x = a.getTime();
    const y = (b as Date).getTime();
    return x === y || (x !== x && y !== y);
  }
  if (a instanceof Map) return mapsEqual(a, b as Map<unknown, unknown>);
  if (a instanceof Set) return setsEqual(a, b as Set<unknown>);
  if (a instanceof RegExp) return a.source === (b as RegExp).source && a.flags === (b as RegExp).flags;
  if (a instanceof Error) {
    // name and message are usually non-enumerable own or inherited properties.
    if (a.name !== (b as Error).name || a.message !== (b as Error).message) return false;
  }
  if (a instanceof ArrayBuffer) return bytesEqual(new Uint8Array(a), new Uint8Array(b as ArrayBuffer));
  return ownKeysEqual(a, b);
}

function arraysEqual(a: readonly unknown[], b: readonly unknown[]): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y && !deepEqual(x, y)) return false;
  }
  return true;
}

function ownKeysEqual(a: object, b: object): boolean {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let count = 0;
  for (const k in ra) {
    if (!hasOwn.call(ra, k)) continue;
    if (!hasOwn.call(rb, k)) return false;
    const x = ra[k];
    const y = rb[k];
    if (x !== y && !deepEqual(x, y)) return false;
    count++;
  }
  for (const k in rb) {
    if (hasOwn.call(rb, k) && --count < 0) return false;
  }
  return count === 0;
}

/** Below this size a loop beats the cost of creating Buffer views for Buffer.compare. */
const SMALL_BYTES = 64;

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.byteLength;
  if (n !== b.byteLength) return false;
  if (n < SMALL_BYTES) {
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  return Buffer.compare(a, b) === 0;
}

function viewsEqual(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return bytesEqual(
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
    new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
  );
}

function mapsEqual(a: Map<unknown, unknown>, b: Map<unknown, unknown>): boolean {
  if (a.size !== b.size) return false;
  let unmatched: [unknown, unknown][] | undefined;
  for (const [k, v] of a) {
    if (b.has(k)) {
      if (!deepEqual(v, b.get(k))) return false;
    } else if (typeof k === 'object' && k !== null) {
      (unmatched ??= []).push([k, v]);
    } else {
      return false;
    }
  }
  if (unmatched === undefined) return true;
  // Object keys that are not the same objects: match them structurally (quadratic, but rare).
  const candidates = [...b].filter(([k]) => !a.has(k));
  for (const [k, v] of unmatched) {
    const i = candidates.findIndex(([k2, v2]) => deepEqual(k, k2) && deepEqual(v, v2));
    if (i < 0) return false;
    candidates.splice(i, 1);
  }
  return true;
}

function setsEqual(a: Set<unknown>, b: Set<unknown>): boolean {
  if (a.size !== b.size) return false;
  let unmatched: unknown[] | undefined;
  for (const x of a) {
    if (b.has(x)) continue;
    if (typeof x !== 'object' || x === null) return false;
    (unmatched ??= []).push(x);
  }
  if (unmatched === undefined) return true;
  const candidates = [...b].filter((y) => !a.has(y));
  for (const x of unmatched) {
    const i = candidates.findIndex((y) => deepEqual(x, y));
    if (i < 0) return false;
    candidates.splice(i, 1);
  }
  return true;
}
