/**
 * Why a client could not get its command to a daemon. Each of these happens
 * before the daemon has produced any output, so the client may still run the
 * command itself; `message` is the one-line reason it prints when it does.
 */
export type DaemonUnavailableReason =
  | 'lock-timeout'
  | 'spawn-failed'
  | 'exited-at-start'
  | 'start-timeout'
  | 'stop-failed'
  | 'connect-failed'
  | 'no-answer'
  | 'work-dir';

export class DaemonUnavailableError extends Error {
  readonly reason: DaemonUnavailableReason;
  constructor(reason: DaemonUnavailableReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DaemonUnavailableError';
    this.reason = reason;
  }
}

export function isDaemonUnavailable(e: unknown): e is DaemonUnavailableError {
  return e instanceof DaemonUnavailableError;
}

/**
 * The daemon went away while it was serving the command (killed, crashed, or
 * stopped answering): output may already have been written, so the command must
 * not be run again behind the user's back.
 */
export class DaemonLostError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DaemonLostError';
  }
}

export function isDaemonLost(e: unknown): e is DaemonLostError {
  return e instanceof DaemonLostError;
}
