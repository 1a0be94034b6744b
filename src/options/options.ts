import type { CommandLine } from './command-line.js';
import type { OptionRegistry } from './registry.js';
import type { OptionSpec, OptionType, OptionValue, OptionValueWithSource, Scope } from './types.js';

/**
 * The resolved value of every registered option. The typed getters throw on an
 * unregistered option or a type mismatch: both are bugs in the caller, found
 * the first time that code runs, never a user error.
 */
export interface Options {
  readonly registry: OptionRegistry;
  readonly commandLine: CommandLine;
  get(scope: Scope, name: string): OptionValue;
  withSource(scope: Scope, name: string): OptionValueWithSource;
  bool(scope: Scope, name: string): boolean;
  /** For options whose default is not null; use `maybeInt` for the others. */
  int(scope: Scope, name: string): number;
  maybeInt(scope: Scope, name: string): number | null;
  float(scope: Scope, name: string): number;
  maybeFloat(scope: Scope, name: string): number | null;
  string(scope: Scope, name: string): string;
  maybeString(scope: Scope, name: string): string | null;
  /** A path option, `~` already expanded; relative paths are relative to the build root. */
  path(scope: Scope, name: string): string;
  maybePath(scope: Scope, name: string): string | null;
  list(scope: Scope, name: string): readonly string[];
  intList(scope: Scope, name: string): readonly number[];
  dict(scope: Scope, name: string): Readonly<Record<string, unknown>>;
  enum<T extends string = string>(scope: Scope, name: string): T;
  /** Every option with its value, sorted by scope then name (for help and fingerprints). */
  entries(): { spec: OptionSpec; value: OptionValueWithSource }[];
}

export class ResolvedOptions implements Options {
  readonly registry: OptionRegistry;
  readonly commandLine: CommandLine;
  readonly #values: ReadonlyMap<OptionSpec, OptionValueWithSource>;

  constructor(registry: OptionRegistry, commandLine: CommandLine, values: ReadonlyMap<OptionSpec, OptionValueWithSource>) {
    this.registry = registry;
    this.commandLine = commandLine;
    this.#values = values;
  }

  #spec(scope: Scope, name: string, types?: readonly OptionType[], nullable?: boolean): OptionSpec {
    const spec = this.registry.option(scope, name);
    if (spec === undefined) throw new Error(`bug: option ${scope}.${name} is not registered`);
    if (types !== undefined && !types.includes(spec.type)) {
      throw new Error(`bug: option ${scope}.${name} is a ${spec.type} option, read as ${types.join('/')}`);
    }
    if (nullable === false && spec.default === null) {
      throw new Error(`bug: option ${scope}.${name} may be unset (its default is null); read it with a maybe* getter`);
    }
    return spec;
  }

  withSource(scope: Scope, name: string): OptionValueWithSource {
    const v = this.#values.get(this.#spec(scope, name));
    if (v === undefined) throw new Error(`bug: option ${scope}.${name} was registered after options were resolved`);
    return v;
  }

  get(scope: Scope, name: string): OptionValue {
    return this.withSource(scope, name).value;
  }

  #typed(scope: Scope, name: string, types: readonly OptionType[], nullable: boolean): OptionValue {
    this.#spec(scope, name, types, nullable);
    return this.get(scope, name);
  }

  bool(scope: Scope, name: string): boolean {
    return this.#typed(scope, name, ['bool'], false) as boolean;
  }
  int(scope: Scope, name: string): number {
    return this.#typed(scope, name, ['int'], false) as number;
  }
  maybeInt(scope: Scope, name: string): number | null {
    return this.#typed(scope, name, ['int'], true) as number | null;
  }
  float(scope: Scope, name: string): number {
    return this.#typed(scope, name, ['float'], false) as number;
  }
  maybeFloat(scope: Scope, name: string): number | null {
    return this.#typed(scope, name, ['float'], true) as number | null;
  }
  string(scope: Scope, name: string): string {
    return this.#typed(scope, name, ['string'], false) as string;
  }
  maybeString(scope: Scope, name: string): string | null {
    return this.#typed(scope, name, ['string'], true) as string | null;
  }
  path(scope: Scope, name: string): string {
    return this.#typed(scope, name, ['path'], false) as string;
  }
  maybePath(scope: Scope, name: string): string | null {
    return this.#typed(scope, name, ['path'], true) as string | null;
  }
  list(scope: Scope, name: string): readonly string[] {
    const spec = this.#spec(scope, name, ['list']);
    if (spec.memberType === 'int') throw new Error(`bug: option ${scope}.${name} is a list of integers; read it with intList`);
    return this.get(scope, name) as readonly string[];
  }
  intList(scope: Scope, name: string): readonly number[] {
    const spec = this.#spec(scope, name, ['list']);
    if (spec.memberType !== 'int') throw new Error(`bug: option ${scope}.${name} is a list of strings; read it with list`);
    return this.get(scope, name) as readonly number[];
  }
  dict(scope: Scope, name: string): Readonly<Record<string, unknown>> {
    return this.#typed(scope, name, ['dict'], false) as Readonly<Record<string, unknown>>;
  }
  enum<T extends string = string>(scope: Scope, name: string): T {
    return this.#typed(scope, name, ['enum'], false) as T;
  }

  entries(): { spec: OptionSpec; value: OptionValueWithSource }[] {
    const out: { spec: OptionSpec; value: OptionValueWithSource }[] = [];
    for (const spec of this.registry.allOptions()) {
      const value = this.#values.get(spec);
      if (value !== undefined) out.push({ spec, value });
    }
    return out;
  }
}
