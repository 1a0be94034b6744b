import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TraceRecorder } from './trace-recorder.js';

/**
 * The traces of the last runs, one file each under `.trews.d/runs/`, named
 * `<UTC time>-<id>.json` so that names sort by time and a person can tell
 * them apart. The format is the `--trace` one; `trews graph --runs` reads them.
 */

/** `20261205T002117123Z-1a2b3c4d.json`; the temp files of a write in progress never match. */
const RUN_FILE = /^(\d{8}T\d{9}Z)-([0-9a-z]{1,32})\.json$/;
/** The temp file of a run's write (TraceRecorder.write): `<run file>.<hex>.tmp`. */
const TEMP_FILE = /^\d{8}T\d{9}Z-[0-9a-z]{1,32}\.json\.[0-9a-f]+\.tmp$/;
/** A temp file older than this was left by a run that died mid-write: no write takes this long. */
const STALE_TEMP_MS = 10 * 60 * 1000;

export interface RunFile {
  /** `1a2b3c4d`: what `--run=ID` names. */
  readonly id: string;
  /** The file's name, which sorts by the run's start. */
  readonly name: string;
  readonly path: string;
  /** ISO 8601, from the name. */
  readonly startedAt: string;
}

/** `<work dir>/runs`: where the history lives (the work dir is `.trews.d`). */
export function runsDirIn(workDir: string): string {
  return join(workDir, 'runs');
}

export function runFileName(startedAt: Date, id: string): string {
  return `${startedAt.toISOString().replace(/[-:.]/g, '')}-${id}.json`;
}

function parseRunFile(dir: string, name: string): RunFile | undefined {
  const m = RUN_FILE.exec(name);
  if (m === null) return undefined;
  const t = m[1]!;
  const startedAt = `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}.${t.slice(15, 18)}Z`;
  return { id: m[2]!, name, path: join(dir, name), startedAt };
}

/** The recorded runs in `dir`, newest first; none when the directory does not exist. */
export async function listRuns(dir: string): Promise<RunFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .map((n) => parseRunFile(dir, n))
    .filter((r): r is RunFile => r !== undefined)
    .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

/**
 * Writes the run's trace into `dir` (whole: a temp file renamed) and removes
 * all but the newest `keep`. Another run (a daemon's concurrent client) may
 * prune at the same moment: a file already gone is no error.
 */
export async function recordRun(dir: string, recorder: TraceRecorder, id: string, keep: number): Promise<string> {
  const path = join(dir, runFileName(recorder.startedAt, id));
  await recorder.write(path);
  await pruneRuns(dir, keep);
  return path;
}

export async function pruneRuns(dir: string, keep: number, nowMs = Date.now()): Promise<void> {
  const runs = await listRuns(dir);
  for (const r of runs.slice(Math.max(0, keep))) await removeIfThere(r.path);
  // A run killed between writing its temp file and renaming it leaves the temp file; nothing else would remove it.
  for (const name of await readdir(dir)) {
    if (!TEMP_FILE.test(name)) continue;
    const path = join(dir, name);
    const mtime = await stat(path).then((s) => s.mtimeMs, () => undefined);
    if (mtime !== undefined && nowMs - mtime > STALE_TEMP_MS) await removeIfThere(path);
  }
}

async function removeIfThere(path: string): Promise<void> {
  await unlink(path).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  });
}

/** The text of one recorded run. */
export function readRun(run: RunFile): Promise<string> {
  return readFile(run.path, 'utf8');
}
