import { create } from '@bufbuild/protobuf';
import { abortError, digestString, nullLogger, type Digest, type Logger } from '../../core/index.js';
import { Code, DigestFunction_Value, GetActionResultRequestSchema, UpdateActionResultRequestSchema, toProtoDigest, type ActionResult } from '../../reapi/index.js';
import type { RemoteEndpoint } from './channel.js';
import type { ActionCacheProvider } from './provider.js';
import { METHODS } from './methods.js';
import type { CallContext } from './request-metadata.js';
import { withRetries, type RetryPolicy } from './retry.js';
import { isRpcError } from './rpc-error.js';

export interface RemoteActionCacheOptions {
  readonly endpoint: RemoteEndpoint;
  /** `remote_cache_rpc_timeout_millis`: short, since a slow cache must not hold up a build that could run locally. */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  /** Hears, at debug level, why each lookup missed when the server says why. */
  readonly logger?: Logger;
}

/** The REAPI ActionCache service as an ActionCacheProvider; calls carry RequestMetadata. */
export interface RemoteActionCache extends ActionCacheProvider {
  readonly endpoint: RemoteEndpoint;
}

export function createRemoteActionCache(o: RemoteActionCacheOptions): RemoteActionCache {
  return new GrpcActionCache(o);
}

class GrpcActionCache implements RemoteActionCache {
  readonly endpoint: RemoteEndpoint;
  readonly description: string;
  // The spec says servers SHOULD check a result's blobs before serving it;
  // trews' own server, Buildbarn and BuildGrid do.
  readonly hitsHaveOutputs = true;
  readonly #o: RemoteActionCacheOptions;

  constructor(o: RemoteActionCacheOptions) {
    this.endpoint = o.endpoint;
    this.description = o.endpoint.description;
    this.#o = o;
  }

  /**
   * NOT_FOUND is a miss, not an error (the spec's only documented error of
   * this call). Its message is logged at debug level: "no entry" is the
   * usual cause, but a server may refuse an entry it has (an output it
   * lacks, the empty blob never uploaded), and a miss that repeats for such
   * a reason must be findable.
   */
  async getActionResult(actionDigest: Digest, signal?: AbortSignal, call?: CallContext): Promise<ActionResult | undefined> {
    if (signal?.aborted) throw abortError();
    try {
      return await withRetries(
        this.#o.retry,
        () =>
          this.endpoint.unary(
            METHODS.getActionResult,
            create(GetActionResultRequestSchema, {
              instanceName: this.endpoint.instanceName,
              actionDigest: toProtoDigest(actionDigest),
              // Inlined small stdout/stderr saves a round trip on a hit; servers may ignore it.
              inlineStdout: true,
              inlineStderr: true,
              digestFunction: DigestFunction_Value.SHA256,
            }),
            { timeoutMs: this.#o.timeoutMs, ...(signal ? { signal } : {}), call: { ...call, actionId: actionDigest.hash } },
          ),
        signal ? { signal } : {},
      );
    } catch (e) {
      if (isRpcError(e) && e.code === Code.NOT_FOUND) {
        (this.#o.logger ?? nullLogger).debug(
          `remote cache: no hit for action ${digestString(actionDigest)} on ${this.endpoint.description}: NOT_FOUND${e.serverMessage ? `: ${e.serverMessage}` : ' (the server gave no reason)'}`,
        );
        return undefined;
      }
      throw e;
    }
  }

  async updateActionResult(actionDigest: Digest, result: ActionResult, signal?: AbortSignal, call?: CallContext): Promise<void> {
    await withRetries(
      this.#o.retry,
      () =>
        this.endpoint.unary(
          METHODS.updateActionResult,
          create(UpdateActionResultRequestSchema, {
            instanceName: this.endpoint.instanceName,
            actionDigest: toProtoDigest(actionDigest),
            actionResult: result,
            digestFunction: DigestFunction_Value.SHA256,
          }),
          { timeoutMs: this.#o.timeoutMs, ...(signal ? { signal } : {}), call: { ...call, actionId: actionDigest.hash } },
        ),
      signal ? { signal } : {},
    );
  }
}
