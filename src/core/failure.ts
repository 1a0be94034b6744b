/**
 * A failure the user can act on. `tag` says whose problem it is:
 * - `input`: the user's files, flags or options are wrong (exit 1 or 2);
 * - `environment`: the machine or network is (missing tool, unreachable server, disk full);
 * - `internal`: a bug in trews (printed with the log path).
 */
export type FailureTag = 'input' | 'environment' | 'internal';

/** Where a failure happened in a source file. Lines and columns are 1-based. */
export interface Location {
  readonly file: string;
  readonly line?: number;
  readonly col?: number;
  /** The full text of `line`, so the printer can draw a caret without reading the file again. */
  readonly lineText?: string;
  /** How many characters to underline from `col` (at least 1). */
  readonly length?: number;
}

export interface Failure {
  readonly tag: FailureTag;
  /** Stable, machine-readable: tests and callers switch on it, never on `message`. */
  readonly reason: string;
  /** One line: what went wrong. */
  readonly message: string;
  readonly location?: Location;
  /** What to do about it: `did you mean //lib:util?`, `run git fetch`. */
  readonly hints?: readonly string[];
  /** Extra context shown under the message, e.g. the chain of dependencies that led here. */
  readonly notes?: readonly string[];
  /** Exit code to use when this failure ends a run (default: 1; usage errors use 2). */
  readonly exitCode?: number;
}

export function failure(
  tag: FailureTag,
  reason: string,
  message: string,
  extra: Omit<Failure, 'tag' | 'reason' | 'message'> = {},
): Failure {
  return { tag, reason, message, ...extra };
}

/**
 * Carries an expected Failure through code that cannot return a Result, such as an
 * engine computation several calls deep. The run boundary turns it back into a
 * rendered diagnostic; anything else that is thrown is a bug.
 */
export class FailureError extends Error {
  readonly failure: Failure;
  constructor(f: Failure) {
    super(f.message);
    this.name = 'FailureError';
    this.failure = f;
  }
}

export function raise(f: Failure): never {
  throw new FailureError(f);
}

export function isFailureError(e: unknown): e is FailureError {
  return e instanceof FailureError;
}

/** True for the error an AbortSignal produces, whatever the reason it was given. */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || (e as { code?: unknown }).code === 'ABORT_ERR');
}

/** An AbortError, as thrown when a run is cancelled. */
export function abortError(message = 'the run was cancelled'): Error {
  const e = new Error(message);
  e.name = 'AbortError';
  return e;
}
