import { createRequire } from 'node:module';
import type { ComputeContext, Key } from '../../engine/index.js';
import { FileTextKey, type Workspace } from '../../fs/index.js';

/** How a module names another: each is a dependency the same way, kept apart for messages. */
export type ImportKind = 'import' | 'export' | 'dynamic' | 'require' | 'reference';

/** One module specifier a file names, where it is written (1-based line and column). */
export interface ImportedModule {
  readonly specifier: string;
  readonly kind: ImportKind;
  /** Only types (`import type`, `export type`): erased at run time, still a dependency of type-checking. */
  readonly typeOnly: boolean;
  readonly line: number;
  readonly col: number;
}

/** A file's imports; `parseError` when the parser recovered from an error (what it could read is kept). */
export interface FileImports {
  readonly imports: readonly ImportedModule[];
  readonly parseError: { readonly line: number; readonly col: number; readonly message: string } | null;
}

interface Span {
  readonly start: number;
  readonly end: number;
}
interface OxcModule {
  readonly staticImports: readonly { readonly moduleRequest: Span & { readonly value: string }; readonly entries: readonly { readonly isType: boolean }[]; readonly start: number }[];
  readonly staticExports: readonly { readonly entries: readonly { readonly moduleRequest: (Span & { readonly value: string }) | null; readonly isType: boolean }[] }[];
  readonly dynamicImports: readonly { readonly moduleRequest: Span }[];
}
interface OxcNode {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly [field: string]: unknown;
}
interface OxcResult {
  readonly module: OxcModule;
  readonly comments: readonly (Span & { readonly type: 'Line' | 'Block'; readonly value: string })[];
  readonly errors: readonly { readonly message: string; readonly labels: readonly Span[] }[];
  readonly program: OxcNode;
}
interface OxcParser {
  parseSync(filename: string, text: string, options?: Record<string, unknown>): OxcResult;
  Visitor: new (visitors: Record<string, (node: OxcNode) => void>) => { visit(program: OxcNode): void };
}

let parser: OxcParser | undefined;
/** Loaded on first use: a run that infers nothing never loads the native module (and the bundled runner keeps it external). */
function oxc(): OxcParser {
  parser ??= createRequire(import.meta.url)('oxc-parser') as OxcParser;
  return parser;
}

/** Line starts of a text, for offset → line:col. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function position(starts: readonly number[], offset: number): { line: number; col: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - starts[lo]! + 1 };
}

/**
 * The value of a string literal written at `span` (quotes included), or
 * undefined when it is no literal (`import(name)`, a template with `${}`).
 * The parser has already checked the token; this only unquotes it.
 */
function literalAt(text: string, span: Span): string | undefined {
  const raw = text.slice(span.start, span.end);
  const q = raw[0];
  if (raw.length < 2 || raw[raw.length - 1] !== q) return undefined;
  const body = raw.slice(1, -1);
  if (q === '`') return body.includes('${') || body.includes('\\') ? undefined : body;
  if (q !== '"' && q !== "'") return undefined;
  if (!body.includes('\\')) return body;
  try {
    return JSON.parse(q === '"' ? raw : `"${body.split('"').join('\\"')}"`) as string;
  } catch {
    return undefined;
  }
}

/**
 * The value of attribute `name` in a triple-slash directive's text
 * (`/ <reference path="./a.d.ts" />`, the comment's value after `//`), or
 * undefined when it is not one.
 */
export function referenceAttribute(comment: string, name: string): string | undefined {
  let s = comment.trimStart();
  if (!s.startsWith('/')) return undefined;
  s = s.slice(1).trimStart();
  if (!s.startsWith('<reference')) return undefined;
  s = s.slice('<reference'.length);
  for (;;) {
    s = s.trimStart();
    const eq = s.indexOf('=');
    if (eq <= 0) return undefined;
    const attr = s.slice(0, eq).trim();
    const rest = s.slice(eq + 1).trimStart();
    const q = rest[0];
    if (q !== '"' && q !== "'") return undefined;
    const close = rest.indexOf(q, 1);
    if (close < 0) return undefined;
    if (attr === name) return rest.slice(1, close);
    s = rest.slice(close + 1);
  }
}

/** Parses one file's text for every form of import (pure; exported for unit tests). */
export function parseImports(path: string, text: string): FileImports {
  const result = oxc().parseSync(path, text, { sourceType: 'unambiguous' });
  const starts = lineStarts(text);
  const out: (ImportedModule & { readonly offset: number })[] = [];
  const add = (specifier: string, kind: ImportKind, typeOnly: boolean, offset: number): void => {
    out.push({ specifier, kind, typeOnly, offset, ...position(starts, offset) });
  };
  const m = result.module;
  for (const i of m.staticImports) {
    // `import type {A}` and `import {type A}` alike: every entry a type (a side-effect import has none, and is not one).
    const typeOnly = i.entries.length > 0 && i.entries.every((e) => e.isType);
    add(i.moduleRequest.value, 'import', typeOnly, i.moduleRequest.start);
  }
  for (const e of m.staticExports) {
    for (const entry of e.entries) if (entry.moduleRequest !== null) add(entry.moduleRequest.value, 'export', entry.isType, entry.moduleRequest.start);
  }
  for (const d of m.dynamicImports) {
    const value = literalAt(text, d.moduleRequest);
    if (value !== undefined) add(value, 'dynamic', false, d.moduleRequest.start);
  }
  // `require("x")` and `import x = require("x")` are calls, not module syntax: only the syntax tree has them.
  // Walking it costs more than the parse, so only files that spell `require` pay it.
  if (text.includes('require')) {
    const visitor = new (oxc().Visitor)({
      CallExpression(n) {
        const callee = n.callee as OxcNode;
        const args = n.arguments as readonly OxcNode[];
        if (callee.type !== 'Identifier' || callee.name !== 'require' || args.length !== 1) return;
        const arg = args[0]!;
        const value = arg.type === 'Literal' && typeof arg.value === 'string' ? arg.value : arg.type === 'TemplateLiteral' ? literalAt(text, arg) : undefined;
        if (value !== undefined) add(value, 'require', false, arg.start);
      },
      TSExternalModuleReference(n) {
        const e = n.expression as OxcNode;
        if (typeof e.value === 'string') add(e.value, 'require', false, e.start);
      },
    });
    visitor.visit(result.program);
  }
  for (const c of result.comments) {
    if (c.type !== 'Line') continue;
    const ref = referenceAttribute(c.value, 'path');
    if (ref !== undefined) add(ref, 'reference', true, c.start);
  }
  out.sort((a, b) => a.offset - b.offset);
  const err = result.errors[0];
  return {
    imports: out.map(({ offset: _offset, ...i }) => i),
    parseError: err === undefined ? null : { ...position(starts, err.labels[0]?.start ?? 0), message: err.message },
  };
}

/**
 * The imports of one file, parsed once per content: the key reads the file
 * through the file-system keys, so only an edit of this file (a new digest)
 * parses it again, and an edit that leaves its imports as they were stops
 * here (the value is equal).
 */
export class FileImportsKey implements Key<FileImports> {
  readonly id: string;
  readonly #ws: Workspace;
  readonly #path: string;
  constructor(ws: Workspace, path: string) {
    this.#ws = ws;
    this.#path = path;
    this.id = `js-file-imports:${path}`;
  }
  describe(): string {
    return `imports of ${this.#path}`;
  }
  async compute(ctx: ComputeContext): Promise<FileImports> {
    const text = await ctx.get(new FileTextKey(this.#ws, this.#path));
    if (text === null) return { imports: [], parseError: null };
    return parseImports(this.#path, text);
  }
}
