/**
 * Colour on a terminal, as ANSI SGR codes: a Palette wraps text in a colour
 * or, when colour is off, returns it unchanged, so callers format once.
 * Whether colour is on follows the conventions a person expects
 * (no-color.org, force-color.org) and trews' own `--colors` option.
 */
export interface Palette {
  readonly enabled: boolean;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

function sgr(open: number, close: number): (text: string) => string {
  return (text) => (text === '' ? text : `\x1b[${open}m${text}\x1b[${close}m`);
}

const ON: Palette = {
  enabled: true,
  green: sgr(32, 39),
  red: sgr(31, 39),
  yellow: sgr(33, 39),
  cyan: sgr(36, 39),
  dim: sgr(2, 22),
  bold: sgr(1, 22),
};

const same = (text: string): string => text;
const OFF: Palette = { enabled: false, green: same, red: same, yellow: same, cyan: same, dim: same, bold: same };

export function palette(enabled: boolean): Palette {
  return enabled ? ON : OFF;
}

export interface ColorChoice {
  /** The `colors` option's value, and whether someone set it (a flag, env var or trews.toml) rather than its default. */
  readonly option: boolean;
  readonly optionSet: boolean;
  /** The client's environment (NO_COLOR, FORCE_COLOR, TERM). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether the stream written to is a terminal. */
  readonly isTTY: boolean;
}

/**
 * Whether to colour, strongest first: `--colors=false` turns it off;
 * FORCE_COLOR (any value but `0`/`false`) turns it on even into a pipe;
 * NO_COLOR (any non-empty value) turns it off; `--colors` set on purpose
 * turns it on; otherwise only a terminal that is not `TERM=dumb` gets colour.
 */
export function colorEnabled(c: ColorChoice): boolean {
  if (!c.option) return false;
  const force = c.env['FORCE_COLOR'];
  if (force !== undefined && force !== '0' && force !== 'false') return true;
  if (force === '0' || force === 'false') return false;
  if ((c.env['NO_COLOR'] ?? '') !== '') return false;
  if (c.optionSet) return true;
  return c.isTTY && c.env['TERM'] !== 'dumb';
}

/** The text without colour codes: for widths, and for tests. */
export function stripColors(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}
