import { create, toBinary } from '@bufbuild/protobuf';
import { anyPack, type Any } from '@bufbuild/protobuf/wkt';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { digestString, type Digest } from '../../core/index.js';
import {
  Code,
  PreconditionFailure_ViolationSchema,
  PreconditionFailureSchema,
  StatusSchema,
  type Status,
} from '../../reapi/index.js';

/**
 * An expected failure of one call, as a gRPC status. Handlers throw it; the
 * RPC wrappers turn it into the call's status (with `grpc-status-details-bin`
 * when it carries details), and the execution service puts the same thing in
 * ExecuteResponse.status. Anything else thrown is a bug and becomes INTERNAL.
 */
export class RpcError extends Error {
  readonly code: Code;
  readonly details: readonly Any[];
  constructor(code: Code, message: string, details: readonly Any[] = []) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.details = details;
  }
}

export function isRpcError(e: unknown): e is RpcError {
  return e instanceof RpcError;
}

export const invalidArgument = (message: string): RpcError => new RpcError(Code.INVALID_ARGUMENT, message);
export const notFound = (message: string): RpcError => new RpcError(Code.NOT_FOUND, message);
export const failedPrecondition = (message: string): RpcError => new RpcError(Code.FAILED_PRECONDITION, message);
export const outOfRange = (message: string): RpcError => new RpcError(Code.OUT_OF_RANGE, message);
export const unimplemented = (message: string): RpcError => new RpcError(Code.UNIMPLEMENTED, message);
export const internal = (message: string): RpcError => new RpcError(Code.INTERNAL, message);

/**
 * The resource string REAPI uses for a blob in PreconditionFailure subjects:
 * `blobs/{hash}/{size}`, the ByteStream read name without the instance. The
 * digest function segment is omitted, as the spec requires for SHA-256.
 */
export function blobSubject(d: Digest): string {
  return `blobs/${digestString(d)}`;
}

/**
 * FAILED_PRECONDITION with one MISSING violation per absent blob: what REAPI
 * asks of Execute when inputs, the Command or the Action are not in the CAS,
 * so that a client can upload exactly those and retry.
 */
export function missingBlobs(missing: readonly Digest[], what: string): RpcError {
  const failure = create(PreconditionFailureSchema, {
    violations: missing.map((d) =>
      create(PreconditionFailure_ViolationSchema, {
        type: 'MISSING',
        subject: blobSubject(d),
        description: `${what}: blob ${digestString(d)} is not in the CAS`,
      }),
    ),
  });
  const shown = missing.slice(0, 3).map(digestString).join(', ');
  const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
  return new RpcError(
    Code.FAILED_PRECONDITION,
    `${what}: ${missing.length} blob(s) missing from the CAS (${shown}${more}); upload them and retry`,
    [anyPack(PreconditionFailureSchema, failure)],
  );
}

/** The google.rpc.Status of an error, for ExecuteResponse.status and batch responses. */
export function statusOf(e: RpcError): Status {
  return create(StatusSchema, { code: e.code, message: e.message, details: [...e.details] });
}

export function okStatus(): Status {
  return create(StatusSchema, { code: Code.OK, message: '' });
}

/** Binary trailer key under which gRPC carries the full google.rpc.Status (with details). */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** The error object @grpc/grpc-js turns into a call status. */
export function toServiceError(e: RpcError): Partial<ServiceError> {
  const metadata = new Metadata();
  if (e.details.length > 0) metadata.set(STATUS_DETAILS_KEY, Buffer.from(toBinary(StatusSchema, statusOf(e))));
  return { code: e.code as number, details: e.message, metadata };
}

/** The gRPC name of a code, for logs (`NOT_FOUND`). */
export function codeName(code: number): string {
  return Code[code] ?? `code ${code}`;
}
