import type { Location } from '../core/index.js';
import type { Span } from './types.js';

/** A file's text as the lexer sees it, with the lines errors quote. */
export interface SourceText {
  readonly file: string;
  /** With a leading BOM removed and every CRLF or lone CR turned into LF. */
  readonly text: string;
  readonly lines: string[];
}

export function sourceText(file: string, raw: string): SourceText {
  let text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  // Python reads source with universal newlines, so a CRLF inside a triple-quoted
  // string is a single LF there too; normalizing up front keeps the lexer to one case.
  if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
  return { file, text, lines: text.split('\n') };
}

/**
 * Where a span starts, with the line it is on and how much of it to underline:
 * a span that runs onto later lines is underlined to the end of its first line.
 */
export function locationAt(file: string, lines: readonly string[], span: Span): Location {
  const lineText = lines[span.line - 1] ?? '';
  const rest = lineText.length - span.col + 1;
  const wanted = span.endLine === span.line ? span.endCol - span.col : rest;
  const length = Math.max(1, Math.min(wanted, rest));
  return { file, line: span.line, col: span.col, lineText, length };
}
