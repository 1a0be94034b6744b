import { availableParallelism, tmpdir } from 'node:os';
import type { Logger } from '../core/index.js';
import { GLOBAL, type Options } from '../options/index.js';
import type { LocalStore } from '../store/index.js';
import { createBoundedRunner } from './bounded-runner.js';
import { createFlushInputsRunner } from './flush-inputs-runner.js';
import { createLocalCacheRunner } from './local-cache-runner.js';
import { createLocalRunner, type KeepSandboxes } from './local-runner.js';
import { createPerRunRunner } from './per-run-runner.js';
import { defaultSandboxRoot } from './sandbox-dir.js';
import type { CommandRunner } from './types.js';

/**
 * Where remote layers plug in (built by remote/client, which exec must not
 * import):
 * - `wrapCache` wraps whatever executes processes with remote cache read
 *   and/or write. It sits under the local cache, so a remote hit is also
 *   written to the local one and the next lookup stays local.
 * - `execution` replaces the bounded local sandbox: processes run on the
 *   remote server. It bounds its own concurrency
 *   (`process_execution_remote_parallelism`).
 */
export interface RemoteRunners {
  readonly wrapCache?: (inner: CommandRunner) => CommandRunner;
  readonly execution?: CommandRunner;
}

export interface MakeCommandRunnerOptions {
  readonly options: Options;
  readonly store: LocalStore;
  readonly logger: Logger;
  /** Where local sandboxes go; default `<os tmpdir>/trews-<uid>/sandboxes`, private to this user (checked before use). */
  readonly sandboxRoot?: string;
  readonly remote?: RemoteRunners;
}

/**
 * The one place the runner stack is assembled from options:
 *
 *   per-run memo → local cache → [remote cache] → bounded(process_execution_local_parallelism) → local sandbox
 *                                               ↘ or remote execution
 *
 * The per-run memo is outermost so a `per-run` process (never cached) runs
 * once per run; the local cache comes before anything slow; the bound is
 * innermost so a cache hit never waits for an execution slot.
 */
export function makeCommandRunner(o: MakeCommandRunnerOptions): CommandRunner {
  const parallelism = o.options.maybeInt(GLOBAL, 'process_execution_local_parallelism') ?? availableParallelism();
  const keepSandboxes = o.options.enum<KeepSandboxes>(GLOBAL, 'keep_sandboxes');
  const sandboxRoot = o.sandboxRoot ?? defaultSandboxRoot(tmpdir(), process.getuid?.());

  const executor =
    (o.remote?.execution !== undefined ? createFlushInputsRunner(o.remote.execution, o.store) : undefined) ??
    createBoundedRunner(createLocalRunner({ store: o.store, sandboxRoot, keepSandboxes, logger: o.logger }), parallelism);
  const cached = o.remote?.wrapCache?.(executor) ?? executor;
  return createPerRunRunner(createLocalCacheRunner(cached, o.store));
}
