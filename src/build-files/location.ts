import type { Location } from '../core/index.js';
import { locationAt } from './source-text.js';
import type { BuildFileSyntax, Span } from './types.js';

/** Where `span` is in a parsed file, so later layers can point their errors at a field or value. */
export function locationOf(syntax: BuildFileSyntax, span: Span): Location {
  return locationAt(syntax.path, syntax.lines, span);
}
