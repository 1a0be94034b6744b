import { closest, err, failure, ok, type Failure, type Result } from '../core/index.js';
import { qualifiedFlagName } from './naming.js';
import type { OptionRegistry } from './registry.js';
import type { OptionSpec, Scope } from './types.js';

/** One option flag as given, already resolved to its option. */
export interface FlagValue {
  readonly scope: Scope;
  /** The option's canonical name, even when the flag used an alias. */
  readonly name: string;
  /** The value text: what follows `=`, or `true`/`false` for `--x`/`--no-x`. */
  readonly raw: string;
  /** The flag as typed, without its value: `--no-remote-execution`, `--timeout`. */
  readonly flag: string;
}

export interface CommandLine {
  /** Goals in the order given, each once. */
  readonly goals: readonly string[];
  /** Addresses, paths, globs and `-spec` exclusions, in order. */
  readonly specs: readonly string[];
  /** Everything after `--`, untouched (arguments for `run` or the test runner). */
  readonly passthrough: readonly string[];
  readonly flags: readonly FlagValue[];
}

/** The only short flags, and the long flags that mean the same, as in Pants. */
const BUILTIN_GOAL_FLAGS: Readonly<Record<string, string>> = {
  '-h': 'help',
  '--help': 'help',
  '-v': 'version',
  '-V': 'version',
  '--version': 'version',
};

/**
 * Splits argv into goals, specs, flags and passthrough arguments.
 *
 * A flag belongs to the goal it follows when that goal has an option of that
 * name (`trews test --timeout=5`); otherwise it must be spelt in full
 * (`--test-timeout=5`) or be a GLOBAL option. The registry rejects option names
 * whose full spellings would collide, so that lookup is never ambiguous.
 */
export function parseCommandLine(argv: readonly string[], registry: OptionRegistry): Result<CommandLine, Failure> {
  const table = flagTable(registry);
  const goals: string[] = [];
  const specs: string[] = [];
  const flags: FlagValue[] = [];
  let passthrough: string[] = [];
  let goal: Scope | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      passthrough = argv.slice(i + 1);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const flag = eq < 0 ? arg : arg.slice(0, eq);
      const body = flag.slice(2);
      const found = lookup(table, registry, goal, body);
      if (found === undefined) {
        const builtin = eq < 0 ? BUILTIN_GOAL_FLAGS[arg] : undefined;
        if (builtin !== undefined) {
          if (!goals.includes(builtin)) goals.push(builtin);
          continue;
        }
        return err(unknownFlag(table, registry, goal, flag));
      }
      const { spec, negated } = found;
      if (negated) {
        if (spec.type !== 'bool') {
          return err(
            usage('flag-not-boolean', `${flag} is not a flag: ${flagFor(spec, goal)} is not a boolean option`, [
              `set it with ${flagFor(spec, goal)}=VALUE`,
            ]),
          );
        }
        if (eq >= 0) return err(usage('flag-unexpected-value', `${flag} does not take a value`, [`write ${flag} or ${flag.replace(/^--no-/, '--')}=VALUE`]));
        flags.push({ scope: spec.scope, name: spec.name, raw: 'false', flag });
        continue;
      }
      if (eq < 0) {
        if (spec.type !== 'bool') {
          return err(
            usage('flag-missing-value', `${flag} needs a value`, [
              `write ${flag}=VALUE: a value is joined to its flag with =, not given as the next argument`,
            ]),
          );
        }
        flags.push({ scope: spec.scope, name: spec.name, raw: 'true', flag });
        continue;
      }
      flags.push({ scope: spec.scope, name: spec.name, raw: arg.slice(eq + 1), flag });
      continue;
    }
    const builtin = BUILTIN_GOAL_FLAGS[arg];
    if (builtin !== undefined) {
      if (!goals.includes(builtin)) goals.push(builtin);
      continue;
    }
    // After `help`, a goal's name is the topic to explain (`trews help graph`), not a goal to run too.
    if (registry.isGoal(arg) && !goals.some((g) => g === 'help' || g === 'help-advanced')) {
      if (!goals.includes(arg)) goals.push(arg);
      goal = arg;
      continue;
    }
    // Anything else, including `-dir::` exclusions, is a spec.
    specs.push(arg);
  }
  return ok({ goals, specs, passthrough, flags });
}

interface FlagTable {
  /** Full spellings (`remote-execution`, `test-timeout`) → option. */
  readonly qualified: Map<string, OptionSpec>;
}

function flagTable(registry: OptionRegistry): FlagTable {
  const qualified = new Map<string, OptionSpec>();
  for (const spec of registry.allOptions()) {
    for (const n of [spec.name, ...(spec.aliases ?? [])]) qualified.set(qualifiedFlagName(spec.scope, n), spec);
  }
  return { qualified };
}

function local(registry: OptionRegistry, goal: Scope, body: string): OptionSpec | undefined {
  return registry.option(goal, body.replace(/-/g, '_'));
}

function lookupExact(table: FlagTable, registry: OptionRegistry, goal: Scope | undefined, body: string): OptionSpec | undefined {
  // Flags are spelt with dashes only; `--remote_execution` is not a spelling we accept.
  if (body.includes('_')) return undefined;
  return (goal !== undefined ? local(registry, goal, body) : undefined) ?? table.qualified.get(body);
}

function lookup(
  table: FlagTable,
  registry: OptionRegistry,
  goal: Scope | undefined,
  body: string,
): { spec: OptionSpec; negated: boolean } | undefined {
  const exact = lookupExact(table, registry, goal, body);
  if (exact !== undefined) return { spec: exact, negated: false };
  if (body.startsWith('no-')) {
    const spec = lookupExact(table, registry, goal, body.slice(3));
    if (spec !== undefined) return { spec, negated: true };
  }
  return undefined;
}

/** How to name `spec` as a flag where the user is: short after its own goal. */
function flagFor(spec: OptionSpec, goal: Scope | undefined): string {
  return spec.scope === goal ? `--${spec.name.replace(/_/g, '-')}` : `--${qualifiedFlagName(spec.scope, spec.name)}`;
}

function unknownFlag(table: FlagTable, registry: OptionRegistry, goal: Scope | undefined, flag: string): Failure {
  const candidates = new Set<string>(['help', 'version']);
  const add = (body: string, spec: OptionSpec): void => {
    candidates.add(body);
    if (spec.type === 'bool') candidates.add(`no-${body}`);
  };
  for (const [body, spec] of table.qualified) add(body, spec);
  if (goal !== undefined) {
    for (const name of registry.namesIn(goal)) add(name.replace(/_/g, '-'), registry.option(goal, name)!);
  }
  // `--timeout` before `test` (or after another goal) is most likely test's option spelt short.
  const body = flag.slice(2);
  const negated = body.startsWith('no-') ? 'no-' : '';
  const shortName = body.slice(negated.length).replace(/-/g, '_');
  const owners = registry.scopes().filter((s) => s.name !== goal && registry.option(s.name, shortName) !== undefined);
  const scoped = owners.map((s) => `--${negated}${qualifiedFlagName(s.name, shortName)}`).filter((f) => candidates.has(f.slice(2)));
  const guess = scoped.length > 0 ? scoped.join(' or ') : closest(body, candidates);
  const hints =
    guess !== undefined
      ? [`did you mean ${guess.startsWith('--') ? guess : `--${guess}`}?`]
      : [`run \`trews help${goal !== undefined ? ` ${goal}` : ''}\` to list the options`];
  return usage('unknown-flag', `unknown flag ${flag}`, hints);
}

function usage(reason: string, message: string, hints: readonly string[]): Failure {
  return failure('input', reason, message, { hints, exitCode: 2 });
}
