/**
 * Text from files and processes, made safe to print on a terminal: control
 * characters (C0, DEL, C1: escape sequences, carriage returns, bells), the
 * invisible direction overrides of "Trojan Source", and lone surrogates are
 * shown as escapes (`\x1b`, `\u{202e}`), and length is bounded.
 */

/** Longest line of a diagnostic, in characters; the rest is counted, not printed. */
export const MAX_LINE_CHARS = 1000;
/** Characters of a source line shown around the caret. */
export const SOURCE_WINDOW = 120;
/** Of which at most this many before the caret, when the line does not fit. */
const LEFT_CONTEXT = 40;

function needsEscape(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x061c ||
    cp === 0x200e ||
    cp === 0x200f ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

function escapeOf(cp: number): string {
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
}

/** The code point at `i` (a lone surrogate is its own code point) and where the next one starts. */
function codePointAt(s: string, i: number): [cp: number, next: number] {
  const cp = s.codePointAt(i)!;
  return [cp, i + (cp > 0xffff ? 2 : 1)];
}

/** How one code point is shown: itself or its escape; a tab in source is one space, so the caret lines up. */
function shown(cp: number, tabAsSpace: boolean): string {
  if (cp === 0x09 && tabAsSpace) return ' ';
  return needsEscape(cp) ? escapeOf(cp) : String.fromCodePoint(cp);
}

/** One line of a diagnostic: escaped, and cut after MAX_LINE_CHARS with a count of what was left out. */
export function displayText(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const [cp, next] = codePointAt(s, i);
    const piece = shown(cp, false);
    if (out.length + piece.length > MAX_LINE_CHARS) return `${out}… (${s.length - i} more characters)`;
    out += piece;
    i = next;
  }
  return out;
}

export interface SourceExcerpt {
  /** What to print of the line. */
  readonly text: string;
  /** 0-based column of the caret in `text`. */
  readonly caretCol: number;
  /** Carets to draw, at least 1. */
  readonly caretLength: number;
}

/**
 * The part of a source line to print under a message, with the caret's
 * position in it. A line that fits is shown whole; a longer one as a window
 * of SOURCE_WINDOW characters around the caret, marked `…` where it was cut.
 * Only the window is looked at, so a 50 MB line costs as much as a short one.
 */
export function sourceExcerpt(lineText: string, col: number, length: number): SourceExcerpt {
  const line = lineText.endsWith('\r') ? lineText.slice(0, -1) : lineText;
  const start = Math.min(Math.max(0, col - 1), line.length);
  const end = Math.min(start + Math.max(1, length), line.length);
  const fits = line.length <= SOURCE_WINDOW;
  // Left of the caret, walking back from it.
  let left = '';
  let i = start;
  while (i > 0) {
    const low = line.charCodeAt(i - 1);
    const back = i >= 2 && low >= 0xdc00 && low <= 0xdfff && isHigh(line.charCodeAt(i - 2)) ? 2 : 1;
    const piece = shown(line.codePointAt(i - back)!, true);
    if (!fits && left.length + piece.length > LEFT_CONTEXT) break;
    left = piece + left;
    i -= back;
  }
  const prefix = i > 0 ? '…' : '';
  // The span under the caret, then what follows, while there is room.
  const room = fits ? Number.POSITIVE_INFINITY : SOURCE_WINDOW - left.length;
  let span = '';
  let j = start;
  while (j < end) {
    const [cp, next] = codePointAt(line, j);
    const piece = shown(cp, true);
    if (span.length + piece.length > room) break;
    span += piece;
    j = next;
  }
  let right = '';
  let k = j;
  if (j >= end) {
    while (k < line.length) {
      const [cp, next] = codePointAt(line, k);
      const piece = shown(cp, true);
      if (span.length + right.length + piece.length > room) break;
      right += piece;
      k = next;
    }
  }
  const suffix = k < line.length ? '…' : '';
  return { text: `${prefix}${left}${span}${right}${suffix}`, caretCol: prefix.length + left.length, caretLength: Math.max(1, span.length) };
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
