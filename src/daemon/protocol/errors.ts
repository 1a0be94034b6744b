/**
 * Why a peer's bytes could not be understood. Stable: the daemon logs and tests
 * switch on it, never on `message`.
 */
export type ProtocolErrorReason =
  | 'unknown-chunk-type'
  | 'payload-too-large'
  | 'truncated'
  | 'unexpected-chunk'
  | 'missing-working-directory'
  | 'malformed-environment'
  | 'malformed-exit-code';

/**
 * The peer broke the Nailgun protocol. It is a value a session hands back (or
 * rejects with), never something that escapes into the daemon: the connection it
 * came from is closed and every other connection carries on.
 */
export class ProtocolError extends Error {
  readonly reason: ProtocolErrorReason;
  constructor(reason: ProtocolErrorReason, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}

export type ConnectionClosedReason = 'peer-closed' | 'socket-error' | 'heartbeat-timeout' | 'preamble-timeout' | 'closed-by-server' | 'aborted';

/**
 * The connection ended at a chunk boundary before the exchange was complete: the
 * client went away before its command finished, or the daemon before it sent an
 * exit code. Distinct from ProtocolError because nothing malformed was received.
 */
export class ConnectionClosedError extends Error {
  readonly reason: ConnectionClosedReason;
  constructor(reason: ConnectionClosedReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionClosedError';
    this.reason = reason;
  }
}

export function isProtocolError(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError;
}

export function isConnectionClosedError(e: unknown): e is ConnectionClosedError {
  return e instanceof ConnectionClosedError;
}
