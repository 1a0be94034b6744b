// The Nailgun protocol, shared by the daemon's server and the thin client. The
// thin client is bundled on its own, so nothing here may import beyond Node's
// built-ins (not even core).
export {
  ChunkType,
  HEADER_BYTES,
  MAX_WIRE_PAYLOAD_BYTES,
  DEFAULT_MAX_PAYLOAD_BYTES,
  isChunkType,
  encodeChunk,
  ChunkDecoder,
} from './codec.js';
export type { Chunk, ChunkDecoderOptions, DecodeResult, EndResult } from './codec.js';
export { ProtocolError, ConnectionClosedError, isProtocolError, isConnectionClosedError } from './errors.js';
export type { ProtocolErrorReason, ConnectionClosedReason } from './errors.js';
export { encodeExit, decodeExitCode } from './exit-code.js';
export type { ExitCodeResult } from './exit-code.js';
export { RequestBuilder, encodeRequest } from './preamble.js';
export type { NailgunRequest, RequestStep } from './preamble.js';
export {
  TTY_ENV_PREFIX,
  TTY_PATH_ENV_PREFIX,
  TERMINAL_COLUMNS_ENV,
  TERMINAL_LINES_ENV,
  terminalEnv,
  terminalFromEnv,
  isNailgunEnvKey,
  withoutNailgunEnv,
} from './tty-env.js';
export type { StdStream, ClientTerminal, TerminalInfo } from './tty-env.js';
export { acceptSession } from './server-session.js';
export type { ServerSession, ServerSessionOptions, AcceptResult } from './server-session.js';
export { runClientSession, DEFAULT_HEARTBEAT_INTERVAL_MS } from './client-session.js';
export type { ClientSessionOptions } from './client-session.js';
