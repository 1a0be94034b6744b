import { join } from 'node:path';
import { TransitiveDependenciesKey } from '../targets/index.js';
import type { Goal } from './goal.js';
import { registerOutputFile } from './goal.js';

export const filedepsGoal: Goal = {
  name: 'filedeps',
  help: 'List the files the targets the specs match are made of: their BUILD files and sources (and those of every dependency with --transitive), sorted.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'filedeps', help: this.help, isGoal: true });
    registerOutputFile(registry, 'filedeps');
    registry.register({ scope: 'filedeps', name: 'transitive', type: 'bool', default: false, help: 'Include the files of every dependency, all the way down.' });
    registry.register({ scope: 'filedeps', name: 'absolute', type: 'bool', default: false, help: 'Print absolute paths instead of paths relative to the build root.' });
  },
  async execute(g) {
    let targets = await g.targets();
    if (g.options.bool('filedeps', 'transitive')) {
      const deps = await g.run.get(new TransitiveDependenciesKey(g.project, targets.map((t) => t.addr)));
      targets = [...targets, ...(await g.targetsAt(deps.addresses))];
    }
    const files = new Set<string>();
    for (const t of targets) {
      files.add(t.buildFile);
      for (const s of t.sources) files.add(s);
    }
    const absolute = g.options.bool('filedeps', 'absolute');
    await g.emit([...files].sort().map((f) => (absolute ? join(g.root, f) : f)));
    return 0;
  },
};
