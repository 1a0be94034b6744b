import { err, failure, ok, type Failure, type Result } from '../core/index.js';
import type { CommandLine } from './command-line.js';
import { readConfig } from './config-file.js';
import { readEnv } from './env.js';
import { flagSpelling } from './naming.js';
import { ResolvedOptions, type Options } from './options.js';
import type { OptionRegistry } from './registry.js';
import { describeSource } from './source.js';
import type { OptionSource, OptionSpec, OptionValue, OptionValueWithSource } from './types.js';
import { parseTextValue, type ListMember, type ValueComponent } from './value-parsing.js';

export interface ResolveInput {
  readonly registry: OptionRegistry;
  readonly commandLine: CommandLine;
  readonly env: Readonly<Record<string, string>>;
  /** trews.toml, already read by the caller; null when there is none. */
  readonly config: { readonly path: string; readonly text: string } | null;
  readonly buildRoot: string;
  readonly homeDir: string;
  /** `TREWS_*` env vars that are not options but read elsewhere; they are not reported as unknown. */
  readonly reservedEnv?: readonly string[];
}

interface Contribution {
  readonly component: ValueComponent;
  readonly source: OptionSource;
}

/**
 * Computes every option's value from its default, trews.toml, the environment
 * and the flags, in that order of rank. Each source contributes components that
 * are folded lowest rank first, so a flag's `+[...]` extends what the config
 * said rather than replacing it, as in Pants.
 */
export function resolveOptions(input: ResolveInput): Result<Options, Failure> {
  const { registry } = input;
  const byOption = new Map<OptionSpec, Contribution[]>();
  const contribute = (spec: OptionSpec, c: Contribution): void => {
    const list = byOption.get(spec);
    if (list === undefined) byOption.set(spec, [c]);
    else list.push(c);
  };

  if (input.config !== null) {
    const config = readConfig({
      registry,
      path: input.config.path,
      text: input.config.text,
      buildRoot: input.buildRoot,
      homeDir: input.homeDir,
      env: input.env,
    });
    if (!config.ok) return config;
    for (const e of config.value) contribute(registry.option(e.scope, e.name)!, { component: e.component, source: e.source });
  }

  const env = readEnv(registry, input.env, input.reservedEnv);
  if (!env.ok) return env;
  for (const e of env.value) {
    const parsed = parseTextValue(e.spec, e.raw, input.homeDir, `env ${e.envName}`);
    if (!parsed.ok) {
      return err(failure('input', 'env-invalid-value', `invalid value for env ${e.envName}: ${parsed.message}`, { exitCode: 2 }));
    }
    contribute(e.spec, { component: parsed.value, source: { type: 'env', name: e.envName } });
  }

  for (const f of input.commandLine.flags) {
    const spec = registry.option(f.scope, f.name);
    if (spec === undefined) throw new Error(`bug: flag ${f.flag} names unregistered option ${f.scope}.${f.name}`);
    const parsed = parseTextValue(spec, f.raw, input.homeDir, `flag ${f.flag}`);
    if (!parsed.ok) {
      return err(failure('input', 'flag-invalid-value', `invalid value for ${f.flag}: ${parsed.message}`, { exitCode: 2 }));
    }
    contribute(spec, { component: parsed.value, source: { type: 'flag', flag: f.flag } });
  }

  const values = new Map<OptionSpec, OptionValueWithSource>();
  for (const spec of registry.allOptions()) {
    const folded = fold(spec, byOption.get(spec) ?? []);
    if (spec.validate !== undefined && folded.value !== null && folded.source.type !== 'default') {
      const problem = spec.validate(folded.value);
      if (problem !== undefined) return err(validationFailure(spec, folded, problem));
    }
    values.set(spec, folded);
  }
  return ok(new ResolvedOptions(registry, input.commandLine, values));
}

function fold(spec: OptionSpec, contributions: readonly Contribution[]): OptionValueWithSource {
  let value: OptionValue = spec.default;
  let sources: OptionSource[] = [{ type: 'default' }];
  for (const { component, source } of contributions) {
    switch (component.kind) {
      case 'set':
        value = component.value;
        sources = [source];
        break;
      case 'list-modify': {
        const base = Array.isArray(value) ? (value as readonly ListMember[]) : [];
        const removed = new Set<ListMember>(component.remove);
        value = [...base, ...component.add].filter((x) => !removed.has(x));
        sources = addSource(sources, source);
        break;
      }
      case 'dict-merge': {
        const base = typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
        value = { ...base, ...component.value };
        sources = addSource(sources, source);
        break;
      }
    }
  }
  return { value: deepFreeze(value), source: sources[sources.length - 1]!, sources };
}

/** Repeating a flag (`--tag=a --tag=b`) is one source, listed once. */
function addSource(sources: readonly OptionSource[], s: OptionSource): OptionSource[] {
  const d = describeSource(s);
  return sources.some((x) => describeSource(x) === d) ? [...sources] : [...sources, s];
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function validationFailure(spec: OptionSpec, v: OptionValueWithSource, problem: string): Failure {
  const s = v.source;
  const via = v.sources.filter((x) => x.type !== 'default').map(describeSource).join(', ');
  return failure('input', 'invalid-option-value', `invalid value for ${flagSpelling(spec.scope, spec.name)}: ${problem}`, {
    ...(s.type === 'config' ? { location: s.line !== undefined ? { file: s.file, line: s.line } : { file: s.file } } : {}),
    notes: [`set by ${via}`],
    exitCode: s.type === 'flag' || s.type === 'env' ? 2 : 1,
  });
}
