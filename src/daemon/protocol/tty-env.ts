/**
 * Facts about the client's terminal travel as environment entries the client adds
 * to its preamble, because the protocol has no other place for them:
 *
 * - `NAILGUN_TTY_0`/`_1`/`_2` = `1` or `0`: whether stdin/stdout/stderr is a
 *   terminal. The names and values of the C client (`NAILGUN_TTY_%d=%d`), which
 *   older Pants read too.
 * - `NAILGUN_TTY_PATH_0`/`_1`/`_2`: the terminal's device path, sent only for a
 *   stream that is one. Pants' names; a server may open the device itself.
 * - `NAILGUN_TERMINAL_COLUMNS`/`NAILGUN_TERMINAL_LINES`: the terminal's size.
 *   Neither Nailgun nor Pants sends a size (Pants' server reads it from the opened
 *   TTY path), and a Node daemon cannot ask a device path for its size without
 *   native code, so trews adds these two, named after the COLUMNS/LINES
 *   convention and kept in the NAILGUN_ namespace so they never collide with the
 *   user's own variables.
 */
export const TTY_ENV_PREFIX = 'NAILGUN_TTY_';
export const TTY_PATH_ENV_PREFIX = 'NAILGUN_TTY_PATH_';
export const TERMINAL_COLUMNS_ENV = 'NAILGUN_TERMINAL_COLUMNS';
export const TERMINAL_LINES_ENV = 'NAILGUN_TERMINAL_LINES';

const STREAMS = ['stdin', 'stdout', 'stderr'] as const;
export type StdStream = (typeof STREAMS)[number];

/** What a client knows about its own terminal. */
export interface ClientTerminal {
  readonly isTTY: Readonly<Record<StdStream, boolean>>;
  /** Columns and lines, when stdout (or stderr) is a terminal that reports them. */
  readonly columns?: number;
  readonly lines?: number;
  readonly ttyPaths?: Readonly<Partial<Record<StdStream, string>>>;
}

/** What the server learns about the client's terminal; sizes are undefined when not sent or not sane. */
export interface TerminalInfo {
  readonly isTTY: Readonly<Record<StdStream, boolean>>;
  readonly columns: number | undefined;
  readonly lines: number | undefined;
  readonly ttyPaths: Readonly<Partial<Record<StdStream, string>>>;
}

/** The entries a client adds to its environment to describe `terminal`. */
export function terminalEnv(terminal: ClientTerminal): Record<string, string> {
  const env: Record<string, string> = {};
  STREAMS.forEach((stream, fd) => {
    env[`${TTY_ENV_PREFIX}${fd}`] = terminal.isTTY[stream] ? '1' : '0';
    const path = terminal.ttyPaths?.[stream];
    if (terminal.isTTY[stream] && path !== undefined && path !== '') env[`${TTY_PATH_ENV_PREFIX}${fd}`] = path;
  });
  if (isSize(terminal.columns)) env[TERMINAL_COLUMNS_ENV] = String(terminal.columns);
  if (isSize(terminal.lines)) env[TERMINAL_LINES_ENV] = String(terminal.lines);
  return env;
}

/** Reads the entries back. Lenient: a value it cannot read means "no" or "unknown", never an error. */
export function terminalFromEnv(env: Readonly<Record<string, string>>): TerminalInfo {
  const isTTY = { stdin: false, stdout: false, stderr: false };
  const ttyPaths: Partial<Record<StdStream, string>> = {};
  STREAMS.forEach((stream, fd) => {
    // Any positive integer counts, as the C client's isatty() result is only promised to be non-zero.
    const flag = own(env, `${TTY_ENV_PREFIX}${fd}`);
    isTTY[stream] = flag !== undefined && /^\d+$/.test(flag) && Number(flag) > 0;
    const path = own(env, `${TTY_PATH_ENV_PREFIX}${fd}`);
    if (path !== undefined && path !== '') ttyPaths[stream] = path;
  });
  return { isTTY, columns: parseSize(own(env, TERMINAL_COLUMNS_ENV)), lines: parseSize(own(env, TERMINAL_LINES_ENV)), ttyPaths };
}

/** True for the entries Nailgun clients add on their own (the terminal facts and the C client's separators). */
export function isNailgunEnvKey(key: string): boolean {
  return (
    key.startsWith(TTY_ENV_PREFIX) ||
    key === TERMINAL_COLUMNS_ENV ||
    key === TERMINAL_LINES_ENV ||
    key === 'NAILGUN_FILESEPARATOR' ||
    key === 'NAILGUN_PATHSEPARATOR'
  );
}

/**
 * The client's environment as the user had it: the entries above describe the
 * connection, not the user's shell, and must not leak into processes or option
 * parsing (where `NAILGUN_*` would never be expected).
 */
export function withoutNailgunEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(env)) if (!isNailgunEnvKey(k)) out[k] = v;
  return out;
}

function own(env: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(env, key) ? env[key] : undefined;
}

function isSize(n: number | undefined): n is number {
  return n !== undefined && Number.isInteger(n) && n > 0 && n <= 0xffff;
}

function parseSize(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return isSize(n) ? n : undefined;
}
