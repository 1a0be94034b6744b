import { compareAddresses, DependenciesKey, formatAddress, transitiveDependencies, type Address } from '../targets/index.js';
import type { Goal } from './goal.js';
import type { InferenceWarning, ResolvedDependencies } from '../targets/index.js';

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}
import { registerOutputFile } from './goal.js';

export const dependenciesGoal: Goal = {
  name: 'dependencies',
  help: 'List the dependencies of the targets the specs match (direct ones, or all with --transitive), sorted. What inference could not settle (an import that resolves to nothing) is printed on stderr as `warning: file:line:col: …`.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'dependencies', help: this.help, isGoal: true });
    registerOutputFile(registry, 'dependencies');
    registry.register({ scope: 'dependencies', name: 'transitive', type: 'bool', default: false, help: 'List dependencies of dependencies too, all the way down.' });
    registry.register({ scope: 'dependencies', name: 'closed', type: 'bool', default: false, help: 'Include the targets the specs match in the output.' });
  },
  async execute(g) {
    const roots = (await g.targets()).map((t) => t.addr);
    let deps: Address[];
    // What inference left unsettled (an import that resolves to nothing), for the targets whose dependencies were read.
    const warnings = new Map<string, InferenceWarning>();
    const collect = (r: ResolvedDependencies): void => {
      for (const w of r.warnings) warnings.set(`${w.file}:${w.line}:${w.col}: ${w.message}`, w);
    };
    if (g.options.bool('dependencies', 'transitive')) {
      deps = await transitiveDependencies(g.run, g.project, roots, collect);
    } else {
      const all = await g.run.getAll(roots.map((r) => new DependenciesKey(g.project, r)));
      all.forEach(collect);
      deps = all.flatMap((d) => d.dependencies);
    }
    const sorted = [...warnings.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
    if (sorted.length > 0) await write(g.ctx.stderr, sorted.map((w) => `warning: ${w.file}:${w.line}:${w.col}: ${w.message}\n`).join(''));
    const out = new Set(deps.map(formatAddress));
    const rootSet = new Set(roots.map(formatAddress));
    if (g.options.bool('dependencies', 'closed')) for (const r of rootSet) out.add(r);
    else for (const r of rootSet) out.delete(r);
    await g.emit([...out].sort(compareAddresses));
    return 0;
  },
};
