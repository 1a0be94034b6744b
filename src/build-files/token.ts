import type { Failure } from '../core/index.js';

export type TokenType = 'name' | 'int' | 'float' | 'str' | 'op' | 'newline' | 'eof' | 'error';

export interface Token {
  readonly type: TokenType;
  /** The name, the operator, or the decoded value of a string. */
  readonly text: string;
  /** The value of a number. */
  readonly num: number;
  /** Offset into the normalized text, to order tokens against each other. */
  readonly start: number;
  readonly line: number;
  readonly col: number;
  readonly endLine: number;
  /** Exclusive. */
  readonly endCol: number;
  /** Set on the `error` token that ends the stream when the lexer failed. */
  readonly failure?: Failure;
  /** The lexer's failure is a bracket left open at the end of the input. */
  readonly unclosed?: boolean;
}

/** How messages name a token: `)`, `foo`, a string, end of line. */
export function describeToken(t: Token, endName: string): string {
  switch (t.type) {
    case 'name':
    case 'op':
      return `\`${t.text}\``;
    case 'str':
      return 'a string';
    case 'int':
    case 'float':
      return 'a number';
    case 'newline':
      return 'end of line';
    case 'eof':
    case 'error':
      return endName;
  }
}
