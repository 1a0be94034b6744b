import { startSession } from './session.js';
import { isAbortError, isFailureError, type Failure } from '../core/index.js';
import { howItFailed, outputExcerpt, TEST, type TestOutcome } from '../backends/index.js';
import type { ExecutionSession, Provenance } from '../runtime/index.js';
import type { Target } from '../targets/index.js';
import { formatDuration, renderFailure } from '../ui/index.js';
import type { Goal, GoalContext } from './goal.js';

type OutputMode = 'all' | 'failed' | 'none';

interface Done {
  readonly target: Target;
  readonly outcome?: TestOutcome;
  readonly provenance?: Provenance;
  /** The test could not be run at all (a dependency failed, a tool is missing, a field is wrong). */
  readonly failure?: Failure;
}

function passed(o: TestOutcome): boolean {
  return o.result.exitCode === 0 && !o.result.timedOut;
}

/** `✓ app:test succeeded in 0.42s (local cache)`: the time is how long the test ran, back then for a cached result. */
function resultLine(d: Done): string {
  if (d.outcome === undefined) return `✕ ${d.target.address} could not run`;
  const { result } = d.outcome;
  const provenance = d.provenance;
  const took = formatDuration(result.executionMs ?? result.durationMs);
  if (passed(d.outcome)) return `✓ ${d.target.address} succeeded in ${took} (${provenance})`;
  if (result.timedOut) return `✕ ${d.target.address} ${howItFailed(result, d.outcome.timeoutS)} (${provenance})`;
  return `✕ ${d.target.address} failed in ${took} (${provenance})`;
}

async function outputBlock(g: GoalContext, session: ExecutionSession, d: Done): Promise<string[]> {
  if (d.outcome === undefined) return [];
  const { store } = g.execution();
  const lines: string[] = [];
  for (const [name, digest] of [
    ['stdout', d.outcome.result.stdout],
    ['stderr', d.outcome.result.stderr],
  ] as const) {
    const text = await outputExcerpt(store, digest, 200, session.rc.signal);
    if (text.length === 0) continue;
    lines.push(`${d.target.address} ${name}:`, ...text.map((l) => `  ${l}`));
  }
  return lines;
}

export const testGoal: Goal = {
  name: 'test',
  help: 'Run the tests the specs select, in parallel (bounded by process_execution_local_parallelism), and report each: passed, failed (with its output), or served from a cache. Exits 1 if any test fails.',
  needsBuildRoot: true,
  registerOptions(registry) {
    // Test rules read timeouts and --force through the engine.
    registry.registerScope({ name: 'test', help: this.help, isGoal: true, readByRules: true });
    registry.register({ scope: 'test', name: 'force', type: 'bool', default: false, help: 'Run the tests even when a cached result exists.' });
    registry.register({
      scope: 'test',
      name: 'output',
      type: 'enum',
      choices: ['all', 'failed', 'none'],
      default: 'failed',
      help: 'Whose stdout and stderr to print: every test, failed tests only, or none.',
    });
    registry.register({ scope: 'test', name: 'timeouts', type: 'bool', default: true, help: 'Enforce test timeouts (turn off to debug a test).' });
    registry.register({
      scope: 'test',
      name: 'timeout_default',
      type: 'int',
      default: null,
      help: 'Timeout in seconds of a test whose target sets no `timeout`; unset means none.',
      validate: (v) => (typeof v === 'number' && v < 1 ? `must be at least 1, got ${v}` : undefined),
    });
    registry.register({
      scope: 'test',
      name: 'timeout_maximum',
      type: 'int',
      default: null,
      help: 'Upper bound in seconds on any test timeout, whatever the target says.',
      validate: (v) => (typeof v === 'number' && v < 1 ? `must be at least 1, got ${v}` : undefined),
    });
  },
  async execute(g) {
    const selected = await g.targets();
    const session = startSession(g);
    const rc = session.rc;
    const tests = selected.filter((t) => g.renv.rules.provides(t.type, TEST) && t.fields['skip_tests'] !== true);
    if (tests.length === 0) {
      // As Pants: selecting no tests is not an error.
      session.print(`no tests to run: none of the ${selected.length} target${selected.length === 1 ? '' : 's'} the specs select is a test`);
      await session.finish();
      return 0;
    }
    const mode = g.options.enum<OutputMode>('test', 'output');
    const done: Done[] = [];
    let blocks = 0;
    // allSettled: on Ctrl-C every test's processes must be gone (and their
    // sandboxes removed) before the run returns, not only the first one's.
    const settled = await Promise.allSettled(
      tests.map(async (target) => {
        let d: Done;
        try {
          const outcome = await rc.serve(TEST, target, undefined);
          d = { target, outcome, provenance: session.provenance(outcome.result) };
        } catch (e) {
          if (!isFailureError(e) || isAbortError(e) || rc.signal.aborted) throw e;
          d = { target, failure: e.failure };
        }
        done.push(d);
        // Output as each test ends, so a long run shows failures early (Pants does too).
        const ok = d.outcome !== undefined && passed(d.outcome);
        if (d.outcome !== undefined && (mode === 'all' || (mode === 'failed' && !ok))) {
          const block = await outputBlock(g, session, d);
          if (block.length > 0) {
            blocks++;
            session.print([resultLine(d), ...block].join('\n'));
          }
        }
        if (d.failure !== undefined) {
          blocks++;
          session.print(`${resultLine(d)}\n${renderFailure(d.failure).trimEnd()}`);
        }
      }),
    );
    const thrown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (thrown !== undefined) {
      await session.finish();
      throw thrown.reason;
    }
    done.sort((a, b) => (a.target.address < b.target.address ? -1 : 1));
    // A blank line sets the summary apart from the outputs printed above it.
    session.print([...(blocks > 0 ? [''] : []), ...done.map(resultLine)].join('\n'));
    await session.finish();
    return done.every((d) => d.outcome !== undefined && passed(d.outcome)) ? 0 : 1;
  },
};
