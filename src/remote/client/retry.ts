import { abortError } from '../../core/index.js';
import { Code } from '../../reapi/index.js';
import { isRpcError, retryDelayMs } from './rpc-error.js';
import { onAbort } from './signals.js';

/**
 * Jittered exponential backoff with a limit. "Full jitter": the delay before
 * retry n is uniform in [0, min(maxDelay, base·2ⁿ)], which spreads a crowd
 * of clients that failed together (a server restart) instead of having them
 * return in lock-step.
 */
export interface RetryPolicy {
  /** Retries after the first attempt; 0 means one attempt only. */
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** For tests: a source of randomness in [0, 1). */
  readonly random?: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 4, baseDelayMs: 100, maxDelayMs: 5000 };

/**
 * The codes REAPI clients retry: transient unavailability, quota, aborted
 * transactions, and the two a crashing or restarting server produces.
 */
const RETRYABLE: ReadonlySet<Code> = new Set([Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED, Code.ABORTED, Code.INTERNAL, Code.UNKNOWN]);

export function isRetryableCode(code: Code): boolean {
  return RETRYABLE.has(code);
}

export function isRetryable(e: unknown): boolean {
  return isRpcError(e) && isRetryableCode(e.code);
}

/** The delay before retry number `attempt` (1-based). A server's RetryInfo wins when it asks for longer. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, serverDelayMs?: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.floor((policy.random ?? Math.random)() * (cap + 1));
  return serverDelayMs !== undefined ? Math.max(jittered, Math.min(serverDelayMs, policy.maxDelayMs * 4)) : jittered;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError());
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      resolve();
    }, ms);
    const off =
      signal === undefined
        ? () => undefined
        : onAbort(signal, () => {
            clearTimeout(t);
            reject(abortError());
          });
  });
}

/**
 * Calls `attempt` until it succeeds, fails with something not retryable, or
 * the retries run out (then the last error is thrown). `onRetry` hears
 * about each retry, for logs.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  options: { signal?: AbortSignal; retryable?: (e: unknown) => boolean; onRetry?: (e: unknown, n: number, delayMs: number) => void } = {},
): Promise<T> {
  const retryable = options.retryable ?? isRetryable;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      if (options.signal?.aborted) throw abortError();
      if (n >= policy.maxRetries || !retryable(e)) throw e;
      const delay = backoffDelayMs(policy, n + 1, isRpcError(e) ? retryDelayMs(e.details) : undefined);
      options.onRetry?.(e, n + 1, delay);
      await sleep(delay, options.signal);
    }
  }
}
