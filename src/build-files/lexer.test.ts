import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenize } from './lexer.js';
import { sourceText } from './source-text.js';

function kinds(text: string, mode: 'file' | 'expression' = 'file'): string[] {
  return tokenize(sourceText('BUILD', text), mode).map((t) => (t.type === 'op' || t.type === 'name' ? t.text : t.type));
}

test('a newline ends a statement only outside brackets', () => {
  assert.deepEqual(kinds('f(a=1,\n  b=2)\ng()'), ['f', '(', 'a', '=', 'int', ',', 'b', '=', 'int', ')', 'newline', 'g', '(', ')', 'newline', 'eof']);
});

test('blank lines, comments and continuations make no tokens', () => {
  assert.deepEqual(kinds('\n# c\n\n   \nf()  # c\n\n'), ['f', '(', ')', 'newline', 'eof']);
  assert.deepEqual(kinds('f() \\\n + g()'), ['f', '(', ')', '+', 'g', '(', ')', 'newline', 'eof']);
  assert.deepEqual(kinds(''), ['eof']);
});

test('multi-character operators are single tokens', () => {
  assert.deepEqual(kinds('a ** b // c == d != e <= f >>= g := h ... i -> j', 'expression').filter((k) => k.length > 1 && !/^[a-z]$/.test(k)), [
    '**', '//', '==', '!=', '<=', '>>=', ':=', '...', '->', 'newline', 'eof',
  ]);
});

test('indentation is allowed in an expression', () => {
  assert.deepEqual(kinds('   [1]', 'expression'), ['[', 'int', ']', 'newline', 'eof']);
  const t = tokenize(sourceText('BUILD', '   [1]'), 'file');
  assert.equal(t[t.length - 1]!.type, 'error');
});

test('an error ends the stream after the tokens before it', () => {
  const t = tokenize(sourceText('BUILD', 'f(a=1) $'), 'file');
  assert.deepEqual(t.map((x) => x.type), ['name', 'op', 'name', 'op', 'int', 'op', 'error']);
  assert.equal(t[t.length - 1]!.failure?.location?.col, 8);
});

test('token positions are 1-based with exclusive ends, across lines', () => {
  const [a, s] = tokenize(sourceText('BUILD', 'x("""a\nbc""")'), 'file').slice(1, 3);
  assert.deepEqual([a!.line, a!.col, a!.endLine, a!.endCol], [1, 2, 1, 3]);
  assert.deepEqual([s!.line, s!.col, s!.endLine, s!.endCol, s!.text], [1, 3, 2, 6, 'a\nbc']);
});

test('the end-of-file token sits at the end of the last line with text', () => {
  const t = tokenize(sourceText('BUILD', 'f()\n\n  \n'), 'file');
  const eof = t[t.length - 1]!;
  assert.deepEqual([eof.type, eof.line, eof.col], ['eof', 1, 4]);
  const u = tokenize(sourceText('BUILD', 'f()\n'), 'file');
  assert.deepEqual([u[u.length - 1]!.line, u[u.length - 1]!.col], [1, 4]);
});
