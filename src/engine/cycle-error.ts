import { FailureError, failure } from '../core/index.js';
import type { AnyKey } from './types.js';

/**
 * A computation asked, directly or through others, for its own result. It is the
 * user's problem (a BUILD file making two targets depend on each other), so it is
 * an `input` failure; it names every node on the cycle so the message is
 * actionable without a debugger.
 */
export class EngineCycleError extends FailureError {
  /** Descriptions of the nodes on the cycle, the first repeated at the end: `[a, b, c, a]`. */
  readonly path: readonly string[];
  /** The keys on the cycle, in the same order as `path` (the first repeated at the end). */
  readonly keys: readonly AnyKey<unknown>[];

  constructor(path: readonly string[], keys: readonly AnyKey<unknown>[] = []) {
    super(
      failure('input', 'cycle', `dependency cycle: ${path.join(' -> ')}`, {
        hints: ['break the cycle by removing one of these dependencies'],
      }),
    );
    this.name = 'EngineCycleError';
    this.path = path;
    this.keys = keys;
  }
}
