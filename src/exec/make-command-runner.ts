import { availableParallelism, tmpdir } from 'node:os';
import { FailureError, failure, type Logger } from '../core/index.js';
import { GLOBAL, SANDBOX_SCOPE, type Options } from '../options/index.js';
import type { LocalStore } from '../store/index.js';
import { createBoundedRunner } from './bounded-runner.js';
import { createLocalCacheRunner } from './local-cache-runner.js';
import { createLocalRunner, type KeepSandboxes } from './local-runner.js';
import { createPerRunRunner } from './per-run-runner.js';
import { persistentWorkers } from './persistent-workers.js';
import { defaultSandboxRoot } from './sandbox-dir.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

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
  /**
   * Remote execution for processes of a remote environment only
   * (`Process.remoteEnvironment`), when `remote_execution` is off but
   * `remote_execution_server` is set; the others run locally.
   */
  readonly environmentExecution?: CommandRunner;
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
  // Registered by the CLI; a registry without it (some tests) means no tracing.
  const explain = o.options.registry.options(SANDBOX_SCOPE).some((s) => s.name === 'explain') && o.options.bool(SANDBOX_SCOPE, 'explain');
  const sandboxRoot = o.sandboxRoot ?? defaultSandboxRoot(tmpdir(), process.getuid?.());

  // Remote executors upload the input root as this process holds it: what a snapshot only
  // staged goes from memory (store/staged-read.ts), and reaches the local store at the next flush.
  const executor =
    o.remote?.execution ??
    routeByEnvironment(createBoundedRunner(createLocalRunner({ store: o.store, sandboxRoot, keepSandboxes, logger: o.logger, explain, ...(explain ? {} : { workers: persistentWorkers() }) }), parallelism), o.remote?.environmentExecution);
  const cached = o.remote?.wrapCache?.(executor) ?? executor;
  return createPerRunRunner(createLocalCacheRunner(cached, o.store));
}

/**
 * Sends the processes of remote environments to `remote`, the others to
 * `local`. Rules check before planning that a remote environment has a
 * server (backends/api/environments.ts); reaching here without one is a
 * process made by hand, refused rather than run on this machine, whose
 * platform it did not ask for.
 */
function routeByEnvironment(local: CommandRunner, remote: CommandRunner | undefined): CommandRunner {
  return {
    run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
      if (proc.remoteEnvironment === undefined) return local.run(ctx, proc);
      if (remote !== undefined) return remote.run(ctx, proc);
      return Promise.reject(
        new FailureError(
          failure('input', 'environment-needs-remote-server', `${proc.description}: its environment \`${proc.remoteEnvironment}\` runs processes remotely, and remote_execution_server is not set`, {
            hints: ['set remote_execution_server (and remote_store_server) in [GLOBAL] of trews.toml; remote_execution itself may stay off'],
          }),
        ),
      );
    },
  };
}
