import { FailureError, digestString, failure, nullLogger, type Digest, type Logger } from '../../core/index.js';
import { ActionResultSchema, decodeMessage, encodeCanonical, type ActionResult } from '../../reapi/index.js';
import { readUpTo } from './blob-transfer.js';
import type { HttpCacheClient } from './http-client.js';
import type { ActionCacheProvider } from './provider.js';

export interface HttpActionCacheOptions {
  readonly client: HttpCacheClient;
  /** `remote_cache_rpc_timeout_millis`: short, since a slow cache must not hold up a build that could run locally. */
  readonly timeoutMs: number;
  readonly logger?: Logger;
}

/** An ActionResult is a few KiB; anything this large is not one. */
const MAX_ACTION_RESULT_BYTES = 16 * 1024 * 1024;

/**
 * The action cache of an HTTP cache: `GET`/`PUT /ac/<sha256 of the Action>`
 * with a binary ActionResult as the body (what Bazel and bazel-remote
 * exchange). 404 is a miss. An entry that is not an ActionResult is a
 * failure (the runner warns and runs the process), never a result.
 */
export function createHttpActionCache(o: HttpActionCacheOptions): ActionCacheProvider {
  return new HttpActionCache(o);
}

class HttpActionCache implements ActionCacheProvider {
  readonly description: string;
  // Entries and blobs are stored and evicted independently, and nothing
  // checks one against the other when answering.
  readonly hitsHaveOutputs = false;
  readonly #o: HttpActionCacheOptions;

  constructor(o: HttpActionCacheOptions) {
    this.#o = o;
    this.description = o.client.description;
  }

  async getActionResult(actionDigest: Digest, signal?: AbortSignal): Promise<ActionResult | undefined> {
    const res = await this.#o.client.send({ method: 'GET', kind: 'ac', hash: actionDigest.hash, timeoutMs: this.#o.timeoutMs, ...(signal ? { signal } : {}) }, [200, 404]);
    if (res.status === 404) {
      res.discard();
      (this.#o.logger ?? nullLogger).debug(`remote cache: no hit for action ${digestString(actionDigest)} on ${this.description}: 404`);
      return undefined;
    }
    const { data, overflow } = await readUpTo(res.body, MAX_ACTION_RESULT_BYTES, signal);
    if (overflow) throw this.#corrupt(actionDigest, `more than ${MAX_ACTION_RESULT_BYTES} bytes`);
    const ar = decodeMessage(ActionResultSchema, data);
    if (!ar.ok) throw this.#corrupt(actionDigest, ar.failure.message);
    return ar.value;
  }

  async updateActionResult(actionDigest: Digest, result: ActionResult, signal?: AbortSignal): Promise<void> {
    const body = encodeCanonical(ActionResultSchema, result);
    const res = await this.#o.client.send(
      { method: 'PUT', kind: 'ac', hash: actionDigest.hash, body: () => body, length: body.byteLength, timeoutMs: this.#o.timeoutMs, ...(signal ? { signal } : {}) },
      [200, 201, 202, 204],
    );
    res.discard();
  }

  #corrupt(actionDigest: Digest, why: string): FailureError {
    return new FailureError(
      failure('environment', 'remote-corrupt-action-result', `${this.description} holds an entry for action ${digestString(actionDigest)} that is not an ActionResult: ${why}`, {
        hints: ['the cache may be damaged, or another tool wrote there; the process runs locally (and with remote_cache_write its result replaces the entry)'],
      }),
    );
  }
}
