import { FailureError, failure } from '../core/index.js';

/**
 * A run cannot start while runs with other inputs are live: the graph holds
 * one value per input, and the live runs are reading theirs. The caller
 * waits for `Engine.whenIdle()` and tries again (a daemon does, up to its
 * `daemon_timeout_when_multiple_invocations`).
 */
export class RunConflictError extends FailureError {
  /** How many live runs brought other inputs. */
  readonly live: number;

  constructor(live: number, hints: readonly string[] = ['wait for it to finish, or run with the same options and environment variables']) {
    super(
      failure('environment', 'run-conflict', `${live === 1 ? 'a run' : `${live} runs`} with other options or environment variables ${live === 1 ? 'is' : 'are'} in progress`, {
        hints: [...hints],
      }),
    );
    this.name = 'RunConflictError';
    this.live = live;
  }
}
