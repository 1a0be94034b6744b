import { closest, failure, firstSentence as summary, raise, TREWS_VERSION } from '../core/index.js';
import { describeSource, envVarName, flagSpelling, GLOBAL, type OptionSpec, type Options } from '../options/index.js';
import { describeFieldType, type TargetType } from '../targets/index.js';
import type { Goal, GoalContext } from './goal.js';


function table(rows: readonly [string, string][], indent = '  '): string[] {
  const width = Math.min(40, Math.max(0, ...rows.map(([a]) => a.length)));
  return rows.map(([a, b]) => `${indent}${a.padEnd(width)}  ${b}`);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? 'null';
}

function overview(g: GoalContext): string[] {
  return [
    `trews ${TREWS_VERSION}: a build system for monorepos`,
    '',
    'Usage: trews [options] GOAL... [SPEC...] [-- ARGS...]',
    '',
    'Specs select targets:',
    ...table([
      ['dir:name', 'one target (also //dir:name from anywhere, dir/file.ext:gen for a generated one)'],
      ['dir: or dir', 'the targets declared in dir'],
      ['dir::', 'the targets in dir and below it; `::` is everything'],
      ['dir/file.ext', 'the targets that own a file; globs like \'src/**/*.txt\' work too'],
      ['-spec', 'leave out what spec matches'],
    ]),
    '',
    'Goals:',
    ...table(g.goals.map((x) => [x.name, summary(x.help)])),
    '',
    'Other commands:',
    ...table([
      ['trews daemon status|start|stop|restart', 'the warm daemon of this build root'],
      ['trews remote-server --help', 'serve REAPI (CAS, action cache, execution) to any client'],
    ]),
    '',
    'More help:',
    ...table([
      ['trews help goals', 'every goal'],
      ['trews help targets', 'every target type'],
      ['trews help global', 'the global options'],
      ['trews help GOAL', 'a goal and its options'],
      ['trews help TARGET_TYPE', 'a target type and its fields'],
      ['trews help OPTION', 'one option: its value and where it came from (e.g. `trews help remote_execution`)'],
      ['trews help-advanced ...', 'the same, with advanced options too'],
    ]),
  ];
}

function optionBlock(options: Options, spec: OptionSpec, detailed: boolean): string[] {
  const flag = flagSpelling(spec.scope, spec.name);
  const flags = spec.type === 'bool' ? `${flag}, --no-${flag.slice(2)}` : `${flag}=<${spec.choices ? spec.choices.join('|') : spec.type}>`;
  const v = options.withSource(spec.scope, spec.name);
  const lines = [`  ${flags}`];
  if (detailed) {
    lines.push(`  ${envVarName(spec.scope, spec.name)}`);
    lines.push(`  ${spec.name} in [${spec.scope}] of trews.toml${spec.aliases?.length ? ` (also: ${spec.aliases.join(', ')})` : ''}`);
  }
  lines.push(`      default: ${show(spec.default)}`);
  const from = spec.type === 'list' || spec.type === 'dict' ? v.sources.map(describeSource).join(', then ') : describeSource(v.source);
  lines.push(`      current value: ${show(v.value)} (from ${from})`);
  for (const l of spec.help.split('\n')) lines.push(`      ${l}`);
  if (detailed && spec.daemon) lines.push('      Changing it restarts the daemon.');
  return lines;
}

function scopeOptions(options: Options, scope: string, advanced: boolean): string[] {
  const specs = options.registry.options(scope).filter((s) => advanced || !s.advanced);
  const out: string[] = [];
  for (const s of specs) out.push(...optionBlock(options, s, false), '');
  const hidden = options.registry.options(scope).length - specs.length;
  if (hidden > 0) out.push(`  (${hidden} advanced option${hidden === 1 ? '' : 's'}: \`trews help-advanced ${scope === GLOBAL ? 'global' : scope}\`)`);
  return out;
}

function targetTypeHelp(g: GoalContext, t: TargetType): string[] {
  const out = [`${t.alias}`, '', `  ${t.help}`, '', 'Fields:'];
  for (const f of g.project.types.fieldsOf(t)) {
    const req = f.required ? 'required' : `default: ${show(f.name === 'name' ? '<directory name>' : (f.default ?? null))}`;
    out.push(`  ${f.name}`, `      type: ${describeFieldType(f.type)}; ${req}`, `      ${f.help}`, '');
  }
  return out;
}

/** Finds an option by any of its spellings: `remote_execution`, `--test-timeout`, `test.timeout`, `TREWS_TEST_TIMEOUT`. */
function findOption(options: Options, topic: string): OptionSpec | undefined {
  for (const spec of options.registry.allOptions()) {
    const names = [
      flagSpelling(spec.scope, spec.name),
      flagSpelling(spec.scope, spec.name).slice(2),
      envVarName(spec.scope, spec.name),
      `${spec.scope}.${spec.name}`,
      ...(spec.scope === GLOBAL ? [spec.name, ...(spec.aliases ?? [])] : (spec.aliases ?? []).map((a) => `${spec.scope}.${a}`)),
    ];
    if (names.includes(topic)) return spec;
  }
  return undefined;
}

function topicHelp(g: GoalContext, topic: string, advanced: boolean): string[] {
  const { options } = g;
  if (topic === 'goals') return ['Goals:', ...table(g.goals.map((x) => [x.name, summary(x.help)]))];
  if (topic === 'targets') return ['Target types:', ...table(g.project.types.all().map((t) => [t.alias, summary(t.help)]))];
  if (topic === 'global') return ['Global options:', '', ...scopeOptions(options, GLOBAL, advanced)];
  const goal = g.goals.find((x) => x.name === topic);
  if (goal) return [`${goal.name}`, '', `  ${goal.help}`, '', 'Options:', '', ...scopeOptions(options, goal.name, advanced)];
  const scope = options.registry.scope(topic);
  if (scope) return [`[${scope.name}]`, '', `  ${scope.help}`, '', 'Options:', '', ...scopeOptions(options, scope.name, advanced)];
  const type = g.project.types.get(topic);
  if (type) return targetTypeHelp(g, type);
  const opt = findOption(options, topic);
  if (opt) return optionBlock(options, opt, true);
  const candidates = [
    'goals',
    'targets',
    'global',
    ...g.goals.map((x) => x.name),
    ...options.registry.scopes().map((s) => s.name),
    ...g.project.types.all().map((t) => t.alias),
    ...options.registry.allOptions().map((s) => (s.scope === GLOBAL ? s.name : `${s.scope}.${s.name}`)),
  ];
  const guess = closest(topic, candidates);
  raise(
    failure('input', 'unknown-help-topic', `no help for \`${topic}\`: it is not a goal, target type, scope or option`, {
      exitCode: 2,
      hints: [guess ? `did you mean \`trews help ${guess}\`?` : 'run `trews help` for the topics'],
    }),
  );
}

function helpGoal(name: 'help' | 'help-advanced', advanced: boolean): Goal {
  return {
    name,
    help: advanced
      ? 'Like help, but also shows advanced options.'
      : 'Show help: `trews help`, `help goals`, `help targets`, `help global`, or help on one goal, target type or option.',
    needsBuildRoot: false,
    registerOptions(registry) {
      registry.registerScope({ name, help: this.help, isGoal: true });
    },
    async execute(g) {
      const topics = g.options.commandLine.specs;
      const lines: string[] = [];
      if (topics.length === 0) lines.push(...overview(g));
      for (const t of topics) {
        if (lines.length > 0) lines.push('');
        lines.push(...topicHelp(g, t, advanced));
      }
      while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
      await g.emit(lines);
      return 0;
    },
  };
}

export const helpGoalInstance = helpGoal('help', false);
export const helpAdvancedGoal = helpGoal('help-advanced', true);
