import { TREWS_VERSION } from '../core/index.js';
import type { Goal } from './goal.js';

export const versionGoal: Goal = {
  name: 'version',
  help: 'Print the trews version.',
  needsBuildRoot: false,
  registerOptions(registry) {
    registry.registerScope({ name: 'version', help: this.help, isGoal: true });
  },
  async execute(g) {
    await g.emit([TREWS_VERSION]);
    return 0;
  },
};
