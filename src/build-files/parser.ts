import { closest, err, isFailureError, ok, raise, type Failure, type Result } from '../core/index.js';
import { buildFailure, DECLARATIVE_HINT, stop, type BuildErrorReason, type ErrorExtras } from './errors.js';
import { PYTHON_KEYWORDS, unsupportedKeyword } from './keywords.js';
import { tokenize } from './lexer.js';
import { sourceText, type SourceText } from './source-text.js';
import { describeToken, type Token } from './token.js';
import type { BuildFileSyntax, CallStatement, DictEntry, KeywordArg, Span, ValueNode } from './types.js';
import { describeKind } from './values.js';

/**
 * Parses a BUILD file: top-level calls of `symbols` with keyword arguments whose
 * values are literals. Returns the first error in the file, in source order.
 */
export function parseBuildFile(path: string, text: string, symbols: ReadonlySet<string>): Result<BuildFileSyntax, Failure> {
  const src = sourceText(path, text);
  return guard(() => ({ path, lines: src.lines, calls: new Parser(src, 'file', symbols).file() }));
}

const NO_SYMBOLS: ReadonlySet<string> = new Set();

/** Parses one literal expression (no calls), such as an option value `['OSFamily=linux']`. */
export function parseLiteral(text: string, origin: string): Result<ValueNode, Failure> {
  const src = sourceText(origin, text);
  return guard(() => new Parser(src, 'expression', NO_SYMBOLS).expression());
}

function guard<T>(run: () => T): Result<T, Failure> {
  try {
    return ok(run());
  } catch (e) {
    if (isFailureError(e)) return err(e.failure);
    throw e;
  }
}

/** Binary operators of Python's expression grammar, other than `+`. */
const BINARY_OPERATORS = new Set([
  '-', '*', '/', '//', '%', '**', '@', '<', '>', '<=', '>=', '==', '!=', '&', '|', '^', '<<', '>>',
]);
const WORD_OPERATORS = new Set(['and', 'or', 'not', 'in', 'is']);
const AUGMENTED_ASSIGNMENTS = new Set(['+=', '-=', '*=', '/=', '//=', '%=', '**=', '@=', '&=', '|=', '^=', '<<=', '>>=']);
const VALUES_HINT = 'BUILD values are literals: strings, numbers, True/False/None, lists, tuples and dicts';

function spanOf(t: Token): Span {
  return { line: t.line, col: t.col, endLine: t.endLine, endCol: t.endCol };
}

function spanFrom(a: Span | Token, b: Span | Token): Span {
  return { line: a.line, col: a.col, endLine: b.endLine, endCol: b.endCol };
}

/** Whether `t` could begin a value, which is when a missing comma is the likely mistake. */
function startsValue(t: Token): boolean {
  if (t.type === 'str' || t.type === 'int' || t.type === 'float') return true;
  if (t.type === 'name') return !PYTHON_KEYWORDS.has(t.text) || t.text === 'True' || t.text === 'False' || t.text === 'None';
  return t.type === 'op' && (t.text === '[' || t.text === '{' || t.text === '-');
}

class Parser {
  readonly #src: SourceText;
  readonly #tokens: Token[];
  readonly #symbols: ReadonlySet<string>;
  readonly #endName: string;
  #i = 0;
  #tok: Token;
  /**
   * An unknown bare name is reported once the item it is in is complete, so that
   * `[f + ".txt" for f in names]` is called a comprehension rather than `f` unknown.
   */
  #pending: Failure | undefined;

  constructor(src: SourceText, mode: 'file' | 'expression', symbols: ReadonlySet<string>) {
    this.#src = src;
    this.#tokens = tokenize(src, mode);
    this.#symbols = symbols;
    this.#endName = mode === 'file' ? 'end of file' : 'end of input';
    this.#tok = this.#tokens[0]!;
    this.#check(this.#tok);
  }

  file(): CallStatement[] {
    const calls: CallStatement[] = [];
    for (;;) {
      const t = this.#tok;
      if (t.type === 'eof') return calls;
      if (t.type === 'newline') {
        this.#advance();
        continue;
      }
      const call = this.#statement();
      calls.push(call);
      const end = this.#tok;
      if (end.type === 'newline') this.#advance();
      else if (end.type !== 'eof') this.#afterStatement(call, end);
    }
  }

  expression(): ValueNode {
    this.#skipNewlines();
    const value = this.#expr();
    this.#skipNewlines();
    if (this.#tok.type !== 'eof') this.#unexpectedAfterValue(this.#tok, this.#endName);
    this.#flushPending();
    return value;
  }

  // ---- tokens

  #skipNewlines(): void {
    while (this.#tok.type === 'newline') this.#advance();
  }

  #advance(): void {
    if (this.#i < this.#tokens.length - 1) this.#i++;
    this.#tok = this.#tokens[this.#i]!;
    this.#check(this.#tok);
  }

  #peek(): Token {
    const t = this.#tokens[Math.min(this.#i + 1, this.#tokens.length - 1)]!;
    this.#check(t);
    return t;
  }

  /** A lexer error is reported as soon as the parser looks at where it happened. */
  #check(t: Token): void {
    if (t.type === 'error' && t.failure) raise(t.failure);
  }

  #isOp(t: Token, op: string): boolean {
    return t.type === 'op' && t.text === op;
  }

  #fail(reason: BuildErrorReason, message: string, span: Span | Token, extras?: ErrorExtras): never {
    const s = 'type' in span ? spanOf(span) : span;
    if (reason === 'build-syntax' || reason === 'build-positional-argument') this.#preferUnclosed(s);
    return stop(this.#src, reason, message, s, extras);
  }

  /**
   * A bracket left open swallows the newlines after it, so the parser first trips
   * over the next statement. When the lexer found such a bracket before the spot
   * the parser complains about, the bracket is the real mistake (as in Python 3.10+).
   */
  #preferUnclosed(at: Span): void {
    const last = this.#tokens[this.#tokens.length - 1]!;
    if (last.type === 'error' && last.unclosed && last.failure) {
      if (last.line < at.line || (last.line === at.line && last.col < at.col)) raise(last.failure);
    }
  }

  #defer(message: string, t: Token, hints: string[]): ValueNode {
    this.#pending ??= buildFailure(this.#src, 'build-unknown-symbol', message, spanOf(t), { hints });
    this.#advance();
    // A stand-in: the item fails once it is complete, whatever this value is.
    return { kind: 'none', value: null, span: spanOf(t) };
  }

  #flushPending(): void {
    if (this.#pending !== undefined) raise(this.#pending);
  }

  #describe(t: Token): string {
    return describeToken(t, this.#endName);
  }

  // ---- statements

  #statement(): CallStatement {
    const t = this.#tok;
    if (t.type === 'name') {
      if (PYTHON_KEYWORDS.has(t.text)) {
        const u = unsupportedKeyword(t.text);
        if (u !== undefined) this.#fail('build-unsupported', u, t, { hints: [DECLARATIVE_HINT] });
      } else {
        const next = this.#peek();
        if (this.#isOp(next, '(')) return this.#call(t);
        if (next.type === 'op') {
          if (next.text === '=' || next.text === ':' || AUGMENTED_ASSIGNMENTS.has(next.text)) {
            this.#fail('build-unsupported', 'assignments are not supported in BUILD files', spanFrom(t, next), {
              hints: ['write the value directly into each target that uses it'],
            });
          }
          if (next.text === '.') this.#attribute(t);
          if (next.text === '[') this.#fail('build-unsupported', 'subscripts (`x[...]`) are not supported in BUILD files', spanFrom(t, next));
        }
        if (this.#symbols.has(t.text)) {
          this.#fail('build-syntax', `expected \`(\` after target type \`${t.text}\`, found ${this.#describe(next)}`, next, {
            hints: [`declare a target as \`${t.text}(name="...")\``],
          });
        }
      }
    }
    if (t.type === 'op' && !(t.text === '(' || t.text === '[' || t.text === '{' || t.text === '-')) {
      if (t.text === '@') this.#fail('build-unsupported', 'decorators are not supported in BUILD files', t, { hints: [DECLARATIVE_HINT] });
      if (t.text === ';') this.#fail('build-unsupported', 'semicolons are not supported in BUILD files', t, { hints: ['put each target declaration on its own line'] });
      this.#fail('build-syntax', `unexpected ${this.#describe(t)}`, t, { hints: [DECLARATIVE_HINT] });
    }
    const what = t.type === 'name' && !PYTHON_KEYWORDS.has(t.text) ? `the name \`${t.text}\`` : this.#describe(t);
    return this.#fail('build-unsupported', `expected a target declaration, found ${what}`, t, {
      hints: [DECLARATIVE_HINT],
    });
  }

  #call(nameTok: Token): CallStatement {
    const callee = nameTok.text;
    if (!this.#symbols.has(callee)) this.#unknownSymbol(nameTok);
    this.#advance();
    this.#advance();
    const args: KeywordArg[] = [];
    const seen = new Map<string, KeywordArg>();
    for (;;) {
      const t = this.#tok;
      if (this.#isOp(t, ')')) break;
      if (this.#isOp(t, '*') || this.#isOp(t, '**')) this.#unpacking(t);
      const next = this.#peek();
      if (t.type !== 'name' || !this.#isOp(next, '=')) this.#positional(callee, t, next);
      if (PYTHON_KEYWORDS.has(t.text)) {
        this.#fail('build-syntax', `\`${t.text}\` is a Python keyword and cannot name an argument`, t);
      }
      const earlier = seen.get(t.text);
      if (earlier !== undefined) {
        this.#fail('build-duplicate-argument', `duplicate argument \`${t.text}\` in \`${callee}(...)\``, t, {
          notes: [`\`${t.text}\` was already given at line ${earlier.nameSpan.line}, column ${earlier.nameSpan.col}`],
          hints: ['remove one of them'],
        });
      }
      this.#advance();
      this.#advance();
      const arg: KeywordArg = { name: t.text, nameSpan: spanOf(t), value: this.#expr() };
      args.push(arg);
      seen.set(arg.name, arg);
      this.#endElement(')');
    }
    const close = this.#tok;
    this.#advance();
    return { callee, calleeSpan: spanOf(nameTok), span: spanFrom(nameTok, close), args };
  }

  #unknownSymbol(t: Token): never {
    const guess = closest(t.text, this.#symbols);
    const hints: string[] = [];
    if (guess !== undefined) hints.push(`did you mean \`${guess}\`?`);
    else if (this.#symbols.size > 0) {
      const known = [...this.#symbols].sort();
      const shown = known.slice(0, 12).map((s) => `\`${s}\``).join(', ');
      hints.push(`known target types: ${shown}${known.length > 12 ? `, … (${known.length} in all)` : ''}`);
    }
    return this.#fail('build-unknown-symbol', `unknown target type \`${t.text}\``, t, { hints });
  }

  #positional(callee: string, t: Token, next: Token): never {
    if (t.type === 'name' && !PYTHON_KEYWORDS.has(t.text) && (this.#isOp(next, '==') || this.#isOp(next, ':') || startsValue(next))) {
      this.#fail('build-syntax', `expected \`=\` after the argument name \`${t.text}\`, found ${this.#describe(next)}`, next);
    }
    if (t.type === 'op' && (t.text === ',' || t.text === '=' || t.text === ']' || t.text === '}' || t.text === ':')) {
      this.#fail('build-syntax', `unexpected ${this.#describe(t)} in the arguments of \`${callee}(...)\``, t);
    }
    return this.#fail('build-positional-argument', `\`${callee}(...)\` takes keyword arguments only, e.g. \`name="..."\``, t, {
      hints: ['give the argument a name: `field_name=value`'],
    });
  }

  /** Complains about what follows a complete top-level call on the same logical line. */
  #afterStatement(call: CallStatement, t: Token): never {
    if (this.#isOp(t, ';')) {
      this.#fail('build-unsupported', 'semicolons are not supported in BUILD files', t, { hints: ['put each target declaration on its own line'] });
    }
    if (t.type === 'op' && (t.text === '.' || t.text === '[' || t.text === '(' || t.text === '+' || BINARY_OPERATORS.has(t.text))) {
      const what = t.text === '.' ? 'attribute access (`a.b`)' : t.text === '[' ? 'a subscript' : t.text === '(' ? 'a call' : `\`${t.text}\``;
      this.#fail('build-unsupported', `a target declaration is a statement, not a value: ${what} cannot follow \`${call.callee}(...)\``, t, {
        hints: [DECLARATIVE_HINT],
      });
    }
    return this.#fail('build-syntax', `expected end of line after \`${call.callee}(...)\`, found ${this.#describe(t)}`, t, {
      hints: ['put each target declaration on its own line'],
    });
  }

  // ---- values

  #expr(): ValueNode {
    let left = this.#operand();
    // A node made by `+` here is ours to extend, which keeps `a + b + c + ...` linear.
    let owned = false;
    while (this.#isOp(this.#tok, '+')) {
      const plus = this.#tok;
      this.#advance();
      const right = this.#operand();
      left = this.#add(left, right, plus, owned);
      owned = true;
    }
    return left;
  }

  #add(left: ValueNode, right: ValueNode, plus: Token, owned: boolean): ValueNode {
    const span = spanFrom(left.span, right.span);
    // An unknown name in this item will be reported; a type error about its stand-in would mislead.
    if (this.#pending !== undefined) return { kind: 'none', value: null, span };
    if (left.kind === 'str' && right.kind === 'str') return { kind: 'str', value: left.value + right.value, span };
    if ((left.kind === 'list' || left.kind === 'tuple') && right.kind === left.kind) {
      if (owned) {
        for (const item of right.items) left.items.push(item);
        left.span = span;
        return left;
      }
      return { kind: left.kind, items: [...left.items, ...right.items], span };
    }
    const at = spanFrom(plus, right.span.line === plus.line ? right.span : plus);
    const numeric = (k: string): boolean => k === 'int' || k === 'float';
    if (numeric(left.kind) && numeric(right.kind)) {
      this.#fail('build-unsupported', 'arithmetic is not supported in BUILD files', at, {
        hints: ['write the resulting number; `+` only joins two strings, two lists or two tuples'],
      });
    }
    return this.#fail('build-type-error', `\`+\` cannot join ${describeKind(left)} and ${describeKind(right)}`, at, {
      hints: ['`+` joins two strings, two lists or two tuples'],
    });
  }

  #operand(): ValueNode {
    const t = this.#tok;
    switch (t.type) {
      case 'str':
        return this.#strings(t);
      case 'int':
      case 'float':
        this.#advance();
        return { kind: t.type, value: t.num, span: spanOf(t) };
      case 'name':
        return this.#name(t);
      case 'op':
        switch (t.text) {
          case '[':
            return this.#list(t);
          case '(':
            return this.#parenthesized(t);
          case '{':
            return this.#dict(t);
          case '-':
            return this.#negative(t);
          case '+':
          case '~':
            return this.#fail('build-unsupported', `the unary \`${t.text}\` operator is not supported in BUILD files`, t, { hints: [VALUES_HINT] });
          case '*':
          case '**':
            return this.#unpacking(t);
        }
    }
    return this.#fail('build-syntax', `expected a value, found ${this.#describe(t)}`, t, { hints: [VALUES_HINT] });
  }

  /** Adjacent string literals are one string, as in Python: `"a" "b"` is `"ab"`. */
  #strings(first: Token): ValueNode {
    let value = first.text;
    let last = first;
    this.#advance();
    while (this.#tok.type === 'str') {
      last = this.#tok;
      value += last.text;
      this.#advance();
    }
    return { kind: 'str', value, span: spanFrom(first, last) };
  }

  #name(t: Token): ValueNode {
    switch (t.text) {
      case 'True':
      case 'False':
        this.#advance();
        return { kind: 'bool', value: t.text === 'True', span: spanOf(t) };
      case 'None':
        this.#advance();
        return { kind: 'none', value: null, span: spanOf(t) };
      case 'lambda':
        return this.#fail('build-unsupported', 'lambda expressions are not supported in BUILD files', t, { hints: [VALUES_HINT] });
      case 'not':
        return this.#fail('build-unsupported', 'the `not` operator is not supported in BUILD files', t, { hints: [VALUES_HINT] });
    }
    if (PYTHON_KEYWORDS.has(t.text)) {
      return this.#fail('build-syntax', `expected a value, found the keyword \`${t.text}\``, t, { hints: [VALUES_HINT] });
    }
    const next = this.#peek();
    if (this.#isOp(next, '(')) {
      const what = this.#symbols.has(t.text) ? `target type \`${t.text}\`` : `\`${t.text}(...)\``;
      return this.#fail('build-unsupported', `calls are not supported in values: ${what} cannot be called here`, t, {
        hints: [this.#symbols.has(t.text) ? 'declare each target at the top level of the file' : VALUES_HINT],
      });
    }
    if (this.#isOp(next, '.')) this.#attribute(t);
    if (this.#symbols.has(t.text)) return this.#defer(`\`${t.text}\` is a target type, not a value`, t, [VALUES_HINT]);
    const guess = closest(t.text, ['True', 'False', 'None']);
    return this.#defer(
      `unknown name \`${t.text}\``,
      t,
      guess !== undefined ? [`did you mean \`${guess}\`?`] : [`BUILD files have no variables; if you meant a string, quote it: \`"${t.text}"\``],
    );
  }

  #attribute(t: Token): never {
    // Name the whole `a.b` when the attribute is there, to show what was attempted.
    const after = this.#tokens[this.#i + 2];
    const end = after !== undefined && after.type === 'name' ? after : this.#peek();
    return this.#fail('build-unsupported', 'attribute access (`a.b`) is not supported in BUILD files', spanFrom(t, end), {
      hints: [VALUES_HINT],
    });
  }

  #negative(minus: Token): ValueNode {
    this.#advance();
    const n = this.#tok;
    if (n.type !== 'int' && n.type !== 'float') {
      return this.#fail('build-unsupported', 'unary `-` is supported only directly before a number', minus, { hints: [VALUES_HINT] });
    }
    this.#advance();
    // `-0` as an integer is plain 0: JavaScript's -0 would compare unequal in structural checks.
    const value = n.type === 'int' && n.num === 0 ? 0 : -n.num;
    return { kind: n.type, value, span: spanFrom(minus, n) };
  }

  #unpacking(t: Token): never {
    return this.#fail('build-unsupported', `unpacking with \`${t.text}\` is not supported in BUILD files`, t, {
      hints: ['write out each argument or item'],
    });
  }

  #list(open: Token): ValueNode {
    this.#advance();
    const items: ValueNode[] = [];
    while (!this.#isOp(this.#tok, ']')) {
      if (this.#isOp(this.#tok, '*')) this.#unpacking(this.#tok);
      items.push(this.#expr());
      this.#endElement(']');
    }
    const close = this.#tok;
    this.#advance();
    return { kind: 'list', items, span: spanFrom(open, close) };
  }

  /** `()`, `(x,)` and `(x, y)` are tuples; `(x)` is x, with the parentheses in its span. */
  #parenthesized(open: Token): ValueNode {
    this.#advance();
    if (this.#isOp(this.#tok, ')')) {
      const close = this.#tok;
      this.#advance();
      return { kind: 'tuple', items: [], span: spanFrom(open, close) };
    }
    if (this.#isOp(this.#tok, '*')) this.#unpacking(this.#tok);
    const first = this.#expr();
    if (this.#isOp(this.#tok, ')')) {
      this.#flushPending();
      const close = this.#tok;
      this.#advance();
      return { ...first, span: spanFrom(open, close) };
    }
    this.#endElement(')');
    const items = [first];
    while (!this.#isOp(this.#tok, ')')) {
      if (this.#isOp(this.#tok, '*')) this.#unpacking(this.#tok);
      items.push(this.#expr());
      this.#endElement(')');
    }
    const close = this.#tok;
    this.#advance();
    return { kind: 'tuple', items, span: spanFrom(open, close) };
  }

  #dict(open: Token): ValueNode {
    this.#advance();
    const entries: DictEntry[] = [];
    const seen = new Map<string, DictEntry>();
    while (!this.#isOp(this.#tok, '}')) {
      if (this.#isOp(this.#tok, '**')) this.#unpacking(this.#tok);
      const key = this.#expr();
      const colon = this.#tok;
      if (!this.#isOp(colon, ':')) {
        if (entries.length === 0 && (this.#isOp(colon, ',') || this.#isOp(colon, '}'))) {
          this.#fail('build-unsupported', 'sets are not supported in BUILD files', open, { hints: ['use a list: `[...]`'] });
        }
        this.#unexpectedAfterValue(colon, '`:`');
      }
      this.#flushPending();
      if (key.kind !== 'str') {
        this.#fail('build-unsupported', `dict keys must be strings, not ${describeKind(key)}`, key.span);
      }
      const earlier = seen.get(key.value);
      if (earlier !== undefined) {
        this.#fail('build-duplicate-key', `duplicate key ${JSON.stringify(key.value)} in dict`, key.span, {
          notes: [`the key was already given at line ${earlier.keySpan.line}, column ${earlier.keySpan.col}`],
          hints: ['remove one of them; Python would silently keep only the last'],
        });
      }
      this.#advance();
      const entry: DictEntry = { key: key.value, keySpan: key.span, value: this.#expr() };
      entries.push(entry);
      seen.set(entry.key, entry);
      this.#endElement('}');
    }
    const close = this.#tok;
    this.#advance();
    return { kind: 'dict', entries, span: spanFrom(open, close) };
  }

  /**
   * Ends an item of a bracketed sequence: consumes its `,`, or stops before the
   * closing bracket. Anything else is explained by #unexpectedAfterValue.
   */
  #endElement(closer: string): void {
    const t = this.#tok;
    if (this.#isOp(t, ',')) {
      this.#flushPending();
      this.#advance();
    } else if (this.#isOp(t, closer)) {
      this.#flushPending();
    } else {
      this.#unexpectedAfterValue(t, `\`,\` or \`${closer}\``);
    }
  }

  /** Explains a token that cannot follow a complete value, where `expected` could. */
  #unexpectedAfterValue(t: Token, expected: string): never {
    if (t.type === 'op') {
      if (BINARY_OPERATORS.has(t.text)) {
        this.#fail('build-unsupported', `the \`${t.text}\` operator is not supported in BUILD files`, t, {
          hints: ['`+` is the only operator: it joins two strings, two lists or two tuples'],
        });
      }
      if (t.text === '.') this.#fail('build-unsupported', 'attribute access (`a.b`) is not supported in BUILD files', t, { hints: [VALUES_HINT] });
      if (t.text === '[') this.#fail('build-unsupported', 'subscripts (`x[...]`) are not supported in BUILD files', t, { hints: [VALUES_HINT] });
      if (t.text === '(') this.#fail('build-unsupported', 'calls are not supported in values', t, { hints: [VALUES_HINT] });
      if (t.text === ':=') this.#fail('build-unsupported', 'assignment expressions (`:=`) are not supported in BUILD files', t);
      if (t.text === '=' && expected === '`,` or `]`') {
        this.#fail('build-syntax', `unexpected \`=\` in a list`, t, { hints: ['keyword arguments belong directly inside a target declaration\'s parentheses'] });
      }
    }
    if (t.type === 'name') {
      if (WORD_OPERATORS.has(t.text)) {
        this.#fail('build-unsupported', `the \`${t.text}\` operator is not supported in BUILD files`, t, { hints: [VALUES_HINT] });
      }
      if (t.text === 'if') this.#fail('build-unsupported', 'conditional expressions (`x if c else y`) are not supported in BUILD files', t, { hints: [VALUES_HINT] });
      if (t.text === 'for' || t.text === 'async') this.#fail('build-unsupported', 'comprehensions are not supported in BUILD files', t, { hints: ['write out each item'] });
    }
    const hints = startsValue(t) ? [expected === '`:`' ? 'did you forget a `:`?' : 'did you forget a comma?'] : [];
    return this.#fail('build-syntax', `expected ${expected}, found ${this.#describe(t)}`, t, { hints });
  }
}
