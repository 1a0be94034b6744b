import { startExecution } from './start-execution.js';
import { digestString } from '../core/index.js';
import { EXPORT, writeOutputs, type BuiltOutputs } from '../backends/index.js';
import type { Goal } from './goal.js';

/**
 * `trews export`: lays out in the workspace what editors and tools expect
 * to find there, from the same cached trees the sandboxes use — for a
 * JavaScript workspace its node_modules (the frozen install plus the
 * links to workspace packages), as `npm ci` would have made them, without
 * running the package manager when the install is cached. Pants' `export`.
 */
export const exportGoal: Goal = {
  name: 'export',
  help: "Lay out in the workspace what editors need, from the cached trees sandboxes use: for a JavaScript workspace (any of its targets selected), its node_modules, as the package manager would have installed them. Only files that differ are written; stale ones are removed.",
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'export', help: this.help, isGoal: true });
  },
  async execute(g) {
    const selected = await g.targets();
    const execution = startExecution(g);
    const rc = execution.rc;
    const seen = new Map<string, BuiltOutputs>();
    try {
      for (const t of selected.filter((x) => g.renv.rules.provides(x.type, EXPORT))) {
        const exp = await rc.serve(EXPORT, t, undefined);
        if (exp !== null) seen.set(`${exp.address} ${digestString(exp.tree)}`, exp);
      }
      if (seen.size === 0) execution.print(`nothing to export: none of the ${selected.length} target${selected.length === 1 ? '' : 's'} the specs select has anything to lay out`);
      for (const exp of seen.values()) {
        const w = await writeOutputs(g.services().store, g.root, exp.tree, exp.outputs, rc.signal);
        execution.print(`✓ ${exp.address} (${execution.provenance(exp.result, `export ${exp.address}`)}): ${w.written.length} files written, ${w.unchanged} unchanged${w.removed.length > 0 ? `, ${w.removed.length} stale removed` : ''}`);
      }
    } finally {
      await execution.finish();
    }
    return 0;
  },
};
