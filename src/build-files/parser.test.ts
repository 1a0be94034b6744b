import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBuildFile, parseLiteral, toPlain, type BuildFileSyntax, type LiteralValue, type ValueNode } from './index.js';

const SYMBOLS = new Set(['files', 'resources', 'python_sources', 'target']);

function parse(text: string): BuildFileSyntax {
  const r = parseBuildFile('src/BUILD', text, SYMBOLS);
  if (!r.ok) assert.fail(`expected ok, got ${r.failure.reason}: ${r.failure.message}`);
  return r.value;
}

/** The plain value of argument `x` of the only call in `files(x=<expr>)`. */
function value(expr: string): LiteralValue {
  return toPlain(node(expr));
}

function node(expr: string): ValueNode {
  const syntax = parse(`files(x=${expr})`);
  assert.equal(syntax.calls.length, 1);
  const arg = syntax.calls[0]!.args[0];
  assert.ok(arg);
  return arg.value;
}

function literal(text: string): LiteralValue {
  const r = parseLiteral(text, '--opt');
  if (!r.ok) assert.fail(`expected ok, got ${r.failure.reason}: ${r.failure.message}`);
  return toPlain(r.value);
}

describe('statements', () => {
  test('an empty file, blank lines and comments have no calls', () => {
    assert.deepEqual(parse('').calls, []);
    assert.deepEqual(parse('\n\n  \n# a comment\n   # indented comment\n\t\n').calls, []);
  });

  test('calls with keyword arguments, in order, with spans', () => {
    const s = parse('files(name="a", sources=["*.txt"])\n\nresources(\n    name="r",\n)\n');
    assert.equal(s.calls.length, 2);
    const [a, b] = s.calls;
    assert.equal(a!.callee, 'files');
    assert.deepEqual(a!.calleeSpan, { line: 1, col: 1, endLine: 1, endCol: 6 });
    assert.deepEqual(a!.span, { line: 1, col: 1, endLine: 1, endCol: 35 });
    assert.deepEqual(a!.args.map((x) => x.name), ['name', 'sources']);
    assert.deepEqual(a!.args[1]!.nameSpan, { line: 1, col: 17, endLine: 1, endCol: 24 });
    assert.equal(b!.callee, 'resources');
    assert.deepEqual(b!.span, { line: 3, col: 1, endLine: 5, endCol: 2 });
    assert.deepEqual(b!.args[0]!.value, { kind: 'str', value: 'r', span: { line: 4, col: 10, endLine: 4, endCol: 13 } });
  });

  test('a call with no arguments, and trailing commas', () => {
    assert.deepEqual(parse('target()').calls[0]!.args, []);
    assert.equal(parse('target(name="a",)').calls[0]!.args.length, 1);
  });

  test('a file without a final newline, and a comment after a call', () => {
    assert.equal(parse('files(name="a")  # trailing comment').calls.length, 1);
    assert.equal(parse('files(name="a")\nfiles(name="b")').calls.length, 2);
  });

  test('newlines, comments and indentation inside brackets', () => {
    const s = parse('files(\n  name = "a" ,  # why\n\n\tsources=[\n        "x",  # first\n  "y"\n  ],\n)\n');
    assert.deepEqual(toPlain(s.calls[0]!.args[1]!.value), ['x', 'y']);
  });

  test('backslash continues a line', () => {
    const s = parse('files(name="a") \\\n\nfiles(name="b")\n');
    assert.equal(s.calls.length, 2);
    const t = parse('files\\\n(name="a")');
    assert.equal(t.calls[0]!.callee, 'files');
    assert.deepEqual(t.calls[0]!.span, { line: 1, col: 1, endLine: 2, endCol: 11 });
  });

  test('CRLF line endings and a BOM', () => {
    const s = parse('\uFEFFfiles(\r\n  name="a",\r\n)\r\nfiles(name="b")\r\n');
    assert.equal(s.calls.length, 2);
    assert.deepEqual(s.lines, ['files(', '  name="a",', ')', 'files(name="b")', '']);
    assert.deepEqual(s.calls[0]!.calleeSpan, { line: 1, col: 1, endLine: 1, endCol: 6 });
    assert.deepEqual(s.calls[1]!.calleeSpan.line, 4);
    // A lone CR is a line break too, as in Python's universal newlines.
    assert.equal(parse('files(name="a")\rfiles(name="b")').calls.length, 2);
  });

  test('a CRLF inside a triple-quoted string becomes LF', () => {
    assert.equal(value('"""a\r\nb"""'), 'a\nb');
  });

  test('the result is plain data', () => {
    const s = parse('files(name="a", d={"k": [1, (2,)]})');
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
    assert.equal(s.path, 'src/BUILD');
  });
});

describe('strings', () => {
  test('single, double and triple quotes', () => {
    assert.equal(value("'a'"), 'a');
    assert.equal(value('"a"'), 'a');
    assert.equal(value("'''a\nb'''"), 'a\nb');
    assert.equal(value('"""a "quoted" b"""'), 'a "quoted" b');
    assert.equal(value("''"), '');
    assert.equal(value('""""""'), '');
    assert.equal(value(`"it's"`), "it's");
  });

  test('escape sequences', () => {
    assert.equal(value(String.raw`'a\nb\tc\\d\'e\"f'`), 'a\nb\tc\\d\'e"f');
    assert.equal(value(String.raw`'\r\a\b\f\v\0'`), '\r\x07\b\f\v\0');
    assert.equal(value(String.raw`'\x41\u00e9\U0001F600\101\7'`), 'Aé😀A\x07');
    assert.equal(value("'a\\\nb'"), 'ab');
  });

  test('an unknown escape keeps its backslash, as in Python', () => {
    assert.equal(value(String.raw`'\d+\.py'`), '\\d+\\.py');
  });

  test('raw strings keep backslashes', () => {
    assert.equal(value(String.raw`r'\d+\n'`), '\\d+\\n');
    assert.equal(value(String.raw`R"a\"b"`), 'a\\"b');
    assert.equal(value(String.raw`r'''x\'''y'''`), "x\\'''y");
  });

  test('the u prefix is accepted and means nothing', () => {
    assert.equal(value("u'a'"), 'a');
    assert.equal(value('U"a"'), 'a');
  });

  test('adjacent literals concatenate, and the span covers them all', () => {
    const n = node('"a" \'b\'\n    r"\\c"');
    assert.deepEqual(n, { kind: 'str', value: 'ab\\c', span: { line: 1, col: 9, endLine: 2, endCol: 10 } });
  });

  test('the span of a multi-line string ends on its last line', () => {
    assert.deepEqual(node('"""a\nbc"""').span, { line: 1, col: 9, endLine: 2, endCol: 6 });
  });

  test('non-ASCII text', () => {
    assert.equal(value("'héllo 😀'"), 'héllo 😀');
    const s = parse("files(name='é😀', x=1)");
    // 😀 is two UTF-16 code units.
    assert.deepEqual(s.calls[0]!.args[1]!.nameSpan, { line: 1, col: 19, endLine: 1, endCol: 20 });
  });
});

describe('numbers, booleans, None', () => {
  test('integers', () => {
    assert.equal(value('0'), 0);
    assert.equal(value('42'), 42);
    assert.equal(value('1_000_000'), 1000000);
    assert.equal(value('0x1F'), 31);
    assert.equal(value('0X_ff'), 255);
    assert.equal(value('0o17'), 15);
    assert.equal(value('0b1010'), 10);
    assert.equal(value('00'), 0);
    assert.equal(node('7').kind, 'int');
  });

  test('floats', () => {
    assert.equal(value('1.5'), 1.5);
    assert.equal(value('.5'), 0.5);
    assert.equal(value('1.'), 1);
    assert.equal(value('1e3'), 1000);
    assert.equal(value('1.5E-3'), 0.0015);
    assert.equal(value('1_0.2_5'), 10.25);
    assert.equal(node('1.0').kind, 'float');
    assert.equal(node('1e3').kind, 'float');
  });

  test('unary minus on numbers, with the minus in the span', () => {
    assert.equal(value('-3'), -3);
    assert.equal(value('- 2.5'), -2.5);
    assert.equal(value('-0x10'), -16);
    assert.ok(Object.is(value('-0'), 0));
    assert.deepEqual(node('-3').span, { line: 1, col: 9, endLine: 1, endCol: 11 });
  });

  test('True, False and None', () => {
    assert.deepEqual(node('True'), { kind: 'bool', value: true, span: { line: 1, col: 9, endLine: 1, endCol: 13 } });
    assert.equal(value('False'), false);
    assert.deepEqual(node('None'), { kind: 'none', value: null, span: { line: 1, col: 9, endLine: 1, endCol: 13 } });
  });
});

describe('containers', () => {
  test('lists', () => {
    assert.deepEqual(value('[]'), []);
    assert.deepEqual(value('[1, "a", True, None, [2]]'), [1, 'a', true, null, [2]]);
    assert.deepEqual(value('[\n  "a",\n  "b",\n]'), ['a', 'b']);
    assert.equal(node('[1]').kind, 'list');
  });

  test('tuples, and parentheses that only group', () => {
    assert.deepEqual(node('()'), { kind: 'tuple', items: [], span: { line: 1, col: 9, endLine: 1, endCol: 11 } });
    const one = node('(1,)');
    assert.equal(one.kind, 'tuple');
    assert.deepEqual(toPlain(one), [1]);
    assert.deepEqual(value('(1, 2)'), [1, 2]);
    assert.deepEqual(value('(1, 2,)'), [1, 2]);
    assert.deepEqual(node('("a")'), { kind: 'str', value: 'a', span: { line: 1, col: 9, endLine: 1, endCol: 14 } });
    assert.deepEqual(value('((("a")))'), 'a');
    assert.equal(node('((1,))').kind, 'tuple');
  });

  test('dicts with string keys', () => {
    assert.deepEqual(value('{}'), {});
    assert.deepEqual(value('{"a": 1, \'b\': [2], "c" "d": {"e": None},}'), { a: 1, b: [2], cd: { e: null } });
    const d = node('{"k": 1}');
    assert.equal(d.kind, 'dict');
    if (d.kind === 'dict') {
      assert.deepEqual(d.entries[0]!.keySpan, { line: 1, col: 10, endLine: 1, endCol: 13 });
      assert.deepEqual(d.entries[0]!.value.span, { line: 1, col: 15, endLine: 1, endCol: 16 });
    }
  });

  test('a dict key may be built with +', () => {
    assert.deepEqual(value('{"a" + "b": 1}'), { ab: 1 });
  });

  test('a __proto__ key is an ordinary key', () => {
    const v = value('{"__proto__": {"polluted": True}}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(v), ['__proto__']);
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  test('nesting up to the limit is fine', () => {
    const depth = 99; // plus the call's own parenthesis
    assert.deepEqual(value('['.repeat(depth) + ']'.repeat(depth)), JSON.parse('['.repeat(depth) + ']'.repeat(depth)));
  });
});

describe('+', () => {
  test('joins strings, lists and tuples', () => {
    assert.equal(value('"a" + "b" + \'c\''), 'abc');
    assert.deepEqual(value('["a"] + ["b", "c"] + []'), ['a', 'b', 'c']);
    assert.deepEqual(value('(1,) + (2,)'), [1, 2]);
    assert.equal(node('(1,) + (2,)').kind, 'tuple');
    assert.deepEqual(value('("a") + "b"'), 'ab');
  });

  test('the span covers the whole expression', () => {
    assert.deepEqual(node('"a" +\n  "b"').span, { line: 1, col: 9, endLine: 2, endCol: 6 });
    assert.deepEqual(node('[1] + [2]').span, { line: 1, col: 9, endLine: 1, endCol: 18 });
  });

  test('a long chain stays correct and does not alias its operands', () => {
    const n = 2000;
    const expr = Array.from({ length: n }, (_, i) => `[${i}]`).join(' + ');
    assert.deepEqual(value(expr), Array.from({ length: n }, (_, i) => i));
    const s = parse('files(a=[1], b=[1] + [2] + [3])');
    assert.deepEqual(toPlain(s.calls[0]!.args[0]!.value), [1]);
  });
});

describe('parseLiteral', () => {
  test('one expression of any kind', () => {
    assert.deepEqual(literal("['OSFamily=linux']"), ['OSFamily=linux']);
    assert.deepEqual(literal("{'a': 1}"), { a: 1 });
    assert.equal(literal('"x"'), 'x');
    assert.equal(literal('-5'), -5);
    assert.equal(literal('None'), null);
    assert.deepEqual(literal('("a", "b")'), ['a', 'b']);
  });

  test('surrounding whitespace and newlines are fine', () => {
    assert.deepEqual(literal('  [1,\n 2]  \n'), [1, 2]);
    assert.deepEqual(literal('\n\n  "a"\n  # note\n'), 'a');
  });

  test('spans are relative to the literal text', () => {
    const r = parseLiteral('  "a"', 'x');
    assert.ok(r.ok);
    assert.deepEqual(r.value.span, { line: 1, col: 3, endLine: 1, endCol: 6 });
  });
});
