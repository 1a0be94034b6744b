import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Failure } from '../core/index.js';
import { parseBuildFile, parseLiteral, type BuildErrorReason } from './index.js';

const SYMBOLS = new Set(['files', 'resources', 'python_sources', 'python_tests', 'shell_sources', 'target']);

function fail(text: string, symbols: ReadonlySet<string> = SYMBOLS): Failure {
  const r = parseBuildFile('src/app/BUILD', text, symbols);
  if (r.ok) assert.fail(`expected a failure for ${JSON.stringify(text)}`);
  assert.equal(r.failure.tag, 'input');
  assert.equal(r.failure.location?.file, 'src/app/BUILD');
  return r.failure;
}

interface Case {
  /** The BUILD text. */
  readonly src: string;
  readonly reason: BuildErrorReason;
  /** Expected line, column and underline length. */
  readonly at: readonly [number, number, number];
  /** A substring of the message. */
  readonly says: string;
  /** A substring of some hint. */
  readonly hint?: string;
}

function check(c: Case): void {
  const f = fail(c.src);
  const loc = f.location!;
  assert.deepEqual(
    { reason: f.reason, line: loc.line, col: loc.col, length: loc.length },
    { reason: c.reason, line: c.at[0], col: c.at[1], length: c.at[2] },
    `${f.reason} ${f.message}`,
  );
  assert.ok(f.message.includes(c.says), `message ${JSON.stringify(f.message)} lacks ${JSON.stringify(c.says)}`);
  assert.ok(!f.message.includes('\n'), 'the message is one line');
  assert.equal(loc.lineText, c.src.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)[c.at[0] - 1]);
  if (c.hint !== undefined) {
    assert.ok((f.hints ?? []).some((h) => h.includes(c.hint!)), `hints ${JSON.stringify(f.hints)} lack ${JSON.stringify(c.hint)}`);
  }
}

function table(cases: Record<string, Case>): void {
  for (const [name, c] of Object.entries(cases)) test(name, () => check(c));
}

describe('syntax errors', () => {
  table({
    'unterminated string points at its opening quote': {
      src: 'files(\n  name="abc,\n)\n', reason: 'build-syntax', at: [2, 8, 5], says: 'unterminated string', hint: 'triple quotes',
    },
    'unterminated string at the end of the file': { src: "files(name='abc", reason: 'build-syntax', at: [1, 12, 4], says: 'unterminated string' },
    'unterminated raw string ending in a backslash': { src: "files(name=r'abc\\')", reason: 'build-syntax', at: [1, 12, 8], says: 'unterminated string' },
    'unterminated triple-quoted string': {
      src: 'files(\n  description="""one\ntwo\n)\n', reason: 'build-syntax', at: [2, 15, 3], says: 'unterminated triple-quoted string', hint: '"""',
    },
    'unclosed bracket at the end of the file points at the opening': {
      src: 'files(\n  name="a",\n  sources=["a.txt",\n', reason: 'build-syntax', at: [3, 11, 1], says: '`[` was never closed', hint: '`]`',
    },
    'unclosed call followed by another statement': {
      src: 'files(name="a"\n\nfiles(name="b")\n', reason: 'build-syntax', at: [1, 6, 1], says: '`(` was never closed',
    },
    'unclosed call followed by a positional-looking statement': {
      src: 'files(name="a",\n\nfiles(name="b")\n', reason: 'build-syntax', at: [1, 6, 1], says: '`(` was never closed',
    },
    'mismatched brackets': {
      src: 'files(\n  sources=["a",\n)\n', reason: 'build-syntax', at: [3, 1, 1], says: '`)` does not match the `[` opened at line 2, column 11', hint: '`]`',
    },
    'a closing bracket with no opening': { src: 'files(name="a"))\n', reason: 'build-syntax', at: [1, 16, 1], says: 'unmatched `)`' },
    'indentation at the top level': {
      src: 'files(name="a")\n  files(name="b")\n', reason: 'build-syntax', at: [2, 3, 1], says: 'unexpected indentation', hint: 'inside brackets',
    },
    'a tab at the top level': { src: '\tfiles(name="b")\n', reason: 'build-syntax', at: [1, 2, 1], says: 'unexpected indentation (a tab)' },
    'tabs mixed with spaces at the top level': {
      src: '# x\n \t files(name="b")\n', reason: 'build-syntax', at: [2, 4, 1], says: 'unexpected indentation (mixed tabs and spaces)',
    },
    'a bad \\x escape': { src: 'files(name="a\\xZZ")', reason: 'build-syntax', at: [1, 14, 2], says: 'invalid `\\x` escape: expected 2 hex digits' },
    'a short \\u escape': { src: 'files(name="\\u12")', reason: 'build-syntax', at: [1, 13, 4], says: 'invalid `\\u` escape' },
    'a \\U escape beyond Unicode': { src: 'files(name="\\U00110000")', reason: 'build-syntax', at: [1, 13, 10], says: 'beyond the last Unicode code point' },
    'letters after a number': { src: 'files(x=12abc)', reason: 'build-syntax', at: [1, 9, 5], says: 'invalid number `12abc`' },
    'a trailing underscore in a number': { src: 'files(x=1_)', reason: 'build-syntax', at: [1, 9, 2], says: 'invalid number `1_`' },
    'a hex prefix without digits': { src: 'files(x=0x)', reason: 'build-syntax', at: [1, 9, 2], says: 'invalid number `0x`' },
    'an exponent without digits': { src: 'files(x=1e)', reason: 'build-syntax', at: [1, 9, 2], says: 'invalid number `1e`' },
    'leading zeros': { src: 'files(x=0755)', reason: 'build-syntax', at: [1, 9, 4], says: 'leading zeros', hint: '0o' },
    'an unexpected character': { src: 'files(x=$y)', reason: 'build-syntax', at: [1, 9, 1], says: 'unexpected character `$`' },
    'a curly quote': { src: 'files(name=\u201ca\u201d)', reason: 'build-syntax', at: [1, 12, 1], says: 'unexpected character `\u201c` (U+201C)', hint: 'straight quote' },
    'a non-breaking space': { src: 'files(name="a",\u00a0x=1)', reason: 'build-syntax', at: [1, 16, 1], says: 'U+00A0', hint: 'non-breaking space' },
    'a control character': { src: 'files(\u0001)', reason: 'build-syntax', at: [1, 7, 1], says: 'unexpected character U+0001' },
    'something after a line continuation': {
      src: 'files(name="a") \\ # no\n', reason: 'build-syntax', at: [1, 17, 1], says: 'unexpected character after line continuation',
    },
    'a line continuation at the end of the file': { src: 'files(name="a") \\', reason: 'build-syntax', at: [1, 17, 1], says: 'unexpected end of file after line continuation' },
    'a missing comma between arguments': {
      src: 'files(\n  name="a"\n  sources=["b"],\n)\n', reason: 'build-syntax', at: [3, 3, 7], says: 'expected `,` or `)`, found `sources`', hint: 'forget a comma',
    },
    'a missing comma in a list': { src: 'files(x=["a" "b", "c" 1])', reason: 'build-syntax', at: [1, 23, 1], says: 'expected `,` or `]`, found a number', hint: 'comma' },
    'a missing value': { src: 'files(name=)', reason: 'build-syntax', at: [1, 12, 1], says: 'expected a value, found `)`' },
    'a double comma': { src: 'files(x=[1,,2])', reason: 'build-syntax', at: [1, 12, 1], says: 'expected a value, found `,`' },
    'a keyword where a value belongs': { src: 'files(x=if)', reason: 'build-syntax', at: [1, 9, 2], says: 'found the keyword `if`' },
    'a target type without its call': {
      src: 'files\n', reason: 'build-syntax', at: [1, 6, 1], says: 'expected `(` after target type `files`, found end of line', hint: 'files(name=',
    },
    'two statements on one line': {
      src: 'files(name="a") files(name="b")', reason: 'build-syntax', at: [1, 17, 5], says: 'expected end of line after `files(...)`', hint: 'own line',
    },
    'a Python keyword as an argument name': { src: 'files(class="a")', reason: 'build-syntax', at: [1, 7, 5], says: '`class` is a Python keyword' },
    'a missing = after an argument name': { src: 'files(name "a")', reason: 'build-syntax', at: [1, 12, 3], says: 'expected `=` after the argument name `name`' },
    'a colon instead of =': { src: 'files(name: "a")', reason: 'build-syntax', at: [1, 11, 1], says: 'expected `=` after the argument name `name`, found `:`' },
    'a stray comma in the arguments': { src: 'files(, name="a")', reason: 'build-syntax', at: [1, 7, 1], says: 'unexpected `,` in the arguments of `files(...)`' },
    'a keyword argument inside a list': { src: 'files(x=["a"=1])', reason: 'build-syntax', at: [1, 13, 1], says: 'unexpected `=` in a list' },
    'a missing colon in a dict': { src: 'files(x={"a": 1, "b" 2})', reason: 'build-syntax', at: [1, 22, 1], says: 'expected `:`, found a number', hint: 'forget a `:`' },
    'a missing comma in a dict': { src: 'files(x={"a": 1 "b": 2})', reason: 'build-syntax', at: [1, 17, 3], says: 'expected `,` or `}`, found a string', hint: 'forget a comma' },
    'a missing comma in a tuple': { src: 'files(x=(1 2))', reason: 'build-syntax', at: [1, 12, 1], says: 'expected `,` or `)`, found a number', hint: 'forget a comma' },
    'an empty tuple item': { src: 'files(x=(,))', reason: 'build-syntax', at: [1, 10, 1], says: 'expected a value, found `,`' },
    'an ellipsis': { src: 'files(x=...)', reason: 'build-syntax', at: [1, 9, 3], says: 'expected a value, found `...`' },
    'a stray token at the top level': { src: ', files()', reason: 'build-syntax', at: [1, 1, 1], says: 'unexpected `,`' },
    'an expression cut off by the end of a literal line': { src: 'files(name="a" +)', reason: 'build-syntax', at: [1, 17, 1], says: 'expected a value, found `)`' },
  });
});

describe('unsupported Python', () => {
  table({
    def: { src: 'def f():\n    pass\n', reason: 'build-unsupported', at: [1, 1, 3], says: 'function definitions (`def`)', hint: 'declarative' },
    class: { src: 'class A: pass', reason: 'build-unsupported', at: [1, 1, 5], says: 'class definitions' },
    import: { src: 'import os\n', reason: 'build-unsupported', at: [1, 1, 6], says: 'imports are not supported' },
    from: { src: 'from x import y\n', reason: 'build-unsupported', at: [1, 1, 4], says: 'imports are not supported' },
    if: { src: 'if True:\n    files()\n', reason: 'build-unsupported', at: [1, 1, 2], says: '`if` statements are not supported' },
    for: { src: 'for x in []: pass', reason: 'build-unsupported', at: [1, 1, 3], says: '`for` statements' },
    while: { src: 'while False: pass', reason: 'build-unsupported', at: [1, 1, 5], says: '`while` statements' },
    with: { src: 'with x: pass', reason: 'build-unsupported', at: [1, 1, 4], says: '`with` statements' },
    return: { src: 'return 1', reason: 'build-unsupported', at: [1, 1, 6], says: '`return` statements' },
    'lambda at the top level': { src: 'lambda: 1', reason: 'build-unsupported', at: [1, 1, 6], says: 'lambda expressions' },
    'lambda in a value': { src: 'files(x=lambda: 1)', reason: 'build-unsupported', at: [1, 9, 6], says: 'lambda expressions' },
    assignment: { src: '\nDEPS = ["a"]\n', reason: 'build-unsupported', at: [2, 1, 6], says: 'assignments are not supported in BUILD files' },
    'augmented assignment': { src: 'x += 1', reason: 'build-unsupported', at: [1, 1, 4], says: 'assignments are not supported' },
    'annotated assignment': { src: 'x: int = 1', reason: 'build-unsupported', at: [1, 1, 2], says: 'assignments are not supported' },
    'attribute access at the top level': { src: 'os.path(x=1)', reason: 'build-unsupported', at: [1, 1, 7], says: 'attribute access (`a.b`)' },
    'attribute access in a value': { src: 'files(name=os.sep)', reason: 'build-unsupported', at: [1, 12, 6], says: 'attribute access' },
    'a method call on a string': { src: 'files(name="a".upper())', reason: 'build-unsupported', at: [1, 15, 1], says: 'attribute access' },
    'a subscript at the top level': { src: 'x[0]', reason: 'build-unsupported', at: [1, 1, 2], says: 'subscripts' },
    'a subscript in a value': { src: 'files(name="abc"[0])', reason: 'build-unsupported', at: [1, 17, 1], says: 'subscripts' },
    '*args': { src: 'files(*args)', reason: 'build-unsupported', at: [1, 7, 1], says: 'unpacking with `*`' },
    '**kwargs': { src: 'files(name="a", **kw)', reason: 'build-unsupported', at: [1, 17, 2], says: 'unpacking with `**`' },
    'unpacking in a list': { src: 'files(x=[*a])', reason: 'build-unsupported', at: [1, 10, 1], says: 'unpacking' },
    'unpacking in a dict': { src: 'files(x={**a})', reason: 'build-unsupported', at: [1, 10, 2], says: 'unpacking' },
    'binary minus': { src: 'files(x=3 - 1)', reason: 'build-unsupported', at: [1, 11, 1], says: 'the `-` operator', hint: '`+` is the only operator' },
    multiplication: { src: 'files(x=["a"] * 2)', reason: 'build-unsupported', at: [1, 15, 1], says: 'the `*` operator' },
    'string formatting with %': { src: 'files(x="%s" % "a")', reason: 'build-unsupported', at: [1, 14, 1], says: 'the `%` operator' },
    comparison: { src: 'files(x=1 == 2)', reason: 'build-unsupported', at: [1, 11, 2], says: 'the `==` operator' },
    and: { src: 'files(x=True and False)', reason: 'build-unsupported', at: [1, 14, 3], says: 'the `and` operator' },
    or: { src: 'files(x=True or False)', reason: 'build-unsupported', at: [1, 14, 2], says: 'the `or` operator' },
    not: { src: 'files(x=not True)', reason: 'build-unsupported', at: [1, 9, 3], says: 'the `not` operator' },
    in: { src: 'files(x="a" in ["a"])', reason: 'build-unsupported', at: [1, 13, 2], says: 'the `in` operator' },
    'an operator keyword at the top level': { src: 'and x', reason: 'build-unsupported', at: [1, 1, 3], says: 'the `and` operator' },
    else: { src: 'else:\n  pass', reason: 'build-unsupported', at: [1, 1, 4], says: '`else` statements' },
    'unary plus': { src: 'files(x=+1)', reason: 'build-unsupported', at: [1, 9, 1], says: 'unary `+`' },
    'unary minus on a string': { src: 'files(x=-"a")', reason: 'build-unsupported', at: [1, 9, 1], says: 'unary `-` is supported only directly before a number' },
    'arithmetic on numbers': { src: 'files(x=1 + 2)', reason: 'build-unsupported', at: [1, 11, 3], says: 'arithmetic' },
    'a conditional expression': { src: 'files(x=1 if True else 2)', reason: 'build-unsupported', at: [1, 11, 2], says: 'conditional expressions' },
    'a list comprehension': { src: 'files(x=["a" for a in b])', reason: 'build-unsupported', at: [1, 14, 3], says: 'comprehensions' },
    'an assignment expression': { src: 'files(x=("y" := 1))', reason: 'build-unsupported', at: [1, 14, 2], says: 'assignment expressions' },
    'an f-string': { src: 'files(name=f"{x}")', reason: 'build-unsupported', at: [1, 12, 2], says: 'f-strings', hint: '`+`' },
    'a raw f-string': { src: 'files(name=rf"{x}")', reason: 'build-unsupported', at: [1, 12, 3], says: 'f-strings' },
    'a byte string': { src: 'files(name=b"x")', reason: 'build-unsupported', at: [1, 12, 2], says: 'byte strings' },
    'a \\N escape': { src: 'files(name="\\N{DASH}")', reason: 'build-unsupported', at: [1, 13, 2], says: '`\\N{...}` escapes' },
    'a call in a value': { src: 'files(sources=glob("*.py"))', reason: 'build-unsupported', at: [1, 15, 4], says: 'calls are not supported in values: `glob(...)`' },
    'a target declared inside a value': {
      src: 'files(deps=[files(name="x")])', reason: 'build-unsupported', at: [1, 13, 5], says: 'target type `files` cannot be called here', hint: 'top level',
    },
    'calling a value': { src: 'files(name="a"("b"))', reason: 'build-unsupported', at: [1, 15, 1], says: 'calls are not supported in values' },
    'a string at the top level': { src: '"""Docstring."""\nfiles()\n', reason: 'build-unsupported', at: [1, 1, 16], says: 'expected a target declaration, found a string' },
    'a list at the top level': { src: '[1]', reason: 'build-unsupported', at: [1, 1, 1], says: 'expected a target declaration, found `[`' },
    'True at the top level': { src: 'True', reason: 'build-unsupported', at: [1, 1, 4], says: 'found `True`' },
    'a bare unknown name at the top level': { src: 'foo\n', reason: 'build-unsupported', at: [1, 1, 3], says: 'found the name `foo`' },
    'a semicolon between statements': { src: 'files(name="a"); files(name="b")', reason: 'build-unsupported', at: [1, 16, 1], says: 'semicolons' },
    'a leading semicolon': { src: ';', reason: 'build-unsupported', at: [1, 1, 1], says: 'semicolons' },
    'a decorator': { src: '@x\ndef f(): pass', reason: 'build-unsupported', at: [1, 1, 1], says: 'decorators' },
    'an operator after a call': { src: 'files(name="a") + files(name="b")', reason: 'build-unsupported', at: [1, 17, 1], says: '`+` cannot follow `files(...)`' },
    'a set literal': { src: 'files(x={"a", "b"})', reason: 'build-unsupported', at: [1, 9, 1], says: 'sets are not supported', hint: 'list' },
    'a non-string dict key': { src: 'files(x={1: "a"})', reason: 'build-unsupported', at: [1, 10, 1], says: 'dict keys must be strings, not an integer' },
    'a complex number': { src: 'files(x=1j)', reason: 'build-unsupported', at: [1, 9, 2], says: 'complex numbers' },
    'an integer beyond 2^53': { src: 'files(x=9007199254740993)', reason: 'build-unsupported', at: [1, 9, 16], says: 'integer is too large' },
    'a float beyond double range': { src: 'files(x=1e999)', reason: 'build-unsupported', at: [1, 9, 5], says: 'number is too large' },
  });
});

describe('unknown names', () => {
  table({
    'an unknown target type with a close match': {
      src: 'pyhton_sources(name="a")', reason: 'build-unknown-symbol', at: [1, 1, 14], says: 'unknown target type `pyhton_sources`', hint: 'did you mean `python_sources`?',
    },
    'a lower-case true': { src: 'files(x=true)', reason: 'build-unknown-symbol', at: [1, 9, 4], says: 'unknown name `true`', hint: 'did you mean `True`?' },
    'a bare word meant as a string': { src: 'files(name=app)', reason: 'build-unknown-symbol', at: [1, 12, 3], says: 'unknown name `app`', hint: '`"app"`' },
    'a target type used as a value': { src: 'files(x=[files])', reason: 'build-unknown-symbol', at: [1, 10, 5], says: '`files` is a target type, not a value' },
  });

  test('with no close match, the hint lists the known target types', () => {
    const f = fail('zzzzzzzzzz(name="a")');
    assert.deepEqual(f.hints, ['known target types: `files`, `python_sources`, `python_tests`, `resources`, `shell_sources`, `target`']);
  });

  test('an unknown name is reported once its item is complete, not before the construct it is part of', () => {
    assert.equal(fail('files(x=[a for a in b])').message, 'comprehensions are not supported in BUILD files');
    assert.equal(fail('files(x=a if b else c)').reason, 'build-unsupported');
    assert.equal(fail('files(x=a or b)').message, 'the `or` operator is not supported in BUILD files');
  });

  test('an unknown name wins over errors in later items', () => {
    for (const src of ['files(name=foo, sources=[1 - 2])', 'files(x=[foo], y=1 - 2)', 'files(x=(foo), y=*z)', 'files(x={foo: 1, "a": 1 - 2})', 'files(x={"a": foo, "b": -"c"})', 'files(x=(foo, 1 - 2))']) {
      const f = fail(src);
      assert.deepEqual([f.reason, f.message], ['build-unknown-symbol', 'unknown name `foo`'], src);
    }
  });

  test('an unknown name in a + chain is not a type error', () => {
    for (const src of ['files(x=foo + [1])', 'files(x=["a"] + foo + "b")', 'files(x="a" + foo)']) {
      assert.equal(fail(src).message, 'unknown name `foo`', src);
    }
  });

  test('the first of several unknown names is reported', () => {
    assert.equal(fail('files(x=foo + bar)').message, 'unknown name `foo`');
  });

  test('a long list of known target types is cut short', () => {
    const many = new Set(Array.from({ length: 30 }, (_, i) => `type_${String(i).padStart(2, '0')}`));
    const f = fail('zzzzzzzzzzzzzzzzzzzz()', many);
    assert.match(f.hints![0]!, /`type_11`, … \(30 in all\)$/);
  });

  test('with no known symbols at all, every call is unknown and there is no hint', () => {
    const f = fail('files()', new Set());
    assert.equal(f.reason, 'build-unknown-symbol');
    assert.equal(f.hints, undefined);
  });
});

describe('arguments', () => {
  table({
    'a positional argument': {
      src: 'files("a")', reason: 'build-positional-argument', at: [1, 7, 3], says: '`files(...)` takes keyword arguments only, e.g. `name="..."`', hint: 'name',
    },
    'a positional argument after keywords': { src: 'files(name="a", ["b"])', reason: 'build-positional-argument', at: [1, 17, 1], says: 'keyword arguments only' },
    'a positional name': { src: 'files(x)', reason: 'build-positional-argument', at: [1, 7, 1], says: 'keyword arguments only' },
    'a duplicate argument': {
      src: 'files(\n  name="a",\n  name="b",\n)', reason: 'build-duplicate-argument', at: [3, 3, 4], says: 'duplicate argument `name` in `files(...)`',
    },
    'a duplicate dict key': { src: 'files(x={"a": 1, "b": 2, "a": 3})', reason: 'build-duplicate-key', at: [1, 26, 3], says: 'duplicate key "a" in dict' },
  });

  test('a duplicate argument notes where the first one was', () => {
    assert.deepEqual(fail('files(\n  name="a",\n  name="b",\n)').notes, ['`name` was already given at line 2, column 3']);
  });
});

describe('type errors', () => {
  table({
    'string + list': { src: 'files(x="a" + ["b"])', reason: 'build-type-error', at: [1, 13, 7], says: '`+` cannot join a string and a list', hint: 'two strings, two lists or two tuples' },
    'list + tuple': { src: 'files(x=["a"] + ("b",))', reason: 'build-type-error', at: [1, 15, 8], says: '`+` cannot join a list and a tuple' },
    'dict + dict': { src: 'files(x={} + {})', reason: 'build-type-error', at: [1, 12, 4], says: '`+` cannot join a dict and a dict' },
    'a chain going wrong at its end': { src: 'files(x="a" + "b" + None)', reason: 'build-type-error', at: [1, 19, 6], says: 'a string and None' },
    'the right operand on the next line': { src: 'files(x=["a"] +\n  "b")', reason: 'build-type-error', at: [1, 15, 1], says: 'a list and a string' },
  });
});

describe('nesting depth', () => {
  test('100,000 nested brackets fail cleanly', () => {
    const deep = `files(x=${'['.repeat(100_000)}${']'.repeat(100_000)})`;
    const f = fail(deep);
    assert.equal(f.reason, 'build-too-deep');
    assert.equal(f.location?.col, 9 + 99);
    assert.match(f.message, /nested more than 100 levels/);
  });

  test('deep unclosed brackets of mixed kinds', () => {
    const f = fail(`files(x=${'([{'.repeat(50_000)}`);
    assert.equal(f.reason, 'build-too-deep');
  });

  test('the literal parser has the same cap', () => {
    const r = parseLiteral('('.repeat(100_000), 'opt');
    assert.ok(!r.ok);
    assert.equal(r.failure.reason, 'build-too-deep');
  });
});

describe('which error is reported', () => {
  test('the first one in the file', () => {
    const f = fail('files(name="a")\nx = 1\nfiles(name="unterminated)\n');
    assert.equal(f.location?.line, 2);
  });

  test('a lexical error before a grammatical one', () => {
    const f = fail('files(name="a\nfiles(name=1 2)\n');
    assert.equal(f.message, 'unterminated string');
  });

  test('a grammatical error before a lexical one', () => {
    const f = fail('files(name=1 2)\nfiles(name="a\n');
    assert.equal(f.location?.line, 1);
    assert.match(f.message, /expected `,` or `\)`/);
  });

  test('an unknown target type before a later syntax error', () => {
    assert.equal(fail('fils(name="a")\nfiles(name=)\n').reason, 'build-unknown-symbol');
  });

  test('an unclosed bracket after the parse error is not blamed', () => {
    const f = fail('files(name=1 2)\nfiles(name="a"\n');
    assert.equal(f.location?.line, 1);
  });
});

describe('parseLiteral errors', () => {
  function literalFailure(text: string): Failure {
    const r = parseLiteral(text, '--remote-execution-extra-platform-properties');
    if (r.ok) assert.fail(`expected a failure for ${JSON.stringify(text)}`);
    assert.equal(r.failure.location?.file, '--remote-execution-extra-platform-properties');
    return r.failure;
  }

  test('empty input', () => {
    const f = literalFailure('');
    assert.equal(f.message, 'expected a value, found end of input');
    assert.deepEqual([f.location?.line, f.location?.col], [1, 1]);
  });

  test('a call', () => {
    assert.equal(literalFailure('glob("x")').reason, 'build-unsupported');
  });

  test('two values', () => {
    const f = literalFailure('"a" "b" 1');
    assert.equal(f.message, 'expected end of input, found a number');
    assert.equal(f.location?.col, 9);
  });

  test('two values on separate lines', () => {
    assert.equal(literalFailure('"a"\n"b"').message, 'expected end of input, found a string');
  });

  test('an unquoted word', () => {
    const f = literalFailure('linux');
    assert.equal(f.reason, 'build-unknown-symbol');
    assert.deepEqual(f.hints, ['BUILD files have no variables; if you meant a string, quote it: `"linux"`']);
  });

  test('a bracket that is never closed', () => {
    assert.equal(literalFailure("['a'").message, '`[` was never closed');
  });
});
