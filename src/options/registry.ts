import { GLOBAL, type OptionSpec, type OptionValue, type Scope, type ScopeSpec } from './types.js';
import { OPTION_NAME, SCOPE_NAME, qualifiedFlagName } from './naming.js';

const GLOBAL_SCOPE: ScopeSpec = {
  name: GLOBAL,
  help: 'Options that apply to every goal and subsystem.',
  isGoal: false,
};

/**
 * Every scope and option trews knows. Registration happens in code, so a bad
 * registration is a bug in trews and throws; users only ever meet the
 * registry through the Failures of the command line, env and config parsers.
 */
export class OptionRegistry {
  readonly #scopes = new Map<Scope, ScopeSpec>();
  /** scope → option name or alias → spec. */
  readonly #options = new Map<Scope, Map<string, OptionSpec>>();
  /**
   * Qualified flag spelling (without `--`) → owner. Env names are the same
   * words with underscores, so one map keeps both unambiguous.
   */
  readonly #spellings = new Map<string, string>();

  constructor() {
    this.registerScope(GLOBAL_SCOPE);
  }

  registerScope(spec: ScopeSpec): void {
    if (this.#scopes.has(spec.name)) throw new Error(`bug: option scope ${spec.name} registered twice`);
    if (spec.name !== GLOBAL && !SCOPE_NAME.test(spec.name)) {
      throw new Error(`bug: option scope name ${JSON.stringify(spec.name)} must be lower-case words joined by dashes`);
    }
    if (spec.name === GLOBAL && spec.isGoal) throw new Error('bug: GLOBAL cannot be a goal');
    this.#scopes.set(spec.name, spec);
    this.#options.set(spec.name, new Map());
  }

  register(spec: OptionSpec): void {
    const where = `option ${spec.scope}.${spec.name}`;
    const inScope = this.#options.get(spec.scope);
    if (inScope === undefined) throw new Error(`bug: ${where}: scope ${spec.scope} is not registered`);
    const names = [spec.name, ...(spec.aliases ?? [])];
    for (const n of names) {
      if (!OPTION_NAME.test(n)) throw new Error(`bug: ${where}: name ${JSON.stringify(n)} is not snake_case`);
      if (inScope.has(n)) throw new Error(`bug: ${where}: ${n} is already an option or alias in scope ${spec.scope}`);
    }
    if (new Set(names).size !== names.length) throw new Error(`bug: ${where}: an alias repeats a name`);
    const problem = defaultProblem(spec);
    if (problem !== undefined) throw new Error(`bug: ${where}: ${problem}`);

    const spellings: string[] = [];
    for (const n of names) {
      spellings.push(qualifiedFlagName(spec.scope, n));
      // `--no-x` must not also be the flag of an option called `no_x`.
      if (spec.type === 'bool') spellings.push(`no-${qualifiedFlagName(spec.scope, n)}`);
    }
    for (const s of spellings) {
      const owner = this.#spellings.get(s);
      if (owner !== undefined) {
        throw new Error(`bug: ${where}: flag --${s} (and its env var) is already used by ${owner}`);
      }
    }
    for (const s of spellings) this.#spellings.set(s, `${spec.scope}.${spec.name}`);
    for (const n of names) inScope.set(n, spec);
  }

  hasScope(scope: Scope): boolean {
    return this.#scopes.has(scope);
  }

  scope(scope: Scope): ScopeSpec | undefined {
    return this.#scopes.get(scope);
  }

  /** All scopes sorted by name (`GLOBAL` sorts first: upper case precedes lower case). */
  scopes(): ScopeSpec[] {
    return [...this.#scopes.values()].sort((a, b) => compare(a.name, b.name));
  }

  goals(): ScopeSpec[] {
    return this.scopes().filter((s) => s.isGoal);
  }

  isGoal(name: string): boolean {
    return this.#scopes.get(name)?.isGoal === true;
  }

  /** Looks up an option by its name or one of its aliases. */
  option(scope: Scope, nameOrAlias: string): OptionSpec | undefined {
    return this.#options.get(scope)?.get(nameOrAlias);
  }

  /** The options of one scope, each once, sorted by name. */
  options(scope: Scope): OptionSpec[] {
    const m = this.#options.get(scope);
    if (m === undefined) return [];
    return [...new Set(m.values())].sort((a, b) => compare(a.name, b.name));
  }

  /** Every option of every scope, sorted by scope then name. */
  allOptions(): OptionSpec[] {
    return this.scopes().flatMap((s) => this.options(s.name));
  }

  /** Names and aliases accepted in a scope: the candidates for a did-you-mean. */
  namesIn(scope: Scope): string[] {
    return [...(this.#options.get(scope)?.keys() ?? [])].sort(compare);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Why a default does not fit its option's type, or undefined when it does. */
function defaultProblem(spec: OptionSpec): string | undefined {
  const d = spec.default;
  if (spec.type === 'enum') {
    if (spec.choices === undefined || spec.choices.length === 0) return 'an enum option needs choices';
    if (typeof d !== 'string' || !spec.choices.includes(d)) {
      return `default ${JSON.stringify(d)} is not one of the choices ${spec.choices.join(', ')}`;
    }
  } else if (spec.choices !== undefined) {
    return 'only enum options have choices';
  }
  if (spec.memberType !== undefined && spec.type !== 'list') return 'only list options have a memberType';
  const typeProblem = valueTypeProblem(spec, d);
  if (typeProblem !== undefined) return `default ${typeProblem}`;
  if (d !== null && spec.validate !== undefined) {
    const msg = spec.validate(d);
    if (msg !== undefined) return `default ${JSON.stringify(d)} is rejected by its own validation: ${msg}`;
  }
  return undefined;
}

/** Why `value` cannot be a value of `spec`'s type, or undefined. Shared with the resolver's sanity check. */
export function valueTypeProblem(spec: OptionSpec, value: OptionValue): string | undefined {
  const shown = JSON.stringify(value);
  if (value === null) {
    return spec.type === 'string' || spec.type === 'path' || spec.type === 'int' || spec.type === 'float'
      ? undefined
      : `null is allowed only for string, path, int and float options, not ${spec.type}`;
  }
  switch (spec.type) {
    case 'bool':
      return typeof value === 'boolean' ? undefined : `${shown} is not a boolean`;
    case 'int':
      return Number.isSafeInteger(value) ? undefined : `${shown} is not an integer`;
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `${shown} is not a number`;
    case 'string':
    case 'path':
    case 'enum':
      return typeof value === 'string' ? undefined : `${shown} is not a string`;
    case 'list': {
      if (!Array.isArray(value)) return `${shown} is not a list`;
      const member = spec.memberType ?? 'string';
      const bad = (value as readonly unknown[]).find((v) => (member === 'int' ? !Number.isSafeInteger(v) : typeof v !== 'string'));
      return bad === undefined ? undefined : `${shown} has a member that is not ${member === 'int' ? 'an integer' : 'a string'}`;
    }
    case 'dict':
      return typeof value === 'object' && !Array.isArray(value) ? undefined : `${shown} is not a dict`;
  }
}
