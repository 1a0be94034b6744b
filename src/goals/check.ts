import { startExecution } from './start-execution.js';
import { isAbortError, isFailureError } from '../core/index.js';
import { CHECK, howItFailed, outputExcerpt, type CheckOutcome } from '../backends/index.js';
import type { Provenance } from '../runtime/index.js';
import type { Target } from '../targets/index.js';
import { countsLine, formatDuration, naturalCompare, type Palette } from '../ui/index.js';
import type { Goal } from './goal.js';
import { selectionReplayable } from './target-set.js';
import { FailureGroups, provenanceText } from './result-lines.js';

interface Done {
  readonly target: Target;
  readonly outcome: CheckOutcome;
  readonly provenance: Provenance;
}

function passed(o: CheckOutcome): boolean {
  return o.result.exitCode === 0 && !o.result.timedOut;
}

/** `✓ packages/lib:lib checked in 1.20s (ran locally)`, `✕ apps/cli:cli failed with 2 errors (ran locally)`. */
function resultLine(d: Done, colors: Palette): string {
  const from = provenanceText(d.provenance, colors);
  if (passed(d.outcome)) return `${colors.green('✓')} ${d.target.address} ${colors.green('checked')} in ${formatDuration(d.outcome.result.executionMs ?? d.outcome.result.durationMs)} ${from}`;
  const errors = d.outcome.diagnostics.filter((l) => !/^\s/.test(l)).length;
  const how = errors > 0 ? `failed with ${errors} error${errors === 1 ? '' : 's'}` : `failed: ${d.outcome.checker} ${howItFailed(d.outcome.result, null)}`;
  return `${colors.red('✕')} ${d.target.address} ${colors.red(how)} ${from}`;
}

function couldNotLine(address: string, colors: Palette): string {
  return `${colors.red('✕')} ${address} ${colors.red('could not be checked')}`;
}

/**
 * `trews check`: type-checks what the specs select (a TypeScript package:
 * `tsc --noEmit` on its tsconfig.json, with its dependencies' declarations
 * built first), in sandboxes, from the caches when nothing changed.
 * Errors are printed as `file:line:col: error TS…` from the build root, so
 * editors and terminals link them. Pants' `check`.
 */
export const checkGoal: Goal = {
  name: 'check',
  help: "Type-check the targets the specs select (a TypeScript package: `tsc --noEmit -p tsconfig.json` after its dependencies' builds), cached, and print the type errors as file:line:col. Exits 1 if any check fails.",
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'check', help: this.help, isGoal: true });
  },
  replayable: selectionReplayable,
  async execute(g) {
    const selected = await g.targets();
    const execution = startExecution(g);
    const { rc, colors } = execution;
    const { store } = g.services();
    const candidates = selected.filter((t) => g.renv.rules.provides(t.type, CHECK)).sort((a, b) => naturalCompare(a.address, b.address));
    const nothing = `nothing to check: none of the ${selected.length} target${selected.length === 1 ? '' : 's'} the specs select has a type-checker`;
    if (candidates.length === 0) {
      execution.print(nothing);
      await execution.finish();
      return 0;
    }
    // Under --loop, what the graph still holds was printed by an earlier iteration.
    const quietMemoized = g.iteration > 0;
    const done: Done[] = [];
    // Checks that could not run for one reason (a dependency's build failed): told once.
    const blocked = new FailureGroups();
    let settledCount = 0;
    execution.progress(0, candidates.length, 'checks');
    const settled = await Promise.allSettled(
      candidates.map(async (target) => {
        try {
          let outcome: CheckOutcome | null;
          try {
            outcome = await rc.serve(CHECK, target, undefined);
          } catch (e) {
            if (!isFailureError(e) || isAbortError(e) || rc.signal.aborted) throw e;
            execution.print(blocked.add(target.address, couldNotLine(target.address, colors), e.failure, colors));
            return;
          }
          if (outcome === null) return;
          const d: Done = { target, outcome, provenance: execution.provenance(outcome.result, `check ${target.address}`) };
          done.push(d);
          if (passed(outcome)) {
            if (!(quietMemoized && d.provenance === 'memoized')) execution.print(resultLine(d, colors));
            return;
          }
          // tsc's own lines when it printed diagnostics; its output otherwise (a crash, a bad tsconfig.json).
          const lines =
            outcome.diagnostics.length > 0
              ? outcome.diagnostics
              : [
                  ...(await outputExcerpt(store, outcome.result.stdout, 200, rc.signal)),
                  ...(await outputExcerpt(store, outcome.result.stderr, 200, rc.signal)),
                ];
          execution.print([resultLine(d, colors), ...lines].join('\n'));
        } finally {
          settledCount++;
          execution.progress(settledCount, candidates.length, 'checks');
        }
      }),
    );
    const thrown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (thrown !== undefined) {
      await execution.finish();
      throw thrown.reason;
    }
    if (done.length === 0 && blocked.size === 0) {
      execution.print(nothing);
      await execution.finish();
      return 0;
    }
    // The failures again, together, where the summary is.
    const failed = done.filter((d) => !passed(d.outcome)).sort((a, b) => naturalCompare(a.target.address, b.target.address));
    const recap = [...failed.map((d) => resultLine(d, colors)), ...blocked.recap('check', 'could not run', colors)];
    if (recap.length > 0) execution.print(['', ...recap].join('\n'));
    await execution.finish(
      countsLine(
        'Checks',
        [
          { count: done.length - failed.length, label: 'passed', tone: 'good' },
          { count: failed.length, label: 'failed', tone: 'bad' },
          { count: blocked.size, label: 'could not run', tone: 'bad' },
        ],
        done.length + blocked.size,
        done.filter((d) => d.provenance === 'memoized').length,
        colors,
      ),
    );
    return failed.length > 0 || blocked.size > 0 ? 1 : 0;
  },
};
