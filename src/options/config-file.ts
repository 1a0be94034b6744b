import { isAbsolute, relative } from 'node:path';
import { parse as parseToml, TomlDate, TomlError } from 'smol-toml';
import { diagnoseTomlLine } from './toml-diagnosis.js';
import { closest, err, failure, ok, type Failure, type Location, type Result } from '../core/index.js';
import type { OptionRegistry } from './registry.js';
import type { OptionSource, OptionSpec, Scope } from './types.js';
import {
  checkMembers,
  describeType,
  isPlainObject,
  parseTextValue,
  showValue,
  typeMismatch,
  type Parsed,
  type ValueComponent,
} from './value-parsing.js';

/** One option setting found in trews.toml. */
export interface ConfigEntry {
  readonly scope: Scope;
  /** Canonical option name, even when the file used an alias. */
  readonly name: string;
  readonly component: ValueComponent;
  readonly source: OptionSource & { readonly type: 'config' };
}

export interface ConfigInput {
  readonly registry: OptionRegistry;
  readonly path: string;
  readonly text: string;
  readonly buildRoot: string;
  readonly homeDir: string;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Reads trews.toml into option settings. smol-toml gives values without
 * positions, so positions for messages come from a light scan of the text
 * (section headers and `key =` at the start of a line), which is exact for the
 * way people write this file and merely less precise for exotic layouts.
 */
export function readConfig(input: ConfigInput): Result<ConfigEntry[], Failure> {
  const file = displayPath(input.path, input.buildRoot);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(input.text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) return err(syntaxFailure(e, file, input.text));
    throw e;
  }
  const index = new TextIndex(input.text);
  const interpolationVars = { buildroot: input.buildRoot, homedir: input.homeDir, env: input.env };
  const entries: ConfigEntry[] = [];
  for (const [section, body] of Object.entries(doc)) {
    if (!isTable(body)) {
      const at = index.topLevelKey(section);
      return err(
        failure('input', 'config-not-in-section', `\`${section}\` is not in a section`, {
          location: loc(file, at),
          hints: [`put it under [GLOBAL] or under the section of the goal or subsystem it belongs to`],
        }),
      );
    }
    if (!input.registry.hasScope(section)) {
      const guess = closest(section, input.registry.scopes().map((s) => s.name));
      return err(
        failure('input', 'config-unknown-section', `unknown section [${section}]`, {
          location: loc(file, index.section(section)),
          hints: guess !== undefined ? [`did you mean [${guess}]?`] : [`sections are [GLOBAL] and the names of goals and subsystems`],
        }),
      );
    }
    const found: { entry: ConfigEntry; viaAlias: boolean }[] = [];
    for (const [key, raw] of Object.entries(body)) {
      const spec = input.registry.option(section, key);
      const at = index.key(section, key);
      if (spec === undefined) return err(unknownKey(input.registry, file, section, key, at));
      const component = configComponent(spec, raw, input.homeDir, interpolationVars, `${file}:${at?.line ?? 1}`);
      if (!component.ok) {
        return err(
          failure('input', 'config-invalid-value', `invalid value for \`${key}\` in [${section}]: ${component.message}`, {
            location: loc(file, at === undefined ? undefined : { ...at, col: at.valueCol, length: at.valueLength }),
          }),
        );
      }
      const source: ConfigEntry['source'] = at === undefined ? { type: 'config', file } : { type: 'config', file, line: at.line };
      found.push({ entry: { scope: section, name: spec.name, component: component.value, source }, viaAlias: key !== spec.name });
    }
    // An alias and its option in one section: the canonical spelling wins, whatever the key order.
    found.sort((a, b) => Number(b.viaAlias) - Number(a.viaAlias));
    for (const f of found) entries.push(f.entry);
  }
  return ok(entries);
}

/** Config paths are shown relative to the build root (`trews.toml:12`), as users know the file. */
function displayPath(path: string, buildRoot: string): string {
  if (!isAbsolute(path)) return path;
  const rel = relative(buildRoot, path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

function syntaxFailure(e: TomlError, file: string, text: string): Failure {
  const first = e.message.split('\n')[0] ?? e.message;
  const what = first.replace(/^Invalid TOML document:\s*/, '');
  const lineText = text.split('\n')[e.line - 1]?.replace(/\r$/, '');
  // The parser's words describe its grammar; say what was most likely meant, and keep its words as a note.
  const likely = lineText === undefined ? undefined : diagnoseTomlLine(lineText);
  if (likely !== undefined) {
    return failure('input', 'config-syntax', `invalid TOML: ${likely.message}`, {
      location: { file, line: e.line, col: likely.col, length: likely.length, lineText: lineText! },
      notes: [`(the TOML parser says: ${what})`],
      hints: [likely.hint],
    });
  }
  return failure('input', 'config-syntax', `invalid TOML: ${what}`, {
    location: { file, line: e.line, col: e.column, ...(lineText !== undefined ? { lineText } : {}) },
  });
}

function unknownKey(registry: OptionRegistry, file: string, section: Scope, key: string, at: Position | undefined): Failure {
  const hints: string[] = [];
  const guess = closest(key, registry.namesIn(section));
  if (guess !== undefined) {
    hints.push(`did you mean ${guess}?`);
  } else {
    const elsewhere = registry.scopes().filter((s) => s.name !== section && registry.option(s.name, key) !== undefined);
    if (elsewhere.length > 0) hints.push(`\`${key}\` is an option of ${elsewhere.map((s) => `[${s.name}]`).join(', ')}`);
    else hints.push(`run \`trews help ${section === 'GLOBAL' ? 'global' : section}\` to list the options of [${section}]`);
  }
  return failure('input', 'config-unknown-option', `unknown option \`${key}\` in [${section}]`, {
    location: loc(file, at),
    hints,
  });
}

function loc(file: string, at: Position | undefined): Location {
  if (at === undefined) return { file };
  return { file, line: at.line, col: at.col, lineText: at.lineText, length: at.length };
}

function isTable(v: unknown): v is Record<string, unknown> {
  return isPlainObject(v) && !(v instanceof Date);
}

interface InterpolationVars {
  readonly buildroot: string;
  readonly homedir: string;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * `%(buildroot)s`, `%(homedir)s` and `%(env.NAME)s`, as Pants' config allows.
 * Anything else in that shape is an error rather than left as is: a typo in a
 * variable name would otherwise become a path that silently does not exist.
 */
export function interpolate(text: string, vars: InterpolationVars): Parsed<string> {
  let problem: string | undefined;
  const out = text.replace(/%\(([^)]*)\)s/g, (whole, name: string) => {
    if (name === 'buildroot') return vars.buildroot;
    if (name === 'homedir') return vars.homedir;
    if (name.startsWith('env.')) {
      const v = vars.env[name.slice(4)];
      if (v !== undefined) return v;
      problem ??= `${whole}: environment variable ${name.slice(4)} is not set`;
      return whole;
    }
    problem ??= `unknown interpolation ${whole} (known: %(buildroot)s, %(homedir)s, %(env.NAME)s)`;
    return whole;
  });
  return problem === undefined ? { ok: true, value: out } : { ok: false, message: problem };
}

/** Interpolates every string inside a TOML value (list members, dict values). */
function interpolateDeep(v: unknown, vars: InterpolationVars): Parsed<unknown> {
  if (typeof v === 'string') return interpolate(v, vars);
  if (v instanceof TomlDate) return { ok: true, value: v.toISOString() };
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const x of v) {
      const r = interpolateDeep(x, vars);
      if (!r.ok) return r;
      out.push(r.value);
    }
    return { ok: true, value: out };
  }
  if (isPlainObject(v)) {
    const out: [string, unknown][] = [];
    for (const [k, x] of Object.entries(v)) {
      const r = interpolateDeep(x, vars);
      if (!r.ok) return r;
      out.push([k, r.value]);
    }
    // fromEntries defines keys, so a `__proto__` key stays a key instead of replacing the prototype.
    return { ok: true, value: Object.fromEntries(out) };
  }
  if (typeof v === 'bigint') return { ok: true, value: Number(v) };
  return { ok: true, value: v };
}

/** Turns a TOML value into what it says about `spec`. */
function configComponent(spec: OptionSpec, raw: unknown, homeDir: string, vars: InterpolationVars, origin: string): Parsed<ValueComponent> {
  const value = interpolateDeep(raw, vars);
  if (!value.ok) return value;
  const v = value.value;
  // A string is read as flags and env vars read text, as in Pants: "+['a']", "{...}", "5".
  if (typeof v === 'string') return parseTextValue(spec, v, homeDir, origin);
  const set = (x: ValueComponent & { kind: 'set' }): Parsed<ValueComponent> => ({ ok: true, value: x });
  const mismatch = (): Parsed<never> => ({ ok: false, message: typeMismatch(spec, raw) });
  switch (spec.type) {
    case 'bool':
      return typeof v === 'boolean' ? set({ kind: 'set', value: v }) : mismatch();
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) ? set({ kind: 'set', value: v }) : mismatch();
    case 'float':
      return typeof v === 'number' && Number.isFinite(v) ? set({ kind: 'set', value: v }) : mismatch();
    case 'string':
    case 'path':
    case 'enum':
      return mismatch();
    case 'list': {
      if (Array.isArray(v)) {
        const items = checkMembers(spec, v, raw);
        return items.ok ? set({ kind: 'set', value: items.value }) : items;
      }
      if (isPlainObject(v)) return listAddRemove(spec, v, raw);
      return mismatch();
    }
    case 'dict':
      return isPlainObject(v) ? set({ kind: 'set', value: v }) : mismatch();
  }
}

/** `name.add = [...]` / `name.remove = [...]`, Pants' TOML spelling of `+[...]` / `-[...]`. */
function listAddRemove(spec: OptionSpec, table: Record<string, unknown>, raw: unknown): Parsed<ValueComponent> {
  const extra = Object.keys(table).filter((k) => k !== 'add' && k !== 'remove');
  if (extra.length > 0 || Object.keys(table).length === 0) {
    return {
      ok: false,
      message: `expected ${describeType(spec)} or a table with \`add\` and/or \`remove\`, got ${showValue(raw)}`,
    };
  }
  const part = (k: 'add' | 'remove'): Parsed<(string | number)[]> => {
    const x = table[k];
    if (x === undefined) return { ok: true, value: [] };
    if (!Array.isArray(x)) return { ok: false, message: `\`${k}\` must be a list, got ${showValue(x)}` };
    return checkMembers(spec, x, x);
  };
  const add = part('add');
  if (!add.ok) return add;
  const remove = part('remove');
  if (!remove.ok) return remove;
  return { ok: true, value: { kind: 'list-modify', add: add.value, remove: remove.value } };
}

interface Position {
  readonly line: number;
  readonly col: number;
  readonly length: number;
  readonly lineText: string;
  /** Where the value starts, for errors about the value rather than the key. */
  readonly valueCol: number;
  readonly valueLength: number;
}

/** Section headers and key lines of a TOML text, found by pattern rather than parsing. */
class TextIndex {
  readonly #lines: string[];
  /** For each line, the first component of the table header in force (undefined before any header). */
  readonly #sectionOf: (string | undefined)[] = [];
  /** Header line number (0-based) → [section, rest of the dotted header]. */
  readonly #headers = new Map<number, { section: string; rest: string[]; col: number }>();

  constructor(text: string) {
    this.#lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
    let current: string | undefined;
    this.#lines.forEach((line, i) => {
      const h = parseHeader(line);
      if (h !== undefined) {
        current = h.parts[0];
        this.#headers.set(i, { section: h.parts[0] ?? '', rest: h.parts.slice(1), col: h.col });
      }
      this.#sectionOf.push(current);
    });
  }

  section(name: string): Position | undefined {
    for (const [i, h] of this.#headers) {
      if (h.section === name) return this.#at(i, h.col, name.length);
    }
    return this.key(undefined, name);
  }

  topLevelKey(name: string): Position | undefined {
    return this.key(undefined, name);
  }

  key(section: string | undefined, key: string): Position | undefined {
    const keyPattern = new RegExp(`^(\\s*)(?:"${escape(key)}"|'${escape(key)}'|${escape(key)})\\s*[.=]`);
    for (let i = 0; i < this.#lines.length; i++) {
      const h = this.#headers.get(i);
      if (h !== undefined) {
        if (h.section === section && h.rest[0] === key) {
          const col = (this.#lines[i] ?? '').indexOf(key, h.col - 1 + (section?.length ?? 0)) + 1;
          return this.#at(i, col > 0 ? col : h.col, key.length);
        }
        continue;
      }
      if (this.#sectionOf[i] !== section) continue;
      const m = keyPattern.exec(this.#lines[i] ?? '');
      if (m !== null) {
        const quoted = /^["']/.test((this.#lines[i] ?? '').slice(m[1]!.length));
        return this.#at(i, m[1]!.length + 1 + (quoted ? 1 : 0), key.length);
      }
    }
    // Dotted keys outside their section (`test.timeout = 5` at the top): point at the first mention.
    if (section !== undefined) {
      const dotted = new RegExp(`^\\s*${escape(section)}\\s*\\.\\s*(${escape(key)})\\s*[.=]`);
      for (let i = 0; i < this.#lines.length; i++) {
        const m = dotted.exec(this.#lines[i] ?? '');
        if (m !== null) return this.#at(i, (this.#lines[i] ?? '').indexOf(key, m.index) + 1, key.length);
      }
    }
    return undefined;
  }

  #at(i: number, col: number, length: number): Position {
    const lineText = this.#lines[i] ?? '';
    const eq = lineText.indexOf('=', col - 1 + length);
    let valueCol = col;
    let valueLength = length;
    if (eq >= 0) {
      const start = eq + 1 + (lineText.slice(eq + 1).length - lineText.slice(eq + 1).trimStart().length);
      const valueText = stripComment(lineText.slice(start)).trimEnd();
      if (valueText !== '') {
        valueCol = start + 1;
        valueLength = valueText.length;
      }
    }
    return { line: i + 1, col, length, lineText, valueCol, valueLength };
  }
}

function parseHeader(line: string): { parts: string[]; col: number } | undefined {
  const m = /^(\s*\[\[?\s*)((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*\]\]?\s*(#.*)?$/.exec(line);
  if (m === null) return undefined;
  const parts = (m[2] ?? '').split(/\s*\.\s*(?=(?:[^"']|"[^"]*"|'[^']*')*$)/).map((p) => p.replace(/^["'](.*)["']$/, '$1'));
  const quoted = /^["']/.test(m[2] ?? '');
  return { parts, col: (m[1] ?? '').length + 1 + (quoted ? 1 : 0) };
}

/** Drops a trailing `# comment` unless the `#` sits inside a string. */
function stripComment(s: string): string {
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#') {
      return s.slice(0, i);
    }
  }
  return s;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
