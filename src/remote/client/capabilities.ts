import { create } from '@bufbuild/protobuf';
import { FailureError, failure } from '../../core/index.js';
import { Code, DigestFunction_Value, GetCapabilitiesRequestSchema, SymlinkAbsolutePathStrategy_Value, type ServerCapabilities } from '../../reapi/index.js';
import type { RemoteEndpoint } from './channel.js';
import { METHODS } from './methods.js';
import { abortable } from './signals.js';
import { DEFAULT_RETRY, withRetries } from './retry.js';
import { codeName, isRpcError } from './rpc-error.js';

/** What we take from GetCapabilities, checked. */
export interface RemoteCapabilities {
  /** CacheCapabilities.max_batch_total_size_bytes; 0 = the server sets no limit. */
  readonly maxBatchTotalSizeBytes: number;
  /** Whether UpdateActionResult is allowed (false: the server fills its cache itself). */
  readonly actionCacheUpdateEnabled: boolean;
  readonly execEnabled: boolean;
  /** Whether input trees may hold absolute symlinks. */
  readonly absoluteSymlinksAllowed: boolean;
  /** `low_api_version`-`high_api_version`, for logs: `2.0-2.3`. */
  readonly apiVersions: string;
}

export interface CapabilityNeeds {
  readonly cache: boolean;
  readonly execution: boolean;
}

/**
 * Capabilities are asked once per server (as reached: address, TLS, token,
 * instance) for the life of the process (a daemon keeps them between runs): they describe the server's
 * configuration, which does not change under a running client. A failed
 * query is not remembered, so the next run asks again.
 */
const cache = new Map<string, Promise<ServerCapabilities>>();

export function clearCapabilitiesCache(): void {
  cache.clear();
}

export async function fetchCapabilities(endpoint: RemoteEndpoint, options: { timeoutMs: number; signal?: AbortSignal }): Promise<ServerCapabilities> {
  const key = endpoint.identity;
  let p = cache.get(key);
  if (p === undefined) {
    p = withRetries(DEFAULT_RETRY, () =>
      endpoint.unary(METHODS.getCapabilities, create(GetCapabilitiesRequestSchema, { instanceName: endpoint.instanceName }), { timeoutMs: options.timeoutMs }),
    );
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return abortable(p, options.signal);
}

/**
 * Checks that the server can serve what we need and reduces its answer to
 * what we use. Failures name the server and say what to change.
 */
export function checkCapabilities(caps: ServerCapabilities, endpoint: RemoteEndpoint, needs: CapabilityNeeds): RemoteCapabilities {
  const where = endpoint.description;
  const cc = caps.cacheCapabilities;
  const ec = caps.executionCapabilities;
  if (needs.cache) {
    if (cc === undefined) {
      throw new FailureError(
        failure('environment', 'remote-capabilities', `${where} does not offer a CAS or action cache (its capabilities have no cache_capabilities)`, {
          hints: ['point remote_store_server at the REAPI server that stores blobs; an execution-only endpoint cannot be the store'],
        }),
      );
    }
    if (!cc.digestFunctions.includes(DigestFunction_Value.SHA256)) {
      const offered = cc.digestFunctions.map((f) => DigestFunction_Value[f] ?? String(f)).join(', ') || 'none';
      throw new FailureError(
        failure('environment', 'remote-digest-function', `${where} does not support SHA-256 digests (it offers: ${offered})`, {
          hints: ['trews hashes with SHA-256 only, as Bazel does by default; configure the server (or its instance) for SHA256'],
        }),
      );
    }
  }
  if (needs.execution) {
    if (ec === undefined || !ec.execEnabled) {
      throw new FailureError(
        failure('environment', 'remote-exec-disabled', `${where} does not execute actions (exec_enabled is false in its capabilities)`, {
          hints: ['point remote_execution_server at an execution service, or turn remote_execution off and use remote_cache_read / remote_cache_write'],
        }),
      );
    }
    const fns = ec.digestFunctions.length > 0 ? ec.digestFunctions : [ec.digestFunction];
    if (!fns.includes(DigestFunction_Value.SHA256)) {
      throw new FailureError(
        failure('environment', 'remote-digest-function', `${where} does not execute SHA-256 actions (it uses ${fns.map((f) => DigestFunction_Value[f] ?? String(f)).join(', ')})`, {
          hints: ['configure the execution service for SHA256'],
        }),
      );
    }
  }
  const v = (s: typeof caps.lowApiVersion): string => (s === undefined ? '?' : `${s.major}.${s.minor}`);
  return {
    maxBatchTotalSizeBytes: cc === undefined ? 0 : Number(cc.maxBatchTotalSizeBytes),
    actionCacheUpdateEnabled: cc?.actionCacheUpdateCapabilities?.updateEnabled ?? false,
    execEnabled: ec?.execEnabled ?? false,
    absoluteSymlinksAllowed: cc?.symlinkAbsolutePathStrategy === SymlinkAbsolutePathStrategy_Value.ALLOWED,
    apiVersions: `${v(caps.lowApiVersion)}-${v(caps.highApiVersion)}`,
  };
}

/** A failure of the capabilities call itself, worded for the first contact with a server (wrong address, TLS, token). */
export function capabilitiesFailure(e: unknown, endpoint: RemoteEndpoint): unknown {
  if (!isRpcError(e)) return e;
  const hints: string[] = [];
  switch (e.code) {
    case Code.UNAVAILABLE:
      if (/certificate|SSL|TLS|handshake/i.test(e.serverMessage)) {
        hints.push('the TLS handshake failed: set remote_ca_certs_path to the CA that signed the server\'s certificate (grpcs:// alone trusts only the system roots), or check the server name');
        break;
      }
      hints.push(`check that the server is running and reachable at ${endpoint.description.split(' ')[1] ?? ''}, and that TLS is on exactly when the server expects it (grpcs:// or remote_ca_certs_path)`);
      break;
    case Code.UNAUTHENTICATED:
    case Code.PERMISSION_DENIED:
      hints.push('check the token in remote_oauth_bearer_token_path (or the authorization header) and that it is valid for this server and instance');
      break;
    case Code.UNIMPLEMENTED:
      hints.push('the server does not implement the REAPI Capabilities service: is this a REAPI v2 server?');
      break;
    case Code.INVALID_ARGUMENT:
    case Code.NOT_FOUND:
      hints.push('check remote_instance_name: the server may not know this instance');
      break;
    default:
      break;
  }
  return new FailureError(
    failure('environment', 'remote-unavailable', `cannot use ${endpoint.description}: GetCapabilities failed with ${codeName(e.code)}${e.serverMessage ? `: ${e.serverMessage}` : ''}`, {
      hints,
    }),
  );
}
