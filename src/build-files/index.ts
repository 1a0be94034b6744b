export type { BuildFileSyntax, CallStatement, DictEntry, KeywordArg, LiteralValue, Span, ValueNode } from './types.js';
export type { BuildErrorReason } from './errors.js';
export { parseBuildFile, parseLiteral } from './parser.js';
export { toPlain, describeKind } from './values.js';
export { locationOf } from './location.js';
