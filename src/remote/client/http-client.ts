import { Agent as HttpAgent, STATUS_CODES, request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable, pipeline } from 'node:stream';
import { FailureError, TREWS_VERSION, abortError, failure } from '../../core/index.js';
import type { EndpointConfig } from './remote-config.js';
import { withRetries, type RetryPolicy } from './retry.js';
import { onAbort } from './signals.js';

/** Where an HTTP cache keeps things: `/ac/<action hash>`, `/cas/<blob hash>`. */
export type CacheKind = 'ac' | 'cas';

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT';
  readonly kind: CacheKind;
  readonly hash: string;
  /**
   * The body of a PUT, made anew for each attempt; a stream that cannot be
   * made again is sent once (`retry: false`).
   */
  readonly body?: () => Readable | Uint8Array;
  readonly length?: number;
  /** Inactivity timeout of the exchange: no byte either way for this long fails it. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Whether a failed attempt may be sent again (default true). */
  readonly retry?: boolean;
}

/** The answer's head; its body is the caller's to read or `discard()`. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: IncomingMessage;
  /** Drops a body we do not read (a HEAD's, a 404's), keeping the connection for the next request. */
  discard(): void;
}

export interface HttpCacheClient {
  /** `remote_store_server http://127.0.0.1:9090`. */
  readonly description: string;
  /** The path of an entry, as sent: `/prefix/instance/cas/<hash>`. */
  path(kind: CacheKind, hash: string): string;
  /**
   * Sends a request (again, with backoff, while the failure is transient:
   * no connection, a reset, a timeout, 408, 429, 5xx). Any answer of
   * `expected` resolves; others reject with a FailureError naming the
   * server, the request and the status, and saying what to do about 401
   * and 403.
   */
  send(req: HttpRequest, expected: readonly number[]): Promise<HttpResponse>;
  counts(): Readonly<Record<string, number>>;
  close(): void;
}

export interface HttpCacheClientOptions {
  readonly endpoint: EndpointConfig;
  /** `remote_instance_name`: a path prefix below the address's own path (HTTP caches have no other place for it). */
  readonly instanceName: string;
  readonly retry: RetryPolicy;
  /** Connections kept per server, which bounds the requests in flight. */
  readonly maxSockets: number;
}

export function createHttpCacheClient(o: HttpCacheClientOptions): HttpCacheClient {
  return new Client(o);
}

/** A failed attempt, and whether sending it again could help. */
class AttemptError extends Error {
  readonly retryable: boolean;
  readonly failure: FailureError;
  constructor(f: FailureError, retryable: boolean) {
    super(f.failure.message);
    this.failure = f;
    this.retryable = retryable;
  }
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** Error text kept from a refusal's body, for the message. */
const BODY_SNIPPET_BYTES = 300;

class Client implements HttpCacheClient {
  readonly description: string;
  readonly #o: HttpCacheClientOptions;
  readonly #tls: boolean;
  readonly #agent: HttpAgent;
  readonly #prefix: string;
  readonly #headers: Record<string, string>;
  readonly #counts: Record<string, number> = {};

  constructor(o: HttpCacheClientOptions) {
    const ep = o.endpoint;
    this.#o = o;
    this.description = `${ep.option} ${ep.address.text}`;
    this.#tls = ep.address.scheme === 'https';
    const agentOptions = { keepAlive: true, maxSockets: o.maxSockets };
    const tls = ep.tls;
    this.#agent = this.#tls
      ? new HttpsAgent({
          ...agentOptions,
          ...(tls?.rootCerts ? { ca: tls.rootCerts } : {}),
          ...(tls?.clientCertChain && tls.clientKey ? { cert: tls.clientCertChain, key: tls.clientKey } : {}),
        })
      : new HttpAgent(agentOptions);
    const instance = o.instanceName.split('/').filter((s) => s !== '').map(encodeURIComponent).join('/');
    this.#prefix = `${ep.address.path}${instance === '' ? '' : `/${instance}`}`;
    this.#headers = {
      'user-agent': `trews/${TREWS_VERSION}`,
      ...ep.headers,
      ...(ep.token !== null ? { authorization: `Bearer ${ep.token}` } : {}),
    };
  }

  path(kind: CacheKind, hash: string): string {
    return `${this.#prefix}/${kind}/${hash}`;
  }

  counts(): Readonly<Record<string, number>> {
    return { ...this.#counts };
  }

  close(): void {
    this.#agent.destroy();
  }

  async send(req: HttpRequest, expected: readonly number[]): Promise<HttpResponse> {
    const policy = req.retry === false ? { ...this.#o.retry, maxRetries: 0 } : this.#o.retry;
    try {
      return await withRetries(policy, () => this.#attempt(req, expected), {
        ...(req.signal ? { signal: req.signal } : {}),
        retryable: (e) => e instanceof AttemptError && e.retryable,
      });
    } catch (e) {
      if (e instanceof AttemptError) throw e.failure;
      throw e;
    }
  }

  #attempt(r: HttpRequest, expected: readonly number[]): Promise<HttpResponse> {
    if (r.signal?.aborted) return Promise.reject(abortError());
    const key = `${r.method} /${r.kind}`;
    this.#counts[key] = (this.#counts[key] ?? 0) + 1;
    const path = this.path(r.kind, r.hash);
    const what = `${r.method} ${path}`;
    const a = this.#o.endpoint.address;
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const headers: Record<string, string> = { ...this.#headers };
      if (r.method === 'PUT') {
        headers['content-type'] = 'application/octet-stream';
        headers['content-length'] = String(r.length ?? 0);
      }
      const req: ClientRequest = (this.#tls ? httpsRequest : httpRequest)({
        host: a.host,
        port: a.port,
        path,
        method: r.method,
        headers,
        agent: this.#agent,
      });
      let answer: IncomingMessage | undefined;
      const off =
        r.signal === undefined
          ? () => undefined
          : onAbort(r.signal, () => {
              answer?.destroy(abortError());
              req.destroy(abortError());
            });
      const fail = (e: unknown): void => {
        if (settled) return;
        settled = true;
        off();
        req.destroy();
        if (r.signal?.aborted) reject(abortError());
        else if (e instanceof AttemptError || e instanceof FailureError) reject(e);
        else reject(this.#networkError(e, what));
      };
      req.setTimeout(r.timeoutMs, () => {
        const timedOut = this.#failure(`${what} timed out: no data for ${r.timeoutMs} ms`, ['check that the server is reachable, or raise remote_cache_rpc_timeout_millis / remote_store_rpc_timeout_millis']);
        // After the head, the reader of the body hears of it.
        if (settled) answer?.destroy(timedOut);
        else fail(new AttemptError(timedOut, true));
      });
      req.on('error', fail);
      req.on('response', (res) => {
        if (settled) {
          res.resume();
          return;
        }
        const status = res.statusCode ?? 0;
        if (expected.includes(status)) {
          settled = true;
          answer = res;
          // The body may still be streaming: the abort and the timeout keep watching it until it closes.
          res.once('close', off);
          // Drained rather than destroyed: the connection stays open for the next request.
          resolve({ status, headers: res.headers, body: res, discard: () => void res.resume() });
          return;
        }
        void this.#refusal(res, status, what).then(fail, fail);
      });
      const body = r.body?.();
      if (body === undefined) req.end();
      else if (body instanceof Readable) {
        // A failing source (a digest that turns out wrong) destroys the
        // request before its last bytes, so the server never stores it.
        pipeline(body, req, (e) => {
          if (e !== undefined && e !== null) fail(e);
        });
      } else req.end(body);
    });
  }

  /** A status we did not expect: read a little of the body for the message, then decide whether to try again. */
  async #refusal(res: IncomingMessage, status: number, what: string): Promise<never> {
    let text = '';
    try {
      for await (const c of res) {
        text += (c as Buffer).toString('utf8');
        if (text.length >= BODY_SNIPPET_BYTES) break;
      }
    } catch {
      // the body is only for the message
    }
    res.destroy();
    const snippet = text.replace(/\s+/g, ' ').trim().slice(0, BODY_SNIPPET_BYTES);
    const message = `${what} answered ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() + (snippet !== '' ? `: ${snippet}` : '');
    const hints: string[] = [];
    let reason = 'remote-http-error';
    if (status === 401 || status === 403) {
      reason = 'remote-unauthorized';
      const hasToken = this.#o.endpoint.token !== null || 'authorization' in this.#o.endpoint.headers;
      hints.push(
        hasToken
          ? 'the server refused our credentials: check the token in remote_oauth_bearer_token_path (or the authorization header) and that it may read and write this cache'
          : 'the server wants credentials: put a bearer token in a file and set remote_oauth_bearer_token_path to it',
      );
    }
    throw new AttemptError(this.#failure(hints.length > 0 ? `${message}; ${hints[0]}` : message, hints, reason), RETRYABLE_STATUS.has(status));
  }

  #networkError(e: unknown, what: string): AttemptError {
    const err = e as NodeJS.ErrnoException;
    const code = err?.code ?? '';
    const text = err instanceof Error ? err.message : String(e);
    if (/CERT|SSL|TLS|self[- ]signed|unable to verify/i.test(`${code} ${text}`)) {
      return new AttemptError(
        this.#failure(`${what} failed: the TLS handshake failed: ${text}`, [
          "set remote_ca_certs_path to the CA that signed the server's certificate (https:// alone trusts only the system roots), or check the server name",
        ]),
        false,
      );
    }
    return new AttemptError(this.#failure(`${what} failed: ${text}`, [`check that the cache is running and reachable at ${this.#o.endpoint.address.text}`]), true);
  }

  #failure(message: string, hints: readonly string[], reason = 'remote-http-error'): FailureError {
    return new FailureError(failure('environment', reason, `${this.description}: ${message}`, { hints }));
  }
}
