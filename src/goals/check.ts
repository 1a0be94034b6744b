import { startExecution } from './start-execution.js';
import { isAbortError, isFailureError, type Failure } from '../core/index.js';
import { CHECK, howItFailed, outputExcerpt, type CheckOutcome } from '../backends/index.js';
import type { Provenance } from '../runtime/index.js';
import type { Target } from '../targets/index.js';
import { formatDuration, renderFailure } from '../ui/index.js';
import type { Goal } from './goal.js';

interface Done {
  readonly target: Target;
  readonly outcome: CheckOutcome;
  readonly provenance: Provenance;
}

function passed(o: CheckOutcome): boolean {
  return o.result.exitCode === 0 && !o.result.timedOut;
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
  async execute(g) {
    const selected = await g.targets();
    const execution = startExecution(g);
    const rc = execution.rc;
    const { store } = g.services();
    const candidates = selected.filter((t) => g.renv.rules.provides(t.type, CHECK));
    const done: Done[] = [];
    const failures: Array<{ target: Target; failure: Failure }> = [];
    const settled = await Promise.allSettled(
      candidates.map(async (target) => {
        let outcome: CheckOutcome | null;
        try {
          outcome = await rc.serve(CHECK, target, undefined);
        } catch (e) {
          if (!isFailureError(e) || isAbortError(e) || rc.signal.aborted) throw e;
          failures.push({ target, failure: e.failure });
          execution.print(`✕ ${target.address} could not be checked\n${renderFailure(e.failure).trimEnd()}`);
          return;
        }
        if (outcome === null) return;
        const d: Done = { target, outcome, provenance: execution.provenance(outcome.result, `check ${target.address}`) };
        done.push(d);
        if (passed(outcome)) return;
        // tsc's own lines when it printed diagnostics; its output otherwise (a crash, a bad tsconfig.json).
        const lines =
          outcome.diagnostics.length > 0
            ? outcome.diagnostics
            : [
                ...(await outputExcerpt(store, outcome.result.stdout, 200, rc.signal)),
                ...(await outputExcerpt(store, outcome.result.stderr, 200, rc.signal)),
              ];
        execution.print([`✕ ${target.address}: ${outcome.checker} ${howItFailed(outcome.result, null)}`, ...lines].join('\n'));
      }),
    );
    const thrown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (thrown !== undefined) {
      await execution.finish();
      throw thrown.reason;
    }
    const lines = [
      ...done.map((d) => {
        const took = formatDuration(d.outcome.result.executionMs ?? d.outcome.result.durationMs);
        const errors = d.outcome.diagnostics.length;
        return passed(d.outcome)
          ? `✓ ${d.target.address} checked in ${took} (${d.provenance})`
          : `✕ ${d.target.address} failed${errors > 0 ? ` with ${errors} error${errors === 1 ? '' : 's'}` : ''} (${d.provenance})`;
      }),
      ...failures.map((f) => `✕ ${f.target.address} could not be checked`),
    ].sort((a, b) => (a.slice(2) < b.slice(2) ? -1 : 1));
    if (lines.length === 0) execution.print(`nothing to check: none of the ${selected.length} target${selected.length === 1 ? '' : 's'} the specs select has a type-checker`);
    else execution.print(['', ...lines].join('\n'));
    await execution.finish();
    return failures.length > 0 || done.some((d) => !passed(d.outcome)) ? 1 : 0;
  },
};
