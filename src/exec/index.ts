export type {
  CacheScope,
  Isolation,
  CommandRunner,
  ExecContext,
  PlatformProperty,
  Process,
  ProcessObservation,
  ProcessObserver,
  ProcessResult,
  SharedInput,
  PersistentWorkerHint,
  LocalCache,
  ResultSource,
} from './types.js';
export { makeProcess, validateProcess, assertValidProcess, isCacheableResult, EMPTY_INPUT_ROOT, type ProcessInit } from './process.js';
export { toAction, STRICT_SALT, STRICT_NETWORK_SALT, type ProcessAction } from './to-action.js';
export { observed } from './observe.js';
export { createLocalRunner, type LocalRunnerOptions, type KeepSandboxes } from './local-runner.js';
export { createBoundedRunner, type BoundedRunner } from './bounded-runner.js';
export { createLocalCacheRunner, executionMsOf } from './local-cache-runner.js';
export { createPerRunRunner } from './per-run-runner.js';
export { makeCommandRunner, type MakeCommandRunnerOptions, type RemoteRunners } from './make-command-runner.js';
export { ProcessKey, EXEC_RUN, type ExecRun } from './process-key.js';
export { setChildJournal, trackGroup, untrackGroup, signalGroup, processStartTime, endRecordedGroup, type ChildJournal } from './process-group.js';
export { removeLeftSandboxDir } from './sandbox-dir.js';
export { PersistentWorkers, persistentWorkers, type WorkerKey, type WorkerRequest, type WorkerOutcome } from './persistent-workers.js';
