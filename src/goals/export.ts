import { startExecution } from './start-execution.js';
import { digestString } from '../core/index.js';
import { EXPORT, outputsOptions, writeOutputs, type BuiltOutputs } from '../backends/index.js';
import { countsLine } from '../ui/index.js';
import type { Goal } from './goal.js';
import { provenanceText } from './result-lines.js';

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
    const { rc, colors } = execution;
    const seen = new Map<string, BuiltOutputs>();
    let exported = 0;
    let memoized = 0;
    try {
      const candidates = selected.filter((x) => g.renv.rules.provides(x.type, EXPORT));
      execution.progress(0, candidates.length, 'targets');
      for (const [i, t] of candidates.entries()) {
        const exp = await rc.serve(EXPORT, t, undefined);
        if (exp !== null) seen.set(`${exp.address} ${digestString(exp.tree)}`, exp);
        execution.progress(i + 1, candidates.length, 'targets');
      }
      if (seen.size === 0) {
        execution.print(`nothing to export: none of the ${selected.length} target${selected.length === 1 ? '' : 's'} the specs select has anything to lay out`);
        return 0;
      }
      for (const exp of seen.values()) {
        const provenance = execution.provenance(exp.result, `export ${exp.address}`);
        const w = await writeOutputs(g.services().store, g.root, exp.tree, exp.outputs, rc.signal, outputsOptions(rc, g.root));
        const parts = [`${w.written.length} file${w.written.length === 1 ? '' : 's'} written`, `${w.unchanged} unchanged`, ...(w.removed.length > 0 ? [`${w.removed.length} stale removed`] : [])];
        execution.print(`${colors.green('✓')} ${exp.address} ${provenanceText(provenance, colors)}: ${parts.join(', ')}`);
        exported++;
        if (provenance === 'memoized') memoized++;
      }
    } finally {
      // A failure is thrown (and rendered by the CLI): only a finished export has results to count.
      await execution.finish(exported > 0 ? countsLine('Exports', [{ count: exported, label: 'succeeded', tone: 'good' }], exported, memoized, colors) : undefined);
    }
    return 0;
  },
};
