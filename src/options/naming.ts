import { GLOBAL, type Scope } from './types.js';

/**
 * How one option is spelled in each source. Kept in one place because the
 * registry uses these spellings to reject collisions, and the command line, env
 * and error messages must agree with what it checked.
 */

/** `remote_execution` in GLOBAL → `remote-execution`; `timeout` in `test` → `test-timeout`. */
export function qualifiedFlagName(scope: Scope, name: string): string {
  const dashed = name.replace(/_/g, '-');
  return scope === GLOBAL ? dashed : `${scope}-${dashed}`;
}

/** The flag as a user types it, with the leading dashes: `--test-timeout`. */
export function flagSpelling(scope: Scope, name: string): string {
  return `--${qualifiedFlagName(scope, name)}`;
}

/** `TREWS_REMOTE_EXECUTION`, `TREWS_TEST_TIMEOUT`, `TREWS_REMOTE_SERVER_WORKERS`. */
export function envVarName(scope: Scope, name: string): string {
  const scopePart = scope === GLOBAL ? '' : `${scope.replace(/-/g, '_').toUpperCase()}_`;
  return `TREWS_${scopePart}${name.toUpperCase()}`;
}

export const ENV_PREFIX = 'TREWS_';

/** Scope names are lower-case words joined by dashes (`remote-server`), or `GLOBAL`. */
export const SCOPE_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
/** Option names are snake_case, as written in trews.toml. */
export const OPTION_NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
