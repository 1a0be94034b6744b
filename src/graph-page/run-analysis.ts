/**
 * What a recorded run's digests say beyond its timings: which process
 * consumed another's outputs (so waited for it), the chain of those that set
 * the run's length (its critical path), and which files differ between two
 * input roots. Pure: the goal reads the trees from the store and hands their
 * contents here; the page draws the answers.
 */
import type { TimelineBar } from './timeline.js';

/** A file of an input root that another run's input root holds with other contents, or not at all. */
export interface FileChange {
  readonly path: string;
  readonly change: 'added' | 'removed' | 'changed';
}

/** Why a process's inputs differ from the earlier run's, file by file, or why that cannot be told. */
export type InputDiff =
  | { readonly files: readonly FileChange[]; /** Changes left out of `files` to keep the page small. */ readonly more: number }
  | { readonly unavailable: string };

/**
 * A process waited for another when its input root holds a file whose
 * contents the other wrote as an output, and the other had finished when it
 * started. Contents, not names, decide (a step's output lands in its
 * consumer's inputs under another path); so that contents many processes
 * have anyway do not tie processes that never waited for each other, a
 * producer that had the contents among its own inputs (it passed them on) is
 * not their origin, contents some process had before any origin of them
 * finished existed without it (a source file, an empty file) and tie
 * nothing, and neither do the contents in `ignore`.
 *
 * `inputs[i]` and `outputs[i]` are the file digests of bar i's input and
 * output roots (undefined when not known: no digest recorded, or the tree is
 * no longer in the store). Returns, per bar, the bars it waited for.
 */
export function consumedOutputs(
  bars: readonly Pick<TimelineBar, 'start' | 'dur'>[],
  inputs: readonly (ReadonlySet<string> | undefined)[],
  outputs: readonly (ReadonlySet<string> | undefined)[],
  ignore: ReadonlySet<string> = new Set(),
): number[][] {
  const origins = new Map<string, number[]>();
  outputs.forEach((files, j) => {
    for (const f of files ?? []) {
      if (ignore.has(f) || inputs[j]?.has(f) === true) continue;
      const list = origins.get(f);
      if (list === undefined) origins.set(f, [j]);
      else list.push(j);
    }
  });
  const firstMade = new Map<string, number>();
  for (const [f, js] of origins) firstMade.set(f, Math.min(...js.map((j) => end(bars[j]!))));
  const independent = new Set<string>();
  inputs.forEach((files, i) => {
    for (const f of files ?? []) {
      const made = firstMade.get(f);
      if (made !== undefined && bars[i]!.start < made) independent.add(f);
    }
  });
  return inputs.map((files, i) => {
    const waited = new Set<number>();
    for (const f of files ?? []) {
      if (independent.has(f)) continue;
      for (const j of origins.get(f) ?? []) if (j !== i && end(bars[j]!) <= bars[i]!.start) waited.add(j);
    }
    return [...waited].sort((a, b) => a - b);
  });
}

const end = (b: Pick<TimelineBar, 'start' | 'dur'>): number => b.start + b.dur;

/**
 * The chain that set the run's length: from the process that finished last,
 * back through the process each one waited for that finished last (the one
 * that held it up), to one that waited for none. First to last; empty when
 * no process took time.
 */
export function criticalPath(bars: readonly Pick<TimelineBar, 'start' | 'dur' | 'source'>[], waitedFor: readonly (readonly number[])[]): number[] {
  let last = -1;
  bars.forEach((b, i) => {
    if (b.source === 'memoized' || b.dur <= 0) return;
    if (last < 0 || end(b) > end(bars[last]!)) last = i;
  });
  if (last < 0) return [];
  const path = [last];
  const seen = new Set(path);
  for (;;) {
    const deps = (waitedFor[path.at(-1)!] ?? []).filter((j) => !seen.has(j));
    if (deps.length === 0) break;
    const next = deps.reduce((a, b) => (end(bars[b]!) > end(bars[a]!) ? b : a));
    path.push(next);
    seen.add(next);
  }
  return path.reverse();
}

/** The files (path → contents digest) that differ from `before` to `now`, by path; at most `limit`, the rest counted. */
export function diffFiles(before: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>, limit = 20): InputDiff {
  const changes: FileChange[] = [];
  for (const [path, digest] of now) {
    const was = before.get(path);
    if (was === undefined) changes.push({ path, change: 'added' });
    else if (was !== digest) changes.push({ path, change: 'changed' });
  }
  for (const path of before.keys()) if (!now.has(path)) changes.push({ path, change: 'removed' });
  changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: changes.slice(0, limit), more: Math.max(0, changes.length - limit) };
}
