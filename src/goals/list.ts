import type { Goal } from './goal.js';
import { registerOutputFile } from './goal.js';

export const listGoal: Goal = {
  name: 'list',
  help: 'List the addresses of the targets the specs match, generated targets included, one per line.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'list', help: this.help, isGoal: true });
    registerOutputFile(registry, 'list');
  },
  async execute(g) {
    await g.emit(await g.addresses());
    return 0;
  },
};
