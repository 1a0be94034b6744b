import { closest, err, failure, ok, type Failure, type Result } from '../core/index.js';
import { ENV_PREFIX, envVarName } from './naming.js';
import type { OptionRegistry } from './registry.js';
import type { OptionSpec } from './types.js';

/** One `TREWS_*` variable that sets an option; the value is parsed by the resolver. */
export interface EnvEntry {
  readonly spec: OptionSpec;
  /** The variable's name as set, e.g. `TREWS_REMOTE_STORE_ADDRESS` for an alias. */
  readonly envName: string;
  readonly raw: string;
}

/** Every env var name that sets an option (aliases included) → its option. */
export function envNames(registry: OptionRegistry): Map<string, { spec: OptionSpec; viaAlias: boolean }> {
  const out = new Map<string, { spec: OptionSpec; viaAlias: boolean }>();
  for (const spec of registry.allOptions()) {
    out.set(envVarName(spec.scope, spec.name), { spec, viaAlias: false });
    for (const a of spec.aliases ?? []) out.set(envVarName(spec.scope, a), { spec, viaAlias: true });
  }
  return out;
}

/**
 * Picks the option settings out of the environment. A `TREWS_` variable that
 * matches no option is an error rather than ignored: a misspelt
 * `TREWS_REMTE_EXECUTION` would otherwise silently run without remote execution.
 * `reserved` lists `TREWS_` names other parts of trews read for themselves.
 */
export function readEnv(
  registry: OptionRegistry,
  env: Readonly<Record<string, string>>,
  reserved: readonly string[] = [],
): Result<EnvEntry[], Failure> {
  const known = envNames(registry);
  const found: { entry: EnvEntry; viaAlias: boolean }[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || reserved.includes(name)) continue;
    const hit = known.get(name);
    if (hit === undefined) {
      const guess = closest(name, known.keys());
      return err(
        failure('input', 'unknown-env-var', `unknown environment variable ${name}: no option has that name`, {
          hints: [guess !== undefined ? `did you mean ${guess}?` : `options are set by TREWS_<OPTION> (global) or TREWS_<SCOPE>_<OPTION>; unset ${name} if it is not meant for trews`],
          exitCode: 2,
        }),
      );
    }
    found.push({ entry: { spec: hit.spec, envName: name, raw: env[name] ?? '' }, viaAlias: hit.viaAlias });
  }
  // When both an alias and the option's own name are set, the option's own name wins.
  found.sort((a, b) => Number(b.viaAlias) - Number(a.viaAlias));
  return ok(found.map((f) => f.entry));
}
