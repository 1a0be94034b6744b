// The daemon: one per build root, keeping the engine warm behind a Unix socket.
// The thin client imports from here too and is bundled, so modules it does not
// use must stay free of side effects (the native watcher is loaded on demand).
export {
  CONFIG_FILE,
  WORK_DIR,
  COOKIES_REL,
  daemonDir,
  childrenDir,
  daemonLogPath,
  cookiesDir,
  socketPathFor,
  maxSocketPathBytes,
  processTitle,
} from './layout.js';
export type { SocketPlace } from './layout.js';
export { DaemonUnavailableError, DaemonLostError, isDaemonUnavailable, isDaemonLost } from './errors.js';
export type { DaemonUnavailableReason } from './errors.js';
export { readMetadata, writeMetadata, removeMetadata, readPid, writeStartError, readStartError } from './metadata.js';
export type { DaemonMetadata, DaemonOptionsRecord } from './metadata.js';
export { processCommandLine, isProcessTitled } from './liveness.js';
export { acquireLaunchLock } from './launch-lock.js';
export {
  daemonStatus,
  clearStale,
  stopDaemon,
  daemonArgv,
  spawnDaemon,
  waitForStart,
  ensureDaemon,
  restartReason,
} from './process-manager.js';
export type { DaemonStatus, SpawnSpec, EnsureOptions, StopOptions } from './process-manager.js';
export { connectToDaemon, runOnDaemon } from './client.js';
export type { ConnectOptions, DaemonRunOptions } from './client.js';
export { createDaemonServer } from './server.js';
export type { DaemonServer, DaemonServerOptions, ServeFn } from './server.js';
export { startWatcher, nativeIgnorePatterns, describeWatchError, defaultBurstLimit, contentsPattern } from './watcher.js';
export type { ChangeBatch, ChangeListener, ChangeFeed, FileWatcher, WatchBackend, WatcherOptions } from './watcher.js';
export { WatchFilter, relativeEventPath } from './watch-filter.js';
export type { EventClass, PathKind } from './watch-filter.js';
export { findIgnoredDirs } from './ignored-dirs.js';
export type { IgnoredDirs } from './ignored-dirs.js';
export { openChildJournal, endLeftovers } from './child-journal.js';
export type { DaemonChildJournal, Leftovers } from './child-journal.js';
export { startDaemon } from './daemon.js';
export type { DaemonConfig, RunningDaemon, ServeExtras } from './daemon.js';
export type { IdleProof } from './quiet-check.js';
export { LOOP_RESTART_EXIT_CODE, NATIVE_CLIENT_COMMAND, NATIVE_FALLBACK_EXIT_CODE } from './exit-codes.js';
