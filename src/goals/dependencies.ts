import { compareAddresses, DependenciesKey, formatAddress, transitiveDependencies, type Address } from '../targets/index.js';
import type { Goal } from './goal.js';
import { registerOutputFile } from './goal.js';

export const dependenciesGoal: Goal = {
  name: 'dependencies',
  help: 'List the dependencies of the targets the specs match (direct ones, or all with --transitive), sorted.',
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
    if (g.options.bool('dependencies', 'transitive')) {
      deps = await transitiveDependencies(g.run, g.project, roots);
    } else {
      const all = await g.run.getAll(roots.map((r) => new DependenciesKey(g.project, r)));
      deps = all.flatMap((d) => d.dependencies);
    }
    const out = new Set(deps.map(formatAddress));
    const rootSet = new Set(roots.map(formatAddress));
    if (g.options.bool('dependencies', 'closed')) for (const r of rootSet) out.add(r);
    else for (const r of rootSet) out.delete(r);
    await g.emit([...out].sort(compareAddresses));
    return 0;
  },
};
