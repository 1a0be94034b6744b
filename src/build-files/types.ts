/**
 * The syntax tree of a BUILD file. Everything here is plain data (no classes, no
 * functions, no cycles) because the engine memoizes parses and decides early
 * cut-off by comparing old and new values structurally.
 */

/** A source range. Lines and columns are 1-based and count UTF-16 code units; `endCol` is exclusive. */
export interface Span {
  line: number;
  col: number;
  endLine: number;
  endCol: number;
}

/** A value with its source positions erased, as later layers consume it. */
export type LiteralValue = string | number | boolean | null | LiteralValue[] | { [key: string]: LiteralValue };

export type ValueNode =
  | { kind: 'str'; value: string; span: Span }
  | { kind: 'int' | 'float'; value: number; span: Span }
  | { kind: 'bool'; value: boolean; span: Span }
  | { kind: 'none'; value: null; span: Span }
  | { kind: 'list' | 'tuple'; items: ValueNode[]; span: Span }
  | { kind: 'dict'; entries: DictEntry[]; span: Span };

export interface DictEntry {
  key: string;
  keySpan: Span;
  value: ValueNode;
}

export interface KeywordArg {
  name: string;
  nameSpan: Span;
  value: ValueNode;
}

/** One top-level `target_type(name=value, ...)`. */
export interface CallStatement {
  callee: string;
  calleeSpan: Span;
  /** From the callee to the closing parenthesis. */
  span: Span;
  args: KeywordArg[];
}

export interface BuildFileSyntax {
  path: string;
  /** The file's lines without terminators (CRLF and a BOM removed), so errors can quote them. */
  lines: string[];
  calls: CallStatement[];
}
