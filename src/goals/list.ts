import type { Goal } from './goal.js';
import { selectionReplayable } from './target-set.js';
import { registerOutputFile } from './goal.js';

export const listGoal: Goal = {
  name: 'list',
  help: 'List the addresses of the targets the specs match, generated targets included, one per line.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'list', help: this.help, isGoal: true });
    registerOutputFile(registry, 'list');
  },
  // `--output-file` writes a file each run, which a replay would not.
  replayable: (options) => selectionReplayable(options) && options.maybePath('list', 'output_file') === null,
  async execute(g) {
    await g.emit(await g.addresses());
    return 0;
  },
};
