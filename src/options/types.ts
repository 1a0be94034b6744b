/** The option system's public contract. */

export type OptionType = 'bool' | 'int' | 'float' | 'string' | 'list' | 'dict' | 'enum' | 'path';

/** JS type of a value by option type: list → string[] (or number[] when memberType is int), dict → Record. */
export type OptionValue = boolean | number | string | readonly (string | number)[] | Readonly<Record<string, unknown>> | null;

/** `GLOBAL`, or the name of a goal or subsystem (`test`, `shell`, `changed`, `remote-server`). */
export type Scope = string;
export const GLOBAL: Scope = 'GLOBAL';

export interface OptionSpec {
  readonly scope: Scope;
  /** snake_case as in trews.toml: `remote_execution`; flags and env vars derive from it. */
  readonly name: string;
  readonly type: OptionType;
  /** null means "unset" and is allowed only for string, path, int and float options. */
  readonly default: OptionValue;
  readonly help: string;
  /** Allowed values of an enum option. */
  readonly choices?: readonly string[];
  /** Element type of a list option (default string). */
  readonly memberType?: 'string' | 'int';
  /** Other names accepted in every source (e.g. `remote_store_address`). */
  readonly aliases?: readonly string[];
  /** Part of the daemon fingerprint: a running daemon cannot adopt a change to it. */
  readonly daemon?: boolean;
  /** Shown by `help-advanced` only. */
  readonly advanced?: boolean;
  /** Extra validation after type conversion; return an error message to reject the value. */
  readonly validate?: (value: OptionValue) => string | undefined;
}

export interface ScopeSpec {
  readonly name: Scope;
  readonly help: string;
  /** A goal scope is also a command-line goal (`trews test`). */
  readonly isGoal: boolean;
  /**
   * Rules read the scope's options (through the engine, as inputs of the
   * run). Subsystem scopes always may; a goal's scope only when this is set
   * (`[test]`: timeouts, force); GLOBAL never: it configures the machinery of
   * a run (store, runners, remote), which reaches rules as per-run services.
   */
  readonly readByRules?: boolean;
}

/** Whether rules may read the options of this scope (see ScopeSpec.readByRules). */
export function readableByRules(spec: ScopeSpec): boolean {
  return spec.name !== GLOBAL && (!spec.isGoal || spec.readByRules === true);
}

/** Where a value came from: what `help OPTION` prints and errors name. */
export type OptionSource =
  | { readonly type: 'default' }
  | { readonly type: 'config'; readonly file: string; readonly line?: number }
  | { readonly type: 'env'; readonly name: string }
  | { readonly type: 'flag'; readonly flag: string };

export interface OptionValueWithSource {
  readonly value: OptionValue;
  /** The highest-ranked source that contributed; list/dict values may merge several (all are listed, lowest first). */
  readonly source: OptionSource;
  readonly sources: readonly OptionSource[];
}
