/**
 * What most likely went wrong on a line of trews.toml the TOML parser
 * rejected, in the words of someone writing options rather than a TOML
 * grammar: a string value without quotes (`level = info`, `ignore = [foo]`),
 * a string that is not closed, a section header without its `]`.
 */
export interface TomlDiagnosis {
  readonly message: string;
  /** 1-based column and length of what is wrong on the line. */
  readonly col: number;
  readonly length: number;
  readonly hint: string;
}

const KEY_VALUE = /^(\s*)((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)(\s*=\s*)(.*)$/;
const NUMBER = /^[+-]?(?:\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?|0x[0-9A-Fa-f_]+|0o[0-7_]+|0b[01_]+|inf|nan)$/;
const DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$|^\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;

/** A scalar TOML accepts without quotes. */
function isBareScalar(v: string): boolean {
  return v === 'true' || v === 'false' || NUMBER.test(v) || DATE.test(v);
}

/** The value part without a trailing comment (outside quotes). */
function withoutComment(v: string): string {
  let quote: string | undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return v.slice(0, i).trimEnd();
  }
  return v.trimEnd();
}

/** Whether a quoted string that starts at v[0] is closed on this line. */
function closedString(v: string): boolean {
  const q = v[0]!;
  if (v.startsWith(q.repeat(3))) return true; // a multi-line string: the parser's message is better
  for (let i = 1; i < v.length; i++) {
    if (v[i] === '\\' && q === '"') i++;
    else if (v[i] === q) return true;
  }
  return false;
}

export function diagnoseTomlLine(line: string): TomlDiagnosis | undefined {
  const header = /^(\s*)(\[\[?)([^\]]*?)\s*$/.exec(line);
  if (header !== null && !line.includes('=')) {
    const open = header[2]!;
    const close = open === '[[' ? ']]' : ']';
    return {
      message: `the section header \`${line.trim()}\` is not closed`,
      col: header[1]!.length + 1,
      length: line.trim().length,
      hint: `write it as \`${open}${header[3]!.trim()}${close}\``,
    };
  }
  const kv = KEY_VALUE.exec(line);
  if (kv === null) return undefined;
  const key = kv[2]!.trim();
  const valueCol = kv[1]!.length + kv[2]!.length + kv[3]!.length + 1;
  const value = withoutComment(kv[4]!);
  if (value === '') return { message: `\`${key}\` has no value`, col: valueCol, length: 1, hint: `write a value after \`=\`, e.g. \`${key} = "…"\`` };
  const first = value[0]!;
  if (first === '"' || first === "'") {
    if (closedString(value)) return undefined;
    return { message: `the string value of \`${key}\` is not closed`, col: valueCol, length: value.length, hint: `end it with ${first} on the same line: \`${key} = ${value}${first}\`` };
  }
  if (first === '[') {
    const inner = value.endsWith(']') ? value.slice(1, -1) : value.slice(1);
    const items = inner.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bare = items.filter((s) => !/^["'[{]/.test(s) && !isBareScalar(s));
    if (bare.length === 0) return undefined;
    const fixed = items.map((s) => (bare.includes(s) ? JSON.stringify(s) : s)).join(', ');
    const at = line.indexOf(bare[0]!, valueCol - 1);
    return {
      message: `\`${bare[0]}\` in the list \`${key}\` is not quoted`,
      col: at + 1,
      length: bare[0]!.length,
      hint: `strings in TOML are quoted: \`${key} = [${fixed}]\``,
    };
  }
  // Only a plain word reads as a forgotten pair of quotes; `= = "x"` or `a "b"` is some other mistake.
  if (first === '{' || isBareScalar(value) || /["'=]/.test(value)) return undefined;
  return {
    message: `the value of \`${key}\` is not quoted`,
    col: valueCol,
    length: value.length,
    hint: `strings in TOML are quoted: \`${key} = ${JSON.stringify(value)}\` (numbers and true/false are written bare)`,
  };
}
