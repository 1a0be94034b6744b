import { startExecution } from './start-execution.js';
import { isAbortError, isFailureError } from '../core/index.js';
import { BUILD, outputsOptions, writeOutputs, type BuiltOutputs, type RestorePlan, type WrittenOutputs } from '../backends/index.js';
import type { Provenance } from '../runtime/index.js';
import { countsLine, naturalCompare, type Palette } from '../ui/index.js';
import type { Goal } from './goal.js';
import { selectionReplayable } from './target-set.js';
import { FailureGroups, provenanceText } from './result-lines.js';

interface Built {
  readonly address: string;
  readonly provenance: Provenance;
  readonly written: WrittenOutputs;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** `✓ packages/lib:build (local cache): 2 files written, 3 unchanged`. */
function resultLine(d: Built, colors: Palette, countsMark: (counts: string) => string = (c) => c): string {
  const w = d.written;
  const parts = [`${plural(w.written.length, 'file')} written`, `${w.unchanged} unchanged`];
  if (w.removed.length > 0) parts.push(`${w.removed.length} stale removed`);
  return `${colors.green('✓')} ${d.address} ${provenanceText(d.provenance, colors)}: ${countsMark(parts.join(', '))}`;
}

function failedLine(address: string, colors: Palette): string {
  return `${colors.red('✕')} ${address} ${colors.red('failed')}`;
}

/**
 * `trews build`: builds what the specs select — in dependency order, each
 * in its sandbox, from the caches when it can — and writes the declared
 * outputs into the workspace (`packages/lib/dist/…`), touching only the
 * files whose content differs and removing stale ones from the declared
 * outputs, so editors, `node packages/app/dist/main.js` and publishing
 * see them. Turborepo's and Nx's cache restore, as a goal. Its console is
 * `test`'s: a line per build as it finishes, the failures again at the
 * end, and the summary line (`Builds: 3 succeeded, 3 total · Processes: …`).
 */
export const buildGoal: Goal = {
  name: 'build',
  help: "Build the targets the specs select and write their declared outputs into the workspace (a JavaScript package's `build` script and its dependencies' builds first; any script with `outputs`), restoring them from the cache when nothing changed. Only files whose content differs are written, stale files in the declared outputs are removed, nothing else is touched. Exits 1 if any build fails.",
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'build', help: this.help, isGoal: true });
  },
  replayable: selectionReplayable,
  async execute(g) {
    const selected = await g.targets();
    const execution = startExecution(g);
    const { rc, colors } = execution;
    const candidates = selected.filter((t) => g.renv.rules.provides(t.type, BUILD)).sort((a, b) => naturalCompare(a.address, b.address));
    if (candidates.length === 0) {
      execution.print(`nothing to build: none of the ${plural(selected.length, 'target')} the specs select builds anything`);
      await execution.finish();
      return 0;
    }
    // Under --loop, a build the graph still holds and that wrote nothing was told by an earlier iteration.
    const quietMemoized = g.iteration > 0;
    const built = new Map<string, Built>();
    /** Addresses of builds being written: a package and its `build` script name one build, written once. */
    const claimed = new Set<string>();
    // A package and its `build` script fail with one failure: told once.
    const failures = new FailureGroups();
    let settledCount = 0;
    execution.progress(0, candidates.length, 'builds');
    const settled = await Promise.allSettled(
      candidates.map(async (target) => {
        try {
          let outputs: BuiltOutputs | null;
          try {
            outputs = await rc.serve(BUILD, target, undefined);
          } catch (e) {
            if (!isFailureError(e) || isAbortError(e) || rc.signal.aborted) throw e;
            execution.print(failures.add(target.address, failedLine(target.address, colors), e.failure, colors));
            return;
          }
          if (outputs === null || claimed.has(outputs.address)) return;
          claimed.add(outputs.address);
          const provenance = execution.provenance(outputs.result, `build ${outputs.address}`);
          const replay = g.replay;
          let countsMark: ((counts: string) => string) | undefined;
          const written = await writeOutputs(g.services().store, g.root, outputs.tree, outputs.outputs, rc.signal, {
            ...outputsOptions(rc, g.root),
            ...(replay !== undefined
              ? { observed: (path: string) => replay.observe(path), restorable: (plan: RestorePlan) => (countsMark = replay.restorable(plan)) }
              : {}),
          });
          const d: Built = { address: outputs.address, provenance, written };
          built.set(d.address, d);
          const touched = written.written.length + written.removed.length > 0;
          // A run that wrote is an answer to replay only when the replay can write the same itself.
          if (touched && countsMark === undefined) replay?.refuse('outputs were written');
          if (!(quietMemoized && provenance === 'memoized' && !touched)) execution.print(resultLine(d, colors, countsMark));
        } finally {
          settledCount++;
          execution.progress(settledCount, candidates.length, 'builds');
        }
      }),
    );
    const thrown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (thrown !== undefined) {
      await execution.finish();
      throw thrown.reason;
    }
    if (built.size === 0 && failures.size === 0) {
      execution.print(`nothing to build: none of the ${plural(selected.length, 'target')} the specs select declares outputs`);
      await execution.finish();
      return 0;
    }
    // The failures again, together, where the summary is.
    const recap = failures.recap('build', 'failed', colors);
    if (recap.length > 0) execution.print(['', ...recap].join('\n'));
    const memoized = [...built.values()].filter((d) => d.provenance === 'memoized').length;
    await execution.finish(
      countsLine(
        'Builds',
        [
          { count: built.size, label: 'succeeded', tone: 'good' },
          { count: failures.size, label: 'failed', tone: 'bad' },
        ],
        built.size + failures.size,
        memoized,
        colors,
      ),
    );
    return failures.size > 0 ? 1 : 0;
  },
};
