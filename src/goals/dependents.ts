import { compareAddresses, dependentsOf, formatAddress } from '../targets/index.js';
import type { Goal } from './goal.js';
import { registerOutputFile } from './goal.js';

export const dependentsGoal: Goal = {
  name: 'dependents',
  help: 'List the targets that depend on the targets the specs match (directly, or at any distance with --transitive), sorted.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'dependents', help: this.help, isGoal: true });
    registerOutputFile(registry, 'dependents');
    registry.register({ scope: 'dependents', name: 'transitive', type: 'bool', default: false, help: 'List dependents of dependents too, all the way up.' });
    registry.register({ scope: 'dependents', name: 'closed', type: 'bool', default: false, help: 'Include the targets the specs match in the output.' });
  },
  async execute(g) {
    const roots = (await g.targets()).map((t) => t.addr);
    const deps = await dependentsOf(g.run, g.project, roots, g.options.bool('dependents', 'transitive'));
    const out = new Set(deps.map(formatAddress));
    if (g.options.bool('dependents', 'closed')) for (const r of roots) out.add(formatAddress(r));
    await g.emit([...out].sort(compareAddresses));
    return 0;
  },
};
