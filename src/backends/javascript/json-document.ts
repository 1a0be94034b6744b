import jsonc, { type Node, type ParseError } from 'jsonc-parser';
import { failure, raise, type Location } from '../../core/index.js';

/**
 * A JSON file read with the position of every value, so an error about a
 * package.json names its `file:line:col`. Validity is JSON.parse's, which is
 * what npm, pnpm and yarn read package.json with; jsonc-parser (Microsoft's
 * scanner behind VS Code, no dependencies) gives the tree with offsets and
 * says where a broken file breaks. It is given the strict options, so
 * comments and trailing commas are errors here as they are for npm.
 */
export interface JsonDocument {
  readonly path: string;
  readonly root: Node;
  readonly lines: LineIndex;
}

/** Line starts of a text, to turn offsets into line:col and the line's text. */
export class LineIndex {
  readonly #text: string;
  readonly #starts: number[] = [0];
  readonly #path: string;

  constructor(path: string, text: string) {
    this.#path = path;
    this.#text = text;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.#starts.push(i + 1);
  }

  /** The location of `length` characters at `offset` (underlined to the end of its line at most). */
  at(offset: number, length = 1): Location {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const start = this.#starts[lo]!;
    const end = lo + 1 < this.#starts.length ? this.#starts[lo + 1]! - 1 : this.#text.length;
    const lineText = this.#text.slice(start, end).replace(/\r$/, '');
    const col = offset - start + 1;
    return { file: this.#path, line: lo + 1, col, lineText, length: Math.max(1, Math.min(length, lineText.length - col + 1)) };
  }
}

const PARSE_ERRORS: Readonly<Record<number, string>> = {
  1: 'unexpected character',
  2: 'malformed number',
  3: 'expected a property name in double quotes',
  4: 'expected a value',
  5: 'expected `:`',
  6: 'expected `,`',
  7: 'expected `}`',
  8: 'expected `]`',
  9: 'expected the end of the file',
  10: 'comments are not allowed in JSON',
  11: 'unterminated comment',
  12: 'unterminated string',
  13: 'malformed number',
  14: 'malformed unicode escape',
  15: 'bad escape sequence',
  16: 'control character in a string',
};

/** Parses `text` (the contents of `path`); a malformed file raises an `input` failure at the first problem. */
export function parseJsonDocument(path: string, text: string): JsonDocument {
  // npm strips a byte-order mark before parsing; so do we, keeping offsets aligned with what users see.
  const body = text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text;
  const lines = new LineIndex(path, body);
  let valid = true;
  let nodeMessage = '';
  try {
    JSON.parse(body);
  } catch (e) {
    valid = false;
    nodeMessage = (e as Error).message;
  }
  const errors: ParseError[] = [];
  const root = jsonc.parseTree(body, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (valid && root !== undefined) return { path, root, lines };
  const first = errors[0];
  if (first === undefined) {
    // JSON.parse refused what the scanner accepted (rare): say what Node said, at the position it gives.
    const pos = /position (\d+)/.exec(nodeMessage);
    raise(badJson(nodeMessage.replace(/^[^:]*JSON[^:]*:\s*/, '') || 'invalid JSON', pos ? lines.at(Number(pos[1])) : { file: path }));
  }
  if (first.error === 4 && body.trim() === '') raise(badJson('the file is empty; a package.json holds an object, at least `{}`', lines.at(0)));
  const before = body.slice(0, first.offset);
  if ((first.error === 3 || first.error === 4) && /,\s*$/.test(before)) raise(badJson('a trailing comma is not allowed in JSON', lines.at(before.lastIndexOf(','))));
  raise(badJson(PARSE_ERRORS[first.error] ?? 'invalid JSON', lines.at(first.offset, first.length)));
}

function badJson(what: string, location: Location) {
  return failure('input', 'bad-package-json', `invalid JSON: ${what}`, { location });
}

/** The value of `key` in an object node (the last one when a key repeats, as JSON.parse keeps), with its key node. */
export function property(obj: Node, key: string): { key: Node; value: Node } | undefined {
  let found: { key: Node; value: Node } | undefined;
  for (const p of obj.children ?? []) {
    const [k, v] = p.children ?? [];
    if (k !== undefined && v !== undefined && k.value === key) found = { key: k, value: v };
  }
  return found;
}

/** Every property of an object node in order (later repeats replace earlier ones, keeping the first's place). */
export function properties(obj: Node): { name: string; key: Node; value: Node }[] {
  const out = new Map<string, { name: string; key: Node; value: Node }>();
  for (const p of obj.children ?? []) {
    const [k, v] = p.children ?? [];
    if (k !== undefined && v !== undefined) out.set(String(k.value), { name: String(k.value), key: k, value: v });
  }
  return [...out.values()];
}

/** How a JSON value is described in messages: `a string`, `an array`… */
export function describeJson(node: Node): string {
  switch (node.type) {
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return node.value ? '`true`' : '`false`';
    case 'null':
      return '`null`';
    case 'property':
      return 'a property';
  }
}
