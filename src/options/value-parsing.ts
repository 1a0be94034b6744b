import type { OptionSpec, OptionValue } from './types.js';
import { parseLiteralText } from './literal.js';

/**
 * What one source says about one option. Lists and dicts are not simply
 * overwritten: as in Pants, a source may append to, remove from or merge into
 * what the lower-ranked sources produced, so each source contributes a
 * component and the resolver folds them lowest rank first.
 */
export type ValueComponent =
  /** Scalars, and a list or dict given whole (`[...]`, `{...}`, a TOML array or table). */
  | { readonly kind: 'set'; readonly value: OptionValue }
  /** `+[...]`, `-[...]`, `+[...],-[...]`, a bare scalar for a list, or `name.add`/`name.remove` in TOML. */
  | { readonly kind: 'list-modify'; readonly add: readonly ListMember[]; readonly remove: readonly ListMember[] }
  /** `+{...}`. */
  | { readonly kind: 'dict-merge'; readonly value: Readonly<Record<string, unknown>> };

export type ListMember = string | number;

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const good = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (message: string): Parsed<never> => ({ ok: false, message });

/** How an option's type is named in errors: `expected an integer, got "abc"`. */
export function describeType(spec: OptionSpec): string {
  switch (spec.type) {
    case 'bool':
      return 'a boolean (true or false)';
    case 'int':
      return 'an integer';
    case 'float':
      return 'a number';
    case 'string':
      return 'a string';
    case 'path':
      return 'a path';
    case 'enum':
      return `one of ${(spec.choices ?? []).join(', ')}`;
    case 'list':
      return spec.memberType === 'int' ? 'a list of integers' : 'a list of strings';
    case 'dict':
      return 'a dict';
  }
}

/** `expected an integer, got "abc"`. */
export function typeMismatch(spec: OptionSpec, got: unknown): string {
  return `expected ${describeType(spec)}, got ${showValue(got)}`;
}

export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return homeDir.endsWith('/') ? homeDir + path.slice(2) : homeDir + path.slice(1);
  return path;
}

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function parseBool(text: string): boolean | undefined {
  switch (text.toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      return undefined;
  }
}

export function parseInt10(text: string): number | undefined {
  const t = text.trim();
  if (!INT.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function parseFloatText(text: string): number | undefined {
  const t = text.trim();
  if (!FLOAT.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses a value given as text, by a flag, an env var or a TOML string. `origin`
 * names the source for literal-parser messages.
 */
export function parseTextValue(spec: OptionSpec, text: string, homeDir: string, origin: string): Parsed<ValueComponent> {
  const set = (value: OptionValue): Parsed<ValueComponent> => good({ kind: 'set', value });
  switch (spec.type) {
    case 'bool': {
      const b = parseBool(text.trim());
      return b === undefined ? bad(typeMismatch(spec, text)) : set(b);
    }
    case 'int': {
      const n = parseInt10(text);
      return n === undefined ? bad(typeMismatch(spec, text)) : set(n);
    }
    case 'float': {
      const n = parseFloatText(text);
      return n === undefined ? bad(typeMismatch(spec, text)) : set(n);
    }
    case 'string':
      return set(text);
    case 'path':
      return set(expandHome(text, homeDir));
    case 'enum':
      return (spec.choices ?? []).includes(text) ? set(text) : bad(typeMismatch(spec, text));
    case 'list':
      return parseListText(spec, text, origin);
    case 'dict':
      return parseDictText(spec, text, origin);
  }
}

function parseListText(spec: OptionSpec, text: string, origin: string): Parsed<ValueComponent> {
  const t = text.trim();
  if (t.startsWith('[') || t.startsWith('(')) {
    const items = parseListLiteral(spec, t, origin, text);
    return items.ok ? good({ kind: 'set', value: items.value }) : items;
  }
  if (/^[+-][[(]/.test(t)) {
    const add: ListMember[] = [];
    const remove: ListMember[] = [];
    let rest = t;
    while (rest !== '') {
      const sign = rest[0];
      if ((sign !== '+' && sign !== '-') || !/^[[(]/.test(rest.slice(1))) {
        return bad(`expected +[...] or -[...] after a comma in ${showValue(text)}`);
      }
      const piece = takeListLiteral(spec, rest.slice(1), origin, text);
      if (!piece.ok) return piece;
      (sign === '+' ? add : remove).push(...piece.value.items);
      rest = piece.value.rest;
    }
    return good({ kind: 'list-modify', add, remove });
  }
  // A bare scalar appends one member, so repeating a flag accumulates (`--tag=a --tag=b`).
  const member = parseMember(spec, text);
  return member.ok ? good({ kind: 'list-modify', add: [member.value], remove: [] }) : member;
}

/**
 * Takes the first list literal off `text` in `[a],+[b]`. The shortest prefix
 * that ends at `],` / `),` before another `+[`/`-[` and parses as a list is the
 * one: a comma inside a quoted member cannot make a shorter prefix parse.
 */
function takeListLiteral(spec: OptionSpec, text: string, origin: string, shownAs: string): Parsed<{ items: ListMember[]; rest: string }> {
  const boundary = /[\])],\s*[+-][[(]/g;
  for (let m = boundary.exec(text); m !== null; m = boundary.exec(text)) {
    const end = m.index + 1;
    const r = parseLiteralText(text.slice(0, end), origin);
    if (r.ok && Array.isArray(r.value)) {
      const items = checkMembers(spec, r.value, shownAs);
      if (!items.ok) return items;
      return good({ items: items.value, rest: text.slice(end + 1).trimStart() });
    }
  }
  const items = parseListLiteral(spec, text, origin, shownAs);
  return items.ok ? good({ items: items.value, rest: '' }) : items;
}

/** `shownAs` is the whole value as given, so errors quote what the user wrote, not a piece of it. */
function parseListLiteral(spec: OptionSpec, text: string, origin: string, shownAs: string): Parsed<ListMember[]> {
  const r = parseLiteralText(text, origin);
  if (!r.ok) return bad(`${typeMismatch(spec, shownAs)}: ${r.message}`);
  if (!Array.isArray(r.value)) return bad(typeMismatch(spec, shownAs));
  return checkMembers(spec, r.value, shownAs);
}

/** Members of a list option: strings, or integers when `memberType` is int. */
export function checkMembers(spec: OptionSpec, items: readonly unknown[], shownAs: unknown): Parsed<ListMember[]> {
  const out: ListMember[] = [];
  for (const item of items) {
    if (spec.memberType === 'int') {
      if (typeof item === 'number' && Number.isSafeInteger(item)) out.push(item);
      else if (typeof item === 'bigint' && Number.isSafeInteger(Number(item))) out.push(Number(item));
      else return bad(`${typeMismatch(spec, shownAs)}: member ${showValue(item)} is not an integer`);
    } else if (typeof item === 'string') {
      out.push(item);
    } else {
      return bad(`${typeMismatch(spec, shownAs)}: member ${showValue(item)} is not a string`);
    }
  }
  return good(out);
}

function parseMember(spec: OptionSpec, text: string): Parsed<ListMember> {
  if (spec.memberType !== 'int') return good(text);
  const n = parseInt10(text);
  return n === undefined ? bad(typeMismatch(spec, text)) : good(n);
}

function parseDictText(spec: OptionSpec, text: string, origin: string): Parsed<ValueComponent> {
  const t = text.trim();
  const merge = t.startsWith('+{');
  if (!merge && !t.startsWith('{')) return bad(`${typeMismatch(spec, text)} (write {'key': 'value'}, or +{...} to merge)`);
  const body = merge ? t.slice(1) : t;
  const r = parseLiteralText(body, origin);
  if (!r.ok) return bad(`${typeMismatch(spec, text)}: ${r.message}`);
  if (!isPlainObject(r.value)) return bad(typeMismatch(spec, text));
  return good(merge ? { kind: 'dict-merge', value: r.value } : { kind: 'set', value: r.value });
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
