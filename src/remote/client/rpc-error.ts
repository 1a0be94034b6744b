import { createRegistry } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import type { Metadata, ServiceError } from '@grpc/grpc-js';
import {
  Code,
  PreconditionFailureSchema,
  RetryInfoSchema,
  StatusSchema,
  decodeMessage,
  file_google_rpc_error_details,
  type PreconditionFailure,
  type Status,
} from '../../reapi/index.js';

/**
 * A failed call, with what a person needs to act on it: which server, which
 * call, which status, the server's message. Details from
 * `grpc-status-details-bin` (a google.rpc.Status) are decoded, since REAPI
 * puts PreconditionFailure (missing blobs) and RetryInfo there.
 */
export class RpcError extends Error {
  readonly code: Code;
  /** `remote_store_server grpc://host:8980`. */
  readonly server: string;
  /** `ContentAddressableStorage.FindMissingBlobs`. */
  readonly method: string;
  readonly serverMessage: string;
  readonly details: Status | undefined;

  constructor(code: Code, server: string, method: string, serverMessage: string, details?: Status) {
    super(`${method} on ${server} failed: ${codeName(code)}${serverMessage !== '' ? `: ${serverMessage}` : ''}`);
    this.name = 'RpcError';
    this.code = code;
    this.server = server;
    this.method = method;
    this.serverMessage = serverMessage;
    this.details = details;
  }
}

export function isRpcError(e: unknown): e is RpcError {
  return e instanceof RpcError;
}

export function codeName(code: number): string {
  return Code[code] ?? `status ${code}`;
}

const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** Turns a grpc-js error into an RpcError; anything else (a bug) passes through. */
export function fromServiceError(e: unknown, server: string, method: string): unknown {
  if (isRpcError(e)) return e;
  const se = e as Partial<ServiceError>;
  if (typeof se?.code !== 'number') return e;
  // grpc-js appends an empty "Resolution note:" to connection errors.
  const message = (se.details ?? '').replace(/\s*Resolution note:\s*$/, '').replace(/\.$/, '');
  return new RpcError(se.code as number as Code, server, method, message, detailsOf(se.metadata));
}

function detailsOf(md: Metadata | undefined): Status | undefined {
  const raw = md?.get(STATUS_DETAILS_KEY)[0];
  if (raw === undefined || typeof raw === 'string') return undefined;
  const s = decodeMessage(StatusSchema, raw);
  return s.ok ? s.value : undefined;
}

const registry = createRegistry(file_google_rpc_error_details);

/** The MISSING violations of a PreconditionFailure in `status`, as `blobs/{hash}/{size}` subjects; empty when there are none. */
export function missingBlobSubjects(status: Status | undefined): string[] {
  const out: string[] = [];
  for (const pf of preconditionFailures(status)) {
    for (const v of pf.violations) if (v.type === 'MISSING') out.push(v.subject);
  }
  return out;
}

function preconditionFailures(status: Status | undefined): PreconditionFailure[] {
  const out: PreconditionFailure[] = [];
  for (const any of status?.details ?? []) {
    try {
      const m = anyUnpack(any, PreconditionFailureSchema);
      if (m !== undefined) out.push(m);
    } catch {
      // A detail we cannot decode tells us nothing we can act on.
    }
  }
  return out;
}

/** The server's requested delay (RetryInfo), which REAPI says clients SHOULD respect. */
export function retryDelayMs(status: Status | undefined): number | undefined {
  for (const any of status?.details ?? []) {
    try {
      const m = anyUnpack(any, RetryInfoSchema);
      const d = m?.retryDelay;
      if (d !== undefined) return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
    } catch {
      // ignore undecodable details
    }
  }
  return undefined;
}

/** A short description of every detail we can name, for error messages. */
export function describeDetails(status: Status | undefined): string[] {
  const out: string[] = [];
  for (const any of status?.details ?? []) {
    try {
      const m = anyUnpack(any, registry);
      if (m === undefined) continue;
      if (m.$typeName === 'google.rpc.PreconditionFailure') {
        for (const v of (m as PreconditionFailure).violations) out.push(`${v.type} ${v.subject}${v.description ? `: ${v.description}` : ''}`);
      }
    } catch {
      // ignore
    }
  }
  return out;
}
