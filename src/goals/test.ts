import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { startExecution } from './start-execution.js';
import { junitXml, mergeLcov } from './test-reports/index.js';
import { isAbortError, isFailureError, type Failure } from '../core/index.js';
import { countTestCases, howItFailed, outputExcerpt, TEST, type TestCase, type TestOutcome } from '../backends/index.js';
import { selectionReplayable } from './target-set.js';
import type { GoalExecution, Provenance } from '../runtime/index.js';
import type { Target } from '../targets/index.js';
import { countsLine, displayText, formatDuration, naturalCompare, type Palette } from '../ui/index.js';
import type { Goal, GoalContext } from './goal.js';
import { FailureGroups, provenanceText } from './result-lines.js';

type OutputMode = 'all' | 'failed' | 'none';

interface Done {
  readonly target: Target;
  readonly outcome?: TestOutcome;
  readonly provenance?: Provenance;
  /** The test could not be run at all (a dependency failed, a tool is missing, a field is wrong). */
  readonly failure?: Failure;
}

function passed(o: TestOutcome): boolean {
  return o.passed ?? (o.result.exitCode === 0 && !o.result.timedOut);
}

/** `: 3 passed, 1 skipped` after a result line, when the runner reported cases. */
function casesSuffix(o: TestOutcome | undefined): string {
  if (o?.cases === undefined || o.cases.length === 0) return '';
  const n = countTestCases(o.cases);
  const parts = [n.passed > 0 ? `${n.passed} passed` : '', n.failed > 0 ? `${n.failed} failed` : '', n.skipped > 0 ? `${n.skipped} skipped` : '', n.todo > 0 ? `${n.todo} todo` : ''].filter((x) => x !== '');
  return `: ${n.total === 1 ? '1 case' : `${n.total} cases`}${n.total === n.passed ? '' : ` (${parts.join(', ')})`}`;
}

/**
 * The failed cases of a test: `suites › name`, the assertion's message and
 * where it failed, from the build root, so a terminal or editor opens it:
 *
 *   ✕ math › adds (packages/a/src/x.test.ts:12:5)
 *     Expected values to be strictly equal: 1 !== 2
 */
function failedCases(o: TestOutcome | undefined, colors: Palette): string[] {
  const out: string[] = [];
  for (const c of o?.cases ?? []) {
    if (c.status !== 'failed') continue;
    const title = [...c.suites, c.name].join(' › ');
    const loc = c.failure?.location;
    const at = loc !== undefined ? `${loc.file}:${loc.line}${loc.column !== undefined ? `:${loc.column}` : ''}` : c.file;
    out.push(`  ${colors.red('✕')} ${displayText(title)} ${colors.dim(`(${at})`)}`);
    const message = (c.failure?.message ?? '').split('\n').filter((l) => l.trim() !== '');
    for (const l of message.slice(0, MESSAGE_LINES)) out.push(`    ${displayText(l)}`);
    if (message.length > MESSAGE_LINES) out.push(`    … ${message.length - MESSAGE_LINES} more lines`);
  }
  return out;
}

/** Lines of an assertion message shown under a failed case: a diff longer than that belongs to --test-output=all. */
const MESSAGE_LINES = 12;

/** `✓ app:test succeeded in 0.42s (local cache)`: the time is how long the test ran, back then for a cached result. */
function resultLine(d: Done, colors: Palette): string {
  if (d.outcome === undefined) return `${colors.red('✕')} ${d.target.address} ${colors.red('could not run')}`;
  const { result } = d.outcome;
  const took = formatDuration(result.executionMs ?? result.durationMs);
  const from = provenanceText(d.provenance, colors);
  const cases = casesSuffix(d.outcome);
  if (passed(d.outcome)) return `${colors.green('✓')} ${d.target.address} ${colors.green('succeeded')} in ${took} ${from}${cases}`;
  if (result.timedOut) return `${colors.red('✕')} ${d.target.address} ${colors.red(howItFailed(result, d.outcome.timeoutS))} ${from}${cases}`;
  return `${colors.red('✕')} ${d.target.address} ${colors.red('failed')} in ${took} ${from}${cases}`;
}

async function outputBlock(g: GoalContext, execution: GoalExecution, d: Done): Promise<string[]> {
  if (d.outcome === undefined) return [];
  const { store } = g.services();
  const lines: string[] = [];
  for (const [name, digest] of [
    ['stdout', d.outcome.result.stdout],
    ['stderr', d.outcome.result.stderr],
  ] as const) {
    const text = await outputExcerpt(store, digest, 200, execution.rc.signal);
    if (text.length === 0) continue;
    lines.push(`${d.target.address} ${name}:`, ...text.map((l) => `  ${l}`));
  }
  return lines;
}

/** `Cases: 41 passed, 1 failed, 2 skipped, 44 total`: the runners' cases of every test that reported them. */
function casesLine(cases: readonly TestCase[], colors: Palette): string {
  const n = countTestCases(cases);
  return countsLine(
    'Cases',
    [
      { count: n.passed, label: 'passed', tone: 'good' },
      { count: n.failed, label: 'failed', tone: 'bad' },
      { count: n.skipped, label: 'skipped' },
      { count: n.todo, label: 'todo' },
    ],
    n.total,
    0,
    colors,
  );
}

/** `--test-report-dir`: a JUnit XML file per test file with cases; `--test-use-coverage`: their lcov, merged. */
async function writeReports(g: GoalContext, execution: GoalExecution, done: readonly Done[]): Promise<void> {
  const dirOption = g.options.string('test', 'report_dir');
  if (dirOption !== '') {
    const dir = isAbsolute(dirOption) ? dirOption : resolve(g.root, dirOption);
    const byFile = new Map<string, TestCase[]>();
    for (const c of done.flatMap((d) => d.outcome?.cases ?? [])) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c]);
    for (const [file, cases] of byFile) {
      const dest = join(dir, `${file}.xml`);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, junitXml(file, cases));
    }
    if (byFile.size > 0) execution.print(`wrote ${byFile.size} JUnit XML report${byFile.size === 1 ? '' : 's'} under ${relative(g.root, dir) || '.'}`);
  }
  const lcov = done.flatMap((d) => (d.outcome?.coverage !== undefined ? [d.outcome.coverage] : []));
  if (g.options.bool('test', 'use_coverage') && lcov.length > 0) {
    // Pants writes coverage under dist/coverage too.
    const dest = join(g.root, 'dist', 'coverage', 'lcov.info');
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, mergeLcov(lcov));
    execution.print(`wrote coverage of ${lcov.length} test${lcov.length === 1 ? '' : 's'} to ${relative(g.root, dest)}`);
  }
}

export const testGoal: Goal = {
  name: 'test',
  help: 'Run the tests the specs select, in parallel (bounded by process_execution_local_parallelism), and report each as it finishes: passed, failed (with its output), or served from a cache; then the failures again and one summary line. Exits 1 if any test fails.',
  needsBuildRoot: true,
  // Reports and coverage are files written on every run, which a replay would not write.
  replayable: (options) => selectionReplayable(options) && options.string('test', 'report_dir') === '' && !options.bool('test', 'use_coverage'),
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
    registry.register({
      scope: 'test',
      name: 'batch_size',
      type: 'int',
      default: 128,
      help: 'The most test files one process runs when their targets share a `batch_compatibility_tag` (Pants\' option and default); files without a tag always run alone.',
      validate: (v) => (typeof v === 'number' && v < 1 ? `must be at least 1, got ${v}` : undefined),
    });
    registry.register({
      scope: 'test',
      name: 'report_dir',
      type: 'string',
      default: '',
      help: 'Where to write a JUnit XML report per test file whose runner reported its cases (`<dir>/<test file>.xml`), relative to the build root; cached results are reported too. Empty: no reports.',
    });
    registry.register({
      scope: 'test',
      name: 'use_coverage',
      type: 'bool',
      default: false,
      help: 'Measure coverage of the tests whose runner can (per-file JavaScript tests), and write it merged as lcov to dist/coverage/lcov.info. Coverage runs are cached apart from plain ones.',
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
    const execution = startExecution(g);
    const { rc, colors } = execution;
    // Natural order (p2 before p10): results that come at once (from a cache) print in it.
    const tests = selected.filter((t) => g.renv.rules.provides(t.type, TEST) && t.fields['skip_tests'] !== true).sort((a, b) => naturalCompare(a.address, b.address));
    if (tests.length === 0) {
      // As Pants: selecting no tests is not an error.
      execution.print(`no tests to run: none of the ${selected.length} target${selected.length === 1 ? '' : 's'} the specs select is a test`);
      await execution.finish();
      return 0;
    }
    const mode = g.options.enum<OutputMode>('test', 'output');
    // Under --loop, what the graph still holds was printed by an earlier iteration.
    const quietMemoized = g.iteration > 0;
    const done: Done[] = [];
    // Tests that could not run for one and the same reason (a build step they all need failed): told once.
    const blocked = new FailureGroups();
    execution.progress(0, tests.length, 'tests');
    // allSettled: on Ctrl-C every test's processes must be gone (and their
    // sandboxes removed) before the run returns, not only the first one's.
    const settled = await Promise.allSettled(
      tests.map(async (target) => {
        let d: Done;
        try {
          const outcome = await rc.serve(TEST, target, undefined);
          d = { target, outcome, provenance: execution.provenance(outcome.result, `test ${target.address}`) };
        } catch (e) {
          if (!isFailureError(e) || isAbortError(e) || rc.signal.aborted) throw e;
          d = { target, failure: e.failure };
        }
        const ok = d.outcome !== undefined && passed(d.outcome);
        const caseLines = ok ? [] : failedCases(d.outcome, colors);
        // Output only for a result shown: the block would otherwise be printed before its line.
        // Failed cases say what failed; the runner's own output of them is for --test-output=all.
        const block = d.outcome !== undefined && (mode === 'all' || (mode === 'failed' && !ok && caseLines.length === 0)) ? await outputBlock(g, execution, d) : [];
        done.push(d);
        execution.progress(done.length, tests.length, 'tests');
        // Each result as it finishes (Pants does too), so a long run shows failures early.
        if (d.failure !== undefined) {
          execution.print(blocked.add(target.address, resultLine(d, colors), d.failure, colors));
          return;
        }
        if (quietMemoized && d.provenance === 'memoized') return;
        const hints = !ok ? (d.outcome?.hints ?? []).map((h) => `  ${colors.yellow(displayText(h))}`) : [];
        execution.print([resultLine(d, colors), ...caseLines, ...block, ...hints].join('\n'));
      }),
    );
    const thrown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (thrown !== undefined) {
      await execution.finish();
      throw thrown.reason;
    }
    // The failures again, together, where the summary is: a long log need not be searched.
    const failed = done.filter((d) => d.outcome !== undefined && !passed(d.outcome)).sort((a, b) => naturalCompare(a.target.address, b.target.address));
    const recap = failed.flatMap((d) => [resultLine(d, colors), ...failedCases(d.outcome, colors)]);
    recap.push(...blocked.recap('test', 'could not run', colors));
    if (recap.length > 0) execution.print(['', ...recap].join('\n'));
    const couldNotRun = done.filter((d) => d.outcome === undefined).length;
    const memoized = done.filter((d) => d.provenance === 'memoized').length;
    const counts = countsLine(
      'Tests',
      [
        { count: done.length - failed.length - couldNotRun, label: 'passed', tone: 'good' },
        { count: failed.length, label: 'failed', tone: 'bad' },
        { count: couldNotRun, label: 'could not run', tone: 'bad' },
      ],
      done.length,
      memoized,
      colors,
    );
    const cases = done.flatMap((d) => d.outcome?.cases ?? []);
    await writeReports(g, execution, done);
    await execution.finish(cases.length === 0 ? counts : `${counts} · ${casesLine(cases, colors)}`);
    return failed.length === 0 && couldNotRun === 0 ? 0 : 1;
  },
};
