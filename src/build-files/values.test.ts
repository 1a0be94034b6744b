import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeKind, locationOf, parseBuildFile, parseLiteral, toPlain, type ValueNode } from './index.js';

function lit(text: string): ValueNode {
  const r = parseLiteral(text, 'x');
  assert.ok(r.ok);
  return r.value;
}

test('toPlain drops spans and keeps structure', () => {
  assert.deepEqual(toPlain(lit('{"a": [1, 2.5, "s", True, None, ("t",)], "b": {}}')), {
    a: [1, 2.5, 's', true, null, ['t']],
    b: {},
  });
});

test('toPlain keeps the order of dict keys', () => {
  assert.deepEqual(Object.keys(toPlain(lit('{"z": 1, "a": 2, "m": 3}')) as object), ['z', 'a', 'm']);
});

test('describeKind names each kind for type errors', () => {
  const kinds = ['"s"', '1', '1.5', 'True', 'None', '[]', '()', '{}'].map((t) => describeKind(lit(t)));
  assert.deepEqual(kinds, ['a string', 'an integer', 'a float', 'a boolean', 'None', 'a list', 'a tuple', 'a dict']);
});

test('locationOf points at a span with its line and underline length', () => {
  const r = parseBuildFile('a/BUILD', 'files(\n  name="app",\n  sources=["x",\n    "y"],\n)\n', new Set(['files']));
  assert.ok(r.ok);
  const call = r.value.calls[0]!;
  const name = call.args[0]!;
  assert.deepEqual(locationOf(r.value, name.value.span), { file: 'a/BUILD', line: 2, col: 8, lineText: '  name="app",', length: 5 });
  // A span running onto later lines is underlined to the end of its first line.
  assert.deepEqual(locationOf(r.value, call.args[1]!.value.span), {
    file: 'a/BUILD', line: 3, col: 11, lineText: '  sources=["x",', length: 5,
  });
  assert.deepEqual(locationOf(r.value, call.calleeSpan), { file: 'a/BUILD', line: 1, col: 1, lineText: 'files(', length: 5 });
});

test('locationOf clips to the line and never underlines nothing', () => {
  const r = parseBuildFile('BUILD', 'files()', new Set(['files']));
  assert.ok(r.ok);
  assert.equal(locationOf(r.value, { line: 1, col: 3, endLine: 1, endCol: 99 }).length, 5);
  assert.equal(locationOf(r.value, { line: 1, col: 3, endLine: 1, endCol: 3 }).length, 1);
  assert.equal(locationOf(r.value, { line: 1, col: 8, endLine: 1, endCol: 9 }).length, 1);
  assert.deepEqual(locationOf(r.value, { line: 5, col: 1, endLine: 5, endCol: 2 }).lineText, '');
});
