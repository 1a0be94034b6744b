import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { closest, digestString, EMPTY_DIGEST, failure, FailureError, parseDigestString } from '../core/index.js';
import { workDirOf } from '../fs/index.js';
import { GLOBAL } from '../options/index.js';
import { compareRuns, consumedOutputs, criticalPath, diffFiles, parseTrace, renderTimelinePage, type InputDiff, type TimelineJson, type TimelineRun } from '../graph-page/index.js';
import { listTree, type BlobStore } from '../store/index.js';
import { listRuns, readRun, runsDirIn, type RunFile } from '../ui/index.js';
import type { GoalContext } from './goal.js';

/** The timeline page's script, bundled by scripts/bundle.mjs next to dist/src. */
const TIMELINE_SCRIPT = new URL('../../timeline-page.js', import.meta.url);

/**
 * `trews graph --runs [--run=ID] [--compare=ID]`: the recorded run (the
 * latest by default) and the one it is compared with (the one before it by
 * default), as the timeline page.
 */
export async function timelinePage(
  g: GoalContext,
  chosenIds: { readonly run: string | null; readonly compare: string | null } = { run: g.options.maybeString('graph', 'run'), compare: g.options.maybeString('graph', 'compare') },
): Promise<{ html: string; json: string; summary: string }> {
  const dir = runsDirIn(workDirOf(g.root));
  const runs = await listRuns(dir).catch((e: unknown) => {
    throw new FailureError(failure('environment', 'run-history', `cannot read the recorded runs in ${dir}: ${(e as Error).message}`));
  });
  if (runs.length === 0) {
    throw new FailureError(
      failure('input', 'no-runs', `no recorded run in ${dir}`, {
        hints: ['runs that run processes are recorded there, e.g. `trews test ::`', g.options.int(GLOBAL, 'run_history') === 0 ? 'run_history is 0: set it above 0 to keep runs' : 'the run_history option says how many are kept'],
      }),
    );
  }
  const chosen = pick(runs, chosenIds.run, 'run') ?? runs[0]!;
  const compareId = chosenIds.compare;
  const previousFile = compareId !== null ? pick(runs, compareId, 'compare') : runs[runs.indexOf(chosen) + 1];
  const run = await load(chosen);
  const previous = previousFile !== undefined ? await load(previousFile) : null;
  const trees = treeReader(g.services().store);
  const analysis = await analyse(trees, run, previous);
  const data: TimelineJson = { version: 1, title: basename(g.root), run, previous, runs: runs.map((r) => ({ id: r.id, startedAt: r.startedAt })), ...analysis };
  const html = renderTimelinePage(data, await timelineScript());
  return { html, json: JSON.stringify(data), summary: `run ${run.id}: ${run.bars.length} processes` };
}

type TreeReader = (digest: string | undefined) => Promise<ReadonlyMap<string, string> | undefined>;

/**
 * The files (path → contents digest) of a recorded tree, read once per
 * digest; undefined when the trace names none or the store no longer holds
 * all of it (collected by `trews gc`, or the run used another store).
 */
function treeReader(store: BlobStore): TreeReader {
  const read = new Map<string, Promise<ReadonlyMap<string, string> | undefined>>();
  return (digest) => {
    if (digest === undefined) return Promise.resolve(undefined);
    let files = read.get(digest);
    if (files === undefined) {
      const parsed = parseDigestString(digest);
      files =
        parsed === undefined
          ? Promise.resolve(undefined)
          : listTree(store, parsed).then(
              (entries) => new Map(entries.flatMap((e) => (e.kind === 'file' ? [[e.path, digestString(e.digest)] as const] : []))),
              () => undefined,
            );
      read.set(digest, files);
    }
    return files;
  };
}

/**
 * What the trees in the store add to the timings: which process consumed
 * another's outputs, the critical path those make, and the files behind
 * each "inputs differ" against the earlier run.
 */
async function analyse(trees: TreeReader, run: TimelineRun, previous: TimelineRun | null): Promise<Pick<TimelineJson, 'waitedFor' | 'critical' | 'inputDiffs'>> {
  const contents = async (digest: string | undefined): Promise<ReadonlySet<string> | undefined> => {
    const files = await trees(digest);
    return files === undefined ? undefined : new Set(files.values());
  };
  const inputs = await Promise.all(run.bars.map((b) => contents(b.inputRootDigest)));
  const outputs = await Promise.all(run.bars.map((b) => contents(b.outputRootDigest)));
  const waitedFor = consumedOutputs(run.bars, inputs, outputs, new Set([digestString(EMPTY_DIGEST)]));
  const critical = criticalPath(run.bars, waitedFor);
  const inputDiffs: Record<string, InputDiff> = {};
  if (previous !== null) {
    for (const change of compareRuns(previous, run)) {
      if (change.reason !== 'inputs differ') continue;
      const [before, now] = await Promise.all([trees(change.inputRootBefore), trees(change.inputRootNow)]);
      inputDiffs[change.description] =
        before === undefined || now === undefined
          ? { unavailable: `the ${before === undefined ? 'earlier' : 'current'} input files are no longer in the local store (trews gc, or another store)` }
          : diffFiles(before, now);
    }
  }
  return { waitedFor, critical, inputDiffs };
}

function pick(runs: readonly RunFile[], id: string | null, flag: string): RunFile | undefined {
  if (id === null) return undefined;
  const exact = runs.find((r) => r.id === id);
  if (exact !== undefined) return exact;
  // A prefix of 4 or more characters names the one run it begins; two runs that share it make it ambiguous.
  const prefixed = id.length >= 4 ? runs.filter((r) => r.id.startsWith(id)) : [];
  if (prefixed.length === 1) return prefixed[0];
  if (prefixed.length > 1) {
    throw new FailureError(failure('input', 'ambiguous-run', `\`--${flag}=${id}\` begins ${prefixed.length} recorded runs`, { exitCode: 2, hints: [`name one of them whole: ${prefixed.map((r) => r.id).join(', ')}`] }));
  }
  const guess = closest(id, runs.map((r) => r.id));
  throw new FailureError(
    failure('input', 'unknown-run', `\`--${flag}=${id}\` names no recorded run`, {
      exitCode: 2,
      hints: [guess !== undefined ? `did you mean ${guess}?` : `the recorded runs, newest first: ${runs.slice(0, 10).map((r) => r.id).join(', ')}`],
    }),
  );
}

async function load(file: RunFile): Promise<TimelineRun> {
  let text: string;
  try {
    text = await readRun(file);
  } catch (e) {
    throw new FailureError(failure('environment', 'run-history', `cannot read the recorded run ${file.path}: ${(e as Error).message}`));
  }
  try {
    return parseTrace(file.id, text);
  } catch (e) {
    throw new FailureError(failure('input', 'bad-run-file', `${file.path} is no run trews recorded: ${(e as Error).message}`, { hints: ['remove the file; trews writes the history whole, so another program wrote it'] }));
  }
}

async function timelineScript(): Promise<string> {
  try {
    return await readFile(TIMELINE_SCRIPT, 'utf8');
  } catch (e) {
    throw new FailureError(failure('internal', 'graph-page-missing', `the timeline page's script is missing (${TIMELINE_SCRIPT.pathname}): ${(e as Error).message}`, { hints: ['build trews with `npm run build`'] }));
  }
}
