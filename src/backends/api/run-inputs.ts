import { sha256Hex, stableJson } from '../../core/index.js';
import type { InputKey, KeyRebuilder, RunInputs } from '../../engine/index.js';
import { GLOBAL, readableByRules, type OptionValue, type Options, type Scope } from '../../options/index.js';
import { ENVIRONMENTS_SCOPE } from './environment-types.js';

/**
 * What a build run brings into the graph: its options and its client's
 * environment. Rules read them only through the input keys below, so a
 * warm daemon re-validates exactly the rules whose options or variables
 * changed, and two clients whose inputs differ never share a live graph.
 */
export interface BuildInputs extends RunInputs {
  readonly options: Options;
  readonly env: Readonly<Record<string, string>>;
  /**
   * The platform of the machine running the processes local environments
   * run (`linux_x86_64`), or undefined when it has no name we know:
   * detected by the CLI (the only place that looks at the host), overridden
   * by `[environments] host_platform`.
   */
  readonly hostPlatform: string | undefined;
  /** Whether `remote_execution_server` is set: remote environments need it. */
  readonly remoteExecutionServer: boolean;
}

/**
 * Variables that describe the client's shell session rather than the build:
 * they are not inputs (two terminals in different directories may share a
 * daemon's graph at the same time), so rules cannot read them.
 */
export const SESSION_VARIABLES: ReadonlySet<string> = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);

/**
 * The inputs of a run. The signature covers every option rules may read
 * (see `readableByRules`) and every variable but the session's.
 */
export function buildInputs(options: Options, env: Readonly<Record<string, string>>, detectedHost?: string): BuildInputs {
  const readable: Record<string, OptionValue> = {};
  for (const { spec, value } of options.entries()) {
    const scope = options.registry.scope(spec.scope);
    if (scope !== undefined && readableByRules(scope)) readable[`${spec.scope}.${spec.name}`] = value.value;
  }
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (!SESSION_VARIABLES.has(k)) vars[k] = v;
  const override = options.registry.scope(ENVIRONMENTS_SCOPE) === undefined ? null : options.maybeString(ENVIRONMENTS_SCOPE, 'host_platform');
  const hostPlatform = override ?? detectedHost;
  const remoteExecutionServer = options.maybeString(GLOBAL, 'remote_execution_server') !== null;
  return {
    signature: sha256Hex(stableJson({ options: readable, env: vars, hostPlatform: hostPlatform ?? null, remoteExecutionServer })),
    options,
    env,
    hostPlatform,
    remoteExecutionServer,
  };
}

/** The host's platform name as local environments see it (BuildInputs.hostPlatform), as an input of the run. */
export class HostPlatformKey implements InputKey<string | undefined> {
  readonly id = 'host-platform';

  readFrom(inputs: RunInputs): string | undefined {
    return (inputs as BuildInputs).hostPlatform;
  }

  describe(): string {
    return 'the platform of this machine';
  }
}

/** Whether `remote_execution_server` is set (BuildInputs.remoteExecutionServer), as an input of the run. */
export class RemoteExecutionServerKey implements InputKey<boolean> {
  readonly id = 'remote-execution-server-set';

  readFrom(inputs: RunInputs): boolean {
    return (inputs as BuildInputs).remoteExecutionServer;
  }

  describe(): string {
    return 'whether remote_execution_server is set';
  }
}

/**
 * The options of one scope, as rules see them: the same typed getters as
 * `Options`, without the scope argument. Its equality is that of the
 * scope's values, so an unrelated option changing leaves its readers clean.
 */
export interface ScopeOptions {
  readonly scope: Scope;
  bool(name: string): boolean;
  int(name: string): number;
  maybeInt(name: string): number | null;
  string(name: string): string;
  maybeString(name: string): string | null;
  list(name: string): readonly string[];
  dict(name: string): Readonly<Record<string, unknown>>;
  enum<T extends string = string>(name: string): T;
  /** The scope's values, `name → value`, for equality. */
  readonly values: Readonly<Record<string, OptionValue>>;
}

function scopeOptions(options: Options, scope: Scope): ScopeOptions {
  const values: Record<string, OptionValue> = {};
  for (const spec of options.registry.options(scope)) values[spec.name] = options.get(scope, spec.name);
  return {
    scope,
    values,
    bool: (n) => options.bool(scope, n),
    int: (n) => options.int(scope, n),
    maybeInt: (n) => options.maybeInt(scope, n),
    string: (n) => options.string(scope, n),
    maybeString: (n) => options.maybeString(scope, n),
    list: (n) => options.list(scope, n),
    dict: (n) => options.dict(scope, n),
    enum: <T extends string>(n: string) => options.enum<T>(scope, n),
  };
}

/** The options of a scope rules may read, as an input of the run. */
export class ScopeOptionsKey implements InputKey<ScopeOptions> {
  readonly id: string;
  readonly #scope: Scope;

  constructor(scope: Scope) {
    this.#scope = scope;
    this.id = `options:${scope}`;
  }

  readFrom(inputs: RunInputs): ScopeOptions {
    const { options } = inputs as BuildInputs;
    const spec = options.registry.scope(this.#scope);
    if (spec === undefined) throw new Error(`bug: option scope ${this.#scope} is not registered`);
    if (!readableByRules(spec)) throw new Error(`bug: rules may not read the options of [${this.#scope}] (see ScopeSpec.readByRules)`);
    return scopeOptions(options, this.#scope);
  }

  equal(a: ScopeOptions, b: ScopeOptions): boolean {
    return stableJson(a.values) === stableJson(b.values);
  }

  describe(): string {
    return `the options of [${this.#scope}]`;
  }
}

/** One variable of the client's environment (undefined when unset), as an input of the run. */
export class EnvVarKey implements InputKey<string | undefined> {
  readonly id: string;
  readonly #name: string;

  constructor(name: string) {
    if (SESSION_VARIABLES.has(name)) throw new Error(`bug: ${name} describes the client's shell, not the build; rules cannot read it`);
    this.#name = name;
    this.id = `env:${name}`;
  }

  readFrom(inputs: RunInputs): string | undefined {
    return (inputs as BuildInputs).env[this.#name];
  }

  describe(): string {
    return `the client's $${this.#name}`;
  }
}

/**
 * The client's variables whose names start with `prefix` (`NEXT_PUBLIC_`),
 * session variables left out, as an input of the run: a task's `env`
 * entry `NEXT_PUBLIC_*` reads every one of them.
 */
export class EnvPrefixKey implements InputKey<Readonly<Record<string, string>>> {
  readonly id: string;
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
    this.id = `env-prefix:${prefix}`;
  }

  readFrom(inputs: RunInputs): Readonly<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries((inputs as BuildInputs).env)) if (k.startsWith(this.#prefix) && !SESSION_VARIABLES.has(k)) out[k] = v;
    return out;
  }

  equal(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
    return stableJson(a) === stableJson(b);
  }

  describe(): string {
    return `the client's $${this.#prefix}*`;
  }
}

/**
 * How the input keys come back from their id, for a graph a process without
 * a daemon kept (Engine.importGraph: an input it cannot rebuild is dropped
 * with whatever read it). `options` are the loading run's: an `options:`
 * scope they do not have, or that rules may not read, is not rebuilt.
 */
export function inputKeyRebuilders(options: Options): KeyRebuilder[] {
  return [
    { kind: 'host-platform', rebuild: () => new HostPlatformKey() },
    { kind: 'remote-execution-server-set', rebuild: () => new RemoteExecutionServerKey() },
    {
      kind: 'env:',
      rebuild: (id) => {
        const name = id.slice('env:'.length);
        return SESSION_VARIABLES.has(name) ? undefined : new EnvVarKey(name);
      },
    },
    { kind: 'env-prefix:', rebuild: (id) => new EnvPrefixKey(id.slice('env-prefix:'.length)) },
    {
      kind: 'options:',
      rebuild: (id) => {
        const scope = id.slice('options:'.length);
        const spec = options.registry.scope(scope as Scope);
        return spec !== undefined && readableByRules(spec) ? (new ScopeOptionsKey(scope as Scope) as InputKey<unknown>) : undefined;
      },
    },
  ];
}
