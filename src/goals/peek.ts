import { DependenciesKey, formatAddress, type Target } from '../targets/index.js';
import type { Goal, GoalContext } from './goal.js';
import { registerOutputFile } from './goal.js';

/**
 * Peek's JSON, one object per target: address, type, where it is declared, every
 * field with its value (declared or default). `dependencies` holds the resolved
 * addresses and `dependencies_raw` what the BUILD file says; a target that owns
 * files lists them in `source_files`.
 */
async function describe(g: GoalContext, t: Target): Promise<Record<string, unknown>> {
  const deps = await g.run.get(new DependenciesKey(g.project, t.addr));
  const out: Record<string, unknown> = {
    address: t.address,
    target_type: t.type,
    build_file: t.buildFile,
    line: t.line,
  };
  if (t.generatedFrom !== undefined) out.generated_from = t.generatedFrom;
  for (const name of Object.keys(t.fields).sort()) {
    if (name === 'dependencies') continue;
    out[name] = t.fields[name];
  }
  out.dependencies_raw = t.fields.dependencies ?? [];
  out.dependencies = deps.dependencies.map(formatAddress);
  if (t.sources.length > 0) out.source_files = t.sources;
  return out;
}

export const peekGoal: Goal = {
  name: 'peek',
  help: 'Show the targets the specs match as JSON: address, type, BUILD file and line, and every field with its value.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'peek', help: this.help, isGoal: true });
    registerOutputFile(registry, 'peek');
    registry.register({
      scope: 'peek',
      name: 'exclude_defaults',
      type: 'bool',
      default: false,
      help: 'Leave out fields whose value is their default.',
    });
  },
  async execute(g) {
    const targets = await g.targets();
    const excludeDefaults = g.options.bool('peek', 'exclude_defaults');
    const objs = await Promise.all(targets.map((t) => describe(g, t)));
    if (excludeDefaults) {
      targets.forEach((t, i) => {
        const type = g.project.types.get(t.type);
        if (!type) return;
        for (const spec of g.project.types.fieldsOf(type)) {
          const v = objs[i]![spec.name];
          if (spec.name !== 'name' && JSON.stringify(v) === JSON.stringify(spec.default ?? null)) delete objs[i]![spec.name];
        }
      });
    }
    await g.emit(JSON.stringify(objs, null, 2).split('\n'));
    return 0;
  },
};
