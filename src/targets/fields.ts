import type { LiteralValue, ValueNode } from '../build-files/index.js';
import { describeKind, toPlain } from '../build-files/index.js';

export type FieldValue = LiteralValue;

/** How a field's value is checked and converted when a BUILD file is read. */
export type FieldType =
  | { readonly kind: 'string' }
  | { readonly kind: 'string_list' }
  | { readonly kind: 'int' }
  | { readonly kind: 'float' }
  | { readonly kind: 'bool' }
  | { readonly kind: 'enum'; readonly choices: readonly string[] }
  | { readonly kind: 'dict' }
  /** A dict of string to string, like `environment`. */
  | { readonly kind: 'string_dict' }
  /** Globs relative to the BUILD file's directory; `!` excludes. */
  | { readonly kind: 'sources' }
  /** One file relative to the BUILD file's directory. */
  | { readonly kind: 'source' }
  /** Addresses of other targets (or files); `!addr` excludes. */
  | { readonly kind: 'dependencies' }
  /** A string or a list of strings, kept as a list. */
  | { readonly kind: 'string_or_list' };

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly help: string;
  readonly required?: boolean;
  /** Value when the field is omitted or None; default null. */
  readonly default?: FieldValue;
  /** Extra check on the converted value; returns an error message. */
  readonly validate?: (value: FieldValue) => string | undefined;
}

/** Describes what a field expects, for error messages and help. */
export function describeFieldType(t: FieldType): string {
  switch (t.kind) {
    case 'string':
    case 'source':
      return 'a string';
    case 'string_list':
    case 'sources':
    case 'dependencies':
      return 'a list of strings';
    case 'int':
      return 'an int';
    case 'float':
      return 'a number';
    case 'bool':
      return 'True or False';
    case 'enum':
      return `one of ${t.choices.map((c) => `'${c}'`).join(', ')}`;
    case 'dict':
      return 'a dict';
    case 'string_dict':
      return 'a dict of strings to strings';
    case 'string_or_list':
      return 'a string or a list of strings';
  }
}

/** The first element of a list that is not a string, if any. */
function nonStringItem(node: ValueNode & { kind: 'list' | 'tuple' }): ValueNode | undefined {
  return node.items.find((i) => i.kind !== 'str');
}

export type Conversion =
  | { readonly ok: true; readonly value: FieldValue }
  /** `at` is the offending part of the value when it is narrower than the whole. */
  | { readonly ok: false; readonly message: string; readonly at?: ValueNode };

/**
 * Converts a BUILD value to the field's type. Returns the value, or a message
 * saying what was expected and what was given (the caller adds the location).
 */
export function convertField(spec: FieldSpec, node: ValueNode): Conversion {
  if (node.kind === 'none' && !spec.required) return { ok: true, value: spec.default ?? null };
  const t = spec.type;
  let good: boolean;
  switch (t.kind) {
    case 'string':
    case 'source':
      good = node.kind === 'str';
      break;
    case 'string_list':
    case 'sources':
    case 'dependencies':
    case 'string_or_list': {
      if (t.kind === 'string_or_list' && node.kind === 'str') return { ok: true, value: [node.value] };
      good = node.kind === 'list' || node.kind === 'tuple';
      if (node.kind === 'list' || node.kind === 'tuple') {
        const bad = nonStringItem(node);
        if (bad) return { ok: false, message: `\`${spec.name}\` must be ${describeFieldType(t)}, but this element is ${describeKind(bad)}`, at: bad };
      }
      break;
    }
    case 'int':
      good = node.kind === 'int';
      break;
    case 'float':
      good = node.kind === 'int' || node.kind === 'float';
      break;
    case 'bool':
      good = node.kind === 'bool';
      break;
    case 'enum':
      if (node.kind === 'str' && !t.choices.includes(node.value)) {
        return { ok: false, message: `\`${spec.name}\` must be ${describeFieldType(t)}, got '${node.value}'` };
      }
      good = node.kind === 'str';
      break;
    case 'dict':
      good = node.kind === 'dict';
      break;
    case 'string_dict':
      if (node.kind === 'dict') {
        const bad = node.entries.find((e) => e.value.kind !== 'str');
        if (bad) return { ok: false, message: `\`${spec.name}\` must be ${describeFieldType(t)}, but \`${bad.key}\` is ${describeKind(bad.value)}`, at: bad.value };
      }
      good = node.kind === 'dict';
      break;
  }
  if (!good) return { ok: false, message: `\`${spec.name}\` must be ${describeFieldType(t)}, got ${describeKind(node)}` };
  const value = toPlain(node);
  const problem = spec.validate?.(value);
  if (problem !== undefined) return { ok: false, message: `\`${spec.name}\`: ${problem}` };
  return { ok: true, value };
}
