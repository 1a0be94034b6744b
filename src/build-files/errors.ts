import { failure, raise, type Failure } from '../core/index.js';
import { locationAt, type SourceText } from './source-text.js';
import type { Span } from './types.js';

/** Stable reasons of BUILD syntax failures; callers and tests switch on these. */
export type BuildErrorReason =
  /** Not Python, or not well-formed: unterminated strings, brackets, bad escapes, stray tokens. */
  | 'build-syntax'
  /** Valid Python that BUILD files do not evaluate: def, import, assignment, operators, f-strings… */
  | 'build-unsupported'
  /** A call of a symbol outside the known set, or a bare name other than True/False/None. */
  | 'build-unknown-symbol'
  | 'build-positional-argument'
  | 'build-duplicate-argument'
  | 'build-duplicate-key'
  /** `+` on values that do not concatenate, such as a string and a list. */
  | 'build-type-error'
  /** Brackets nested beyond MAX_NESTING; real BUILD files stay in single digits. */
  | 'build-too-deep';

export const DECLARATIVE_HINT =
  'BUILD files are declarative: they hold only target declarations such as `files(name="docs", sources=["*.md"])`';

export interface ErrorExtras {
  readonly hints?: readonly string[];
  readonly notes?: readonly string[];
}

export function buildFailure(
  src: SourceText,
  reason: BuildErrorReason,
  message: string,
  span: Span,
  extras: ErrorExtras = {},
): Failure {
  const f: { location: ReturnType<typeof locationAt>; hints?: readonly string[]; notes?: readonly string[] } = {
    location: locationAt(src.file, src.lines, span),
  };
  if (extras.hints && extras.hints.length > 0) f.hints = extras.hints;
  if (extras.notes && extras.notes.length > 0) f.notes = extras.notes;
  return failure('input', reason, message, f);
}

/**
 * Stops the lexer or parser at the first error. Both catch it at their entry
 * point and return it as a Result, so nothing thrown ever leaves this folder.
 */
export function stop(src: SourceText, reason: BuildErrorReason, message: string, span: Span, extras?: ErrorExtras): never {
  raise(buildFailure(src, reason, message, span, extras));
}

export function spanAt(line: number, col: number, length: number): Span {
  return { line, col, endLine: line, endCol: col + length };
}
