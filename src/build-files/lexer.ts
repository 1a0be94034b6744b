import { isFailureError } from '../core/index.js';
import { spanAt, stop, type BuildErrorReason, type ErrorExtras } from './errors.js';
import type { SourceText } from './source-text.js';
import type { Token, TokenType } from './token.js';

/**
 * Deepest bracket nesting accepted. Real BUILD files stay in single digits; the
 * cap is what keeps the recursive-descent parser off the end of the call stack.
 */
export const MAX_NESTING = 100;

export type LexMode = 'file' | 'expression';

const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Operators Python has that BUILD files reject; lexed whole so errors can name them. */
const OPERATORS_3 = new Set(['**=', '//=', '<<=', '>>=', '...']);
const OPERATORS_2 = new Set([
  '**', '//', '==', '!=', '<=', '>=', '<<', '>>', '->', ':=',
  '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '@=',
]);
const OPERATORS_1 = new Set(['+', '-', '*', '/', '%', '@', '&', '|', '^', '~', '<', '>', '=', ':', ',', ';', '.']);

const C_TAB = 9;
const C_LF = 10;
const C_FF = 12;
const C_SPACE = 32;
const C_DQUOTE = 34;
const C_HASH = 35;
const C_SQUOTE = 39;
const C_DOT = 46;
const C_0 = 48;
const C_7 = 55;
const C_9 = 57;
const C_BACKSLASH = 92;
const C_UNDERSCORE = 95;

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === C_UNDERSCORE;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

function hexDigit(c: number): number {
  if (c >= C_0 && c <= C_9) return c - C_0;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function digitIn(c: number, base: number): boolean {
  const d = hexDigit(c);
  return d >= 0 && d < base;
}

/**
 * Splits BUILD source into tokens in one pass. Newlines matter only outside
 * brackets (they end a statement) and comments, blank lines and continuation
 * lines produce nothing, as in Python's tokenizer. The first error ends the
 * stream as an `error` token, so the parser reports whichever problem comes
 * first in the file.
 */
export function tokenize(src: SourceText, mode: LexMode): Token[] {
  return new Lexer(src, mode).run();
}

class Lexer {
  readonly #src: SourceText;
  readonly #text: string;
  readonly #mode: LexMode;
  readonly #tokens: Token[] = [];
  readonly #open: Token[] = [];
  #pos = 0;
  #line = 1;
  #lineStart = 0;
  /** Where the escape sequence last decoded by #escape ends. */
  #escapeEnd = 0;
  #unclosedFailure = false;

  constructor(src: SourceText, mode: LexMode) {
    this.#src = src;
    this.#text = src.text;
    this.#mode = mode;
  }

  run(): Token[] {
    try {
      this.#scan();
    } catch (e) {
      if (!isFailureError(e)) throw e;
      const loc = e.failure.location;
      const line = loc?.line ?? this.#line;
      const col = loc?.col ?? 1;
      const unclosed = this.#unclosedFailure;
      this.#tokens.push({
        type: 'error', text: '', num: 0, start: unclosed ? this.#text.length : this.#pos,
        line, col, endLine: line, endCol: col + 1, failure: e.failure, unclosed,
      });
    }
    return this.#tokens;
  }

  #scan(): void {
    const text = this.#text;
    const n = text.length;
    let atLineStart = true;
    for (;;) {
      if (atLineStart && this.#open.length === 0) {
        atLineStart = false;
        if (!this.#indentation()) {
          atLineStart = true;
          continue;
        }
      }
      if (this.#pos >= n) break;
      const c = text.charCodeAt(this.#pos);
      if (c === C_SPACE || c === C_TAB || c === C_FF) {
        this.#pos++;
      } else if (c === C_LF) {
        if (this.#open.length === 0) {
          this.#newlineToken();
          atLineStart = true;
        }
        this.#pos++;
        this.#newline();
      } else if (c === C_HASH) {
        const nl = text.indexOf('\n', this.#pos);
        this.#pos = nl < 0 ? n : nl;
      } else if (c === C_BACKSLASH) {
        this.#continuation();
      } else if (c === C_SQUOTE || c === C_DQUOTE) {
        this.#string(this.#pos, 0, '');
      } else if (isIdentStart(c)) {
        this.#nameOrPrefixedString();
      } else if (isDigit(c) || (c === C_DOT && isDigit(text.charCodeAt(this.#pos + 1)))) {
        this.#number();
      } else {
        this.#operator(c);
      }
    }
    if (this.#open.length > 0) {
      const o = this.#open[this.#open.length - 1]!;
      this.#unclosedFailure = true;
      this.#fail('build-syntax', `\`${o.text}\` was never closed`, o.line, o.col, 1, {
        hints: [`close it with \`${CLOSER[o.text] ?? ''}\``],
      });
    }
    this.#newlineToken();
    // Point end-of-file errors at the end of the last line with text rather than at an empty line.
    const lines = this.#src.lines;
    let eofLine = lines.length;
    while (eofLine > 1 && (lines[eofLine - 1] ?? '').trim() === '') eofLine--;
    const eofCol = (lines[eofLine - 1] ?? '').length + 1;
    this.#tokens.push({ type: 'eof', text: '', num: 0, start: n, line: eofLine, col: eofCol, endLine: eofLine, endCol: eofCol + 1 });
  }

  /**
   * Checks the indentation of a line that starts a statement. Returns false when
   * the line is blank or only a comment (the caller then looks at the next line).
   */
  #indentation(): boolean {
    const text = this.#text;
    const n = text.length;
    let p = this.#pos;
    let tabs = false;
    let spaces = false;
    for (; p < n; p++) {
      const c = text.charCodeAt(p);
      if (c === C_SPACE) spaces = true;
      else if (c === C_TAB) tabs = true;
      else if (c !== C_FF) break;
    }
    if (p >= n) {
      this.#pos = p;
      return true;
    }
    const c = text.charCodeAt(p);
    if (c === C_LF) {
      this.#pos = p + 1;
      this.#newline();
      return false;
    }
    if (c === C_HASH) {
      const nl = text.indexOf('\n', p);
      if (nl < 0) {
        this.#pos = n;
        return true;
      }
      this.#pos = nl + 1;
      this.#newline();
      return false;
    }
    if ((tabs || spaces) && this.#mode === 'file') {
      const what = tabs && spaces ? ' (mixed tabs and spaces)' : tabs ? ' (a tab)' : '';
      const col = p - this.#lineStart + 1;
      this.#fail('build-syntax', `unexpected indentation${what}: top-level statements must start at column 1`, this.#line, col, 1, {
        hints: ['remove the leading whitespace; indentation is only allowed inside brackets'],
      });
    }
    this.#pos = p;
    return true;
  }

  #continuation(): void {
    const next = this.#text.charCodeAt(this.#pos + 1);
    if (next === C_LF) {
      this.#pos += 2;
      this.#newline();
      return;
    }
    const col = this.#pos - this.#lineStart + 1;
    if (Number.isNaN(next)) {
      this.#fail('build-syntax', 'unexpected end of file after line continuation `\\`', this.#line, col, 1);
    }
    this.#fail('build-syntax', 'unexpected character after line continuation `\\`', this.#line, col, 1, {
      hints: ['a `\\` that continues a line must be its last character'],
    });
  }

  #nameOrPrefixedString(): void {
    const text = this.#text;
    const start = this.#pos;
    let p = start + 1;
    while (p < text.length && isIdentPart(text.charCodeAt(p))) p++;
    const q = text.charCodeAt(p);
    if ((q === C_SQUOTE || q === C_DQUOTE) && p - start <= 2) {
      const prefix = text.slice(start, p).toLowerCase();
      if (prefix === 'r' || prefix === 'u') {
        this.#string(start, p - start, prefix);
        return;
      }
      if (prefix === 'f' || prefix === 'fr' || prefix === 'rf') {
        this.#fail('build-unsupported', 'f-strings are not supported in BUILD files', this.#line, start - this.#lineStart + 1, p - start + 1, {
          hints: ['BUILD files are not evaluated: write the string out in full, or join literal pieces with `+`'],
        });
      }
      if (prefix === 'b' || prefix === 'br' || prefix === 'rb') {
        this.#fail('build-unsupported', 'byte strings are not supported in BUILD files', this.#line, start - this.#lineStart + 1, p - start + 1, {
          hints: ['use a plain string: remove the `b` prefix'],
        });
      }
    }
    this.#pos = p;
    this.#push('name', text.slice(start, p), 0, start, this.#line, start - this.#lineStart + 1, this.#line, p - this.#lineStart + 1);
  }

  /** Scans a string literal whose prefix (`r`, `u` or none) starts at `start`. */
  #string(start: number, prefixLen: number, prefix: string): void {
    const text = this.#text;
    const n = text.length;
    const raw = prefix === 'r';
    const quotePos = start + prefixLen;
    const q = text.charCodeAt(quotePos);
    const triple = text.charCodeAt(quotePos + 1) === q && text.charCodeAt(quotePos + 2) === q;
    const startLine = this.#line;
    const startCol = start - this.#lineStart + 1;
    let p = quotePos + (triple ? 3 : 1);
    let out = '';
    let segment = p;
    for (;;) {
      if (p >= n) this.#unterminated(startLine, startCol, prefixLen, triple, q);
      const c = text.charCodeAt(p);
      if (c === q) {
        if (!triple) break;
        if (text.charCodeAt(p + 1) === q && text.charCodeAt(p + 2) === q) break;
        p++;
      } else if (c === C_LF) {
        if (!triple) this.#unterminated(startLine, startCol, prefixLen, triple, q);
        p++;
        this.#newlineAt(p);
      } else if (c === C_BACKSLASH) {
        if (p + 1 >= n) this.#unterminated(startLine, startCol, prefixLen, triple, q);
        if (raw) {
          // In a raw string a backslash still keeps the next character (even a quote) in the string.
          if (text.charCodeAt(p + 1) === C_LF) this.#newlineAt(p + 2);
          p += 2;
        } else {
          out += text.slice(segment, p) + this.#escape(p);
          p = this.#escapeEnd;
          segment = p;
        }
      } else {
        p++;
      }
    }
    out += text.slice(segment, p);
    this.#pos = p + (triple ? 3 : 1);
    this.#push('str', out, 0, start, startLine, startCol, this.#line, this.#pos - this.#lineStart + 1);
  }

  #unterminated(startLine: number, startCol: number, prefixLen: number, triple: boolean, q: number): never {
    const lineText = this.#src.lines[startLine - 1] ?? '';
    const length = triple ? prefixLen + 3 : lineText.length - startCol + 1;
    const quote = String.fromCharCode(q);
    return this.#fail('build-syntax', triple ? 'unterminated triple-quoted string' : 'unterminated string', startLine, startCol, length, {
      hints: [
        triple
          ? `close it with \`${quote.repeat(3)}\``
          : `close it with \`${quote}\` on the same line; a string that spans lines needs triple quotes`,
      ],
    });
  }

  /** Decodes the escape sequence at `p` (a backslash), leaving its end in #escapeEnd. */
  #escape(p: number): string {
    const text = this.#text;
    const c = text.charCodeAt(p + 1);
    this.#escapeEnd = p + 2;
    switch (c) {
      case C_LF:
        this.#newlineAt(p + 2);
        return '';
      case C_BACKSLASH: return '\\';
      case C_SQUOTE: return "'";
      case C_DQUOTE: return '"';
      case 110 /* n */: return '\n';
      case 116 /* t */: return '\t';
      case 114 /* r */: return '\r';
      case 97 /* a */: return '\x07';
      case 98 /* b */: return '\b';
      case 102 /* f */: return '\f';
      case 118 /* v */: return '\v';
      case 120 /* x */: return this.#hexEscape(p, 2);
      case 117 /* u */: return this.#hexEscape(p, 4);
      case 85 /* U */: return this.#hexEscape(p, 8);
      case 78 /* N */:
        this.#fail('build-unsupported', '`\\N{...}` escapes are not supported in BUILD files', this.#line, p - this.#lineStart + 1, 2, {
          hints: ['write the character itself, or use `\\uXXXX`'],
        });
    }
    if (c >= C_0 && c <= C_7) {
      let v = 0;
      let q = p + 1;
      while (q < p + 4 && text.charCodeAt(q) >= C_0 && text.charCodeAt(q) <= C_7) {
        v = v * 8 + text.charCodeAt(q) - C_0;
        q++;
      }
      this.#escapeEnd = q;
      return String.fromCharCode(v);
    }
    // Python keeps an unrecognized escape as written (`'\d'` is backslash, d).
    this.#escapeEnd = p + 1;
    return '\\';
  }

  #hexEscape(p: number, digits: number): string {
    const text = this.#text;
    let v = 0;
    for (let i = 0; i < digits; i++) {
      const d = hexDigit(text.charCodeAt(p + 2 + i));
      if (d < 0) {
        const letter = text[p + 1] ?? '';
        this.#fail('build-syntax', `invalid \`\\${letter}\` escape: expected ${digits} hex digits`, this.#line, p - this.#lineStart + 1, 2 + i, {
          hints: ['to write a backslash itself, use `\\\\` or a raw string (`r"..."`)'],
        });
      }
      v = v * 16 + d;
    }
    if (v > 0x10ffff) {
      this.#fail('build-syntax', `invalid \`\\U\` escape: ${v.toString(16).toUpperCase()} is beyond the last Unicode code point`, this.#line, p - this.#lineStart + 1, 2 + digits);
    }
    this.#escapeEnd = p + 2 + digits;
    return v <= 0xffff ? String.fromCharCode(v) : String.fromCodePoint(v);
  }

  #number(): void {
    const text = this.#text;
    const start = this.#pos;
    const col = start - this.#lineStart + 1;
    let p = start;
    let type: TokenType = 'int';
    let value: number;
    const c1 = text.charCodeAt(start + 1) | 0x20;
    if (text.charCodeAt(start) === C_0 && (c1 === 120 /* x */ || c1 === 111 /* o */ || c1 === 98 /* b */)) {
      const base = c1 === 120 ? 16 : c1 === 111 ? 8 : 2;
      p += 2;
      const digitsStart = p;
      let digits = '';
      for (;;) {
        let c = text.charCodeAt(p);
        if (c === C_UNDERSCORE && digitIn(text.charCodeAt(p + 1), base)) c = text.charCodeAt(++p);
        if (!digitIn(c, base)) break;
        digits += text[p];
        p++;
      }
      if (digits.length === 0 || isIdentPart(text.charCodeAt(p))) this.#badNumber(start, Math.max(p, digitsStart));
      value = parseInt(digits, base);
    } else {
      p = this.#digitPart(p);
      const intEnd = p;
      if (text.charCodeAt(p) === C_DOT) {
        type = 'float';
        p = this.#digitPart(p + 1);
      }
      const e = text.charCodeAt(p) | 0x20;
      if (e === 101 /* e */) {
        let q = p + 1;
        const sign = text.charCodeAt(q);
        if (sign === 43 || sign === 45) q++;
        if (isDigit(text.charCodeAt(q))) {
          type = 'float';
          p = this.#digitPart(q);
        }
      }
      if ((text.charCodeAt(p) | 0x20) === 106 /* j */) {
        this.#fail('build-unsupported', 'complex numbers are not supported in BUILD files', this.#line, col, p + 1 - start);
      }
      if (isIdentPart(text.charCodeAt(p))) this.#badNumber(start, p);
      const literal = text.slice(start, p);
      if (type === 'int' && intEnd - start > 1 && text.charCodeAt(start) === C_0 && /[1-9]/.test(literal)) {
        this.#fail('build-syntax', 'leading zeros are not allowed in decimal integers', this.#line, col, p - start, {
          hints: ['remove the zeros, or write an octal number as `0o…`'],
        });
      }
      value = Number(literal.includes('_') ? literal.replace(/_/g, '') : literal);
    }
    if (type === 'int' && !Number.isSafeInteger(value)) {
      this.#fail('build-unsupported', 'integer is too large: BUILD files support integers up to 2^53 - 1', this.#line, col, p - start);
    }
    if (!Number.isFinite(value)) {
      this.#fail('build-unsupported', 'number is too large', this.#line, col, p - start);
    }
    this.#pos = p;
    this.#push(type, '', value, start, this.#line, col, this.#line, p - this.#lineStart + 1);
  }

  /** Digits with single underscores between them; returns the offset after them. */
  #digitPart(p: number): number {
    const text = this.#text;
    for (;;) {
      const c = text.charCodeAt(p);
      if (isDigit(c)) p++;
      else if (c === C_UNDERSCORE && isDigit(text.charCodeAt(p + 1))) p += 2;
      else return p;
    }
  }

  #badNumber(start: number, p: number): never {
    const text = this.#text;
    let end = p;
    while (end < text.length && (isIdentPart(text.charCodeAt(end)) || text.charCodeAt(end) === C_DOT)) end++;
    return this.#fail('build-syntax', `invalid number \`${text.slice(start, end)}\``, this.#line, start - this.#lineStart + 1, end - start);
  }

  #operator(c: number): void {
    const text = this.#text;
    const start = this.#pos;
    const col = start - this.#lineStart + 1;
    const ch = text[start] ?? '';
    if (ch === '(' || ch === '[' || ch === '{') {
      if (this.#open.length >= MAX_NESTING) {
        this.#fail('build-too-deep', `brackets are nested more than ${MAX_NESTING} levels deep`, this.#line, col, 1, {
          hints: ['BUILD values are plain data; flatten the structure'],
        });
      }
      const t = this.#push('op', ch, 0, start, this.#line, col, this.#line, col + 1);
      this.#open.push(t);
      this.#pos++;
      return;
    }
    if (ch === ')' || ch === ']' || ch === '}') {
      const o = this.#open.pop();
      if (o === undefined) {
        this.#fail('build-syntax', `unmatched \`${ch}\``, this.#line, col, 1, { hints: ['remove it, or add the opening bracket it closes'] });
      }
      const want = CLOSER[o.text];
      if (want !== ch) {
        this.#fail('build-syntax', `\`${ch}\` does not match the \`${o.text}\` opened at line ${o.line}, column ${o.col}`, this.#line, col, 1, {
          hints: [`close \`${o.text}\` with \`${want ?? ''}\` first`],
        });
      }
      this.#push('op', ch, 0, start, this.#line, col, this.#line, col + 1);
      this.#pos++;
      return;
    }
    let op = '';
    const three = text.slice(start, start + 3);
    if (OPERATORS_3.has(three)) op = three;
    else if (OPERATORS_2.has(three.slice(0, 2))) op = three.slice(0, 2);
    else if (OPERATORS_1.has(ch)) op = ch;
    if (op === '') this.#unexpectedCharacter(c, col);
    this.#push('op', op, 0, start, this.#line, col, this.#line, col + op.length);
    this.#pos += op.length;
  }

  #unexpectedCharacter(c: number, col: number): never {
    const cp = this.#text.codePointAt(this.#pos) ?? c;
    const code = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    const printable = cp > 32 && cp < 127;
    const hints: string[] = [];
    if (cp === 0x2018 || cp === 0x2019 || cp === 0x201c || cp === 0x201d) hints.push('use a straight quote (\' or ") to write a string');
    else if (cp === 0xa0) hints.push('this is a non-breaking space; use a plain space');
    else if (cp === 0x60) hints.push('backticks do nothing in Python; use \' or " for strings');
    const what = printable ? `\`${String.fromCodePoint(cp)}\`` : cp > 127 ? `\`${String.fromCodePoint(cp)}\` (${code})` : code;
    return this.#fail('build-syntax', `unexpected character ${what}`, this.#line, col, cp > 0xffff ? 2 : 1, { hints });
  }

  #push(type: TokenType, text: string, num: number, start: number, line: number, col: number, endLine: number, endCol: number): Token {
    const t: Token = { type, text, num, start, line, col, endLine, endCol };
    this.#tokens.push(t);
    return t;
  }

  /** Ends a logical line, unless it is empty: blank lines and comments make no tokens. */
  #newlineToken(): void {
    const last = this.#tokens[this.#tokens.length - 1];
    if (last === undefined || last.type === 'newline') return;
    const col = this.#pos - this.#lineStart + 1;
    this.#tokens.push({ type: 'newline', text: '', num: 0, start: this.#pos, line: this.#line, col, endLine: this.#line, endCol: col + 1 });
  }

  /** Records that a line starts at `this.#pos`. */
  #newline(): void {
    this.#line++;
    this.#lineStart = this.#pos;
  }

  #newlineAt(p: number): void {
    this.#line++;
    this.#lineStart = p;
  }

  #fail(reason: BuildErrorReason, message: string, line: number, col: number, length: number, extras?: ErrorExtras): never {
    return stop(this.#src, reason, message, spanAt(line, col, Math.max(1, length)), extras);
  }
}
