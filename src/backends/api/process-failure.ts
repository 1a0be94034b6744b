import { failure, type Digest, type Failure, type Location } from '../../core/index.js';
import type { LocalStore } from '../../store/index.js';
import { formatDuration } from '../../ui/index.js';
import type { ProcessResult } from '../../exec/index.js';

/** Lines of a process's output shown in a failure; the full text is in the store (and in a kept sandbox). */
const EXCERPT_LINES = 40;

/**
 * The last `maxLines` lines of a captured stream, as text (empty when it
 * was empty), with a note of how many lines were left out.
 */
export async function outputExcerpt(store: LocalStore, digest: Digest, maxLines = EXCERPT_LINES, signal?: AbortSignal): Promise<string[]> {
  if (digest.sizeBytes === 0) return [];
  const bytes = await store.getBytes(digest, signal);
  if (bytes === undefined) return ['(output no longer in the local store)'];
  let text = Buffer.from(bytes).toString('utf8');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  const lines = text.split('\n');
  if (lines.length <= maxLines) return lines;
  return [`… ${lines.length - maxLines} earlier lines not shown`, ...lines.slice(-maxLines)];
}

/** `exit code 3`, or `timed out after 30s`. */
export function howItFailed(result: ProcessResult, timeoutS: number | null): string {
  if (result.timedOut) return `timed out after ${timeoutS !== null ? `${timeoutS}s` : formatDuration(result.executionMs ?? result.durationMs)}`;
  return `exit code ${result.exitCode}`;
}

/**
 * The failure of a build step whose process did not succeed: what ran, how
 * it ended, and the end of its stdout and stderr.
 */
export async function processFailure(
  store: LocalStore,
  what: string,
  result: ProcessResult,
  timeoutS: number | null,
  location: Location | undefined,
  signal?: AbortSignal,
): Promise<Failure> {
  const notes: string[] = [];
  for (const [name, digest] of [
    ['stdout', result.stdout],
    ['stderr', result.stderr],
  ] as const) {
    const lines = await outputExcerpt(store, digest, EXCERPT_LINES, signal);
    if (lines.length === 0) continue;
    notes.push(`${name}:`);
    for (const l of lines) notes.push(`  ${l}`);
  }
  const timedOut = result.timedOut;
  return failure('input', timedOut ? 'process-timed-out' : 'process-failed', `${what} failed: ${howItFailed(result, timeoutS)}`, {
    ...(location ? { location } : {}),
    notes,
    hints: [
      timedOut
        ? 'raise its `timeout` (seconds), or make it faster'
        : 'run with --keep-sandboxes=on_failure to keep its sandbox, with a __run.sh that reproduces it',
    ],
  });
}
