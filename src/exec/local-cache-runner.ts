import { timestampMs } from '@bufbuild/protobuf/wkt';
import { EMPTY_DIGEST, abortError, digestOf, digestString, isAbortError, type Digest } from '../core/index.js';
import { outputRootOf, type LocalStore } from '../store/index.js';
import { fromProtoDigest, type ActionResult, type ProtoDigest } from '../reapi/index.js';
import { observed } from './observe.js';
import { isCacheableResult } from './process.js';
import { toAction } from './to-action.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

/**
 * The local action cache in front of `inner`. A hit needs every output blob
 * present and intact, which `store.getActionResult` checks (each blob is
 * hashed once per trews process; the store remembers what it verified), so
 * a damaged blob is a miss and the process runs again instead of handing a
 * corrupt output to the next step.
 *
 * Scopes: `always` results are written whatever the exit code, `successful`
 * ones only with exit code 0, `per-run` and `never` are neither looked up
 * nor written; a timed-out result is never written. A stored non-zero result
 * is served only to `always` processes: a `successful` process must not be
 * handed a failure an `always` process with the same action left behind.
 */
export function createLocalCacheRunner(inner: CommandRunner, store: LocalStore): CommandRunner {
  return new LocalCacheRunner(inner, store);
}

class LocalCacheRunner implements CommandRunner {
  readonly #inner: CommandRunner;
  readonly #store: LocalStore;

  constructor(inner: CommandRunner, store: LocalStore) {
    this.#inner = inner;
    this.#store = store;
  }

  run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    return observed(ctx, proc, (ctx) => this.#run(ctx, proc));
  }

  async #run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    const t0 = performance.now();
    const { actionDigest } = toAction(proc);
    if (proc.cacheScope === 'per-run' || proc.cacheScope === 'never') return this.#inner.run(ctx, proc);

    const hit = await this.#lookup(ctx, proc, actionDigest);
    if (hit !== undefined) return { ...hit, durationMs: performance.now() - t0 };

    const result = await this.#inner.run(ctx, proc);
    if (isCacheableResult(proc, result.exitCode, result.timedOut)) {
      try {
        await this.#store.updateActionResult(actionDigest, result.actionResult, ctx.signal);
      } catch (e) {
        if (isAbortError(e)) throw e;
        // The result is good; only its reuse is lost.
        ctx.logger.warn(`local cache: cannot store the result of ${proc.description}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { ...result, durationMs: performance.now() - t0 };
  }

  async #lookup(ctx: ExecContext, proc: Process, actionDigest: Digest): Promise<Omit<ProcessResult, 'durationMs'> | undefined> {
    const what = `${proc.description} (${digestString(actionDigest)})`;
    try {
      const ar = await this.#store.getActionResult(actionDigest, ctx.signal);
      if (ar === undefined) return undefined;
      if (ar.exitCode !== 0 && proc.cacheScope !== 'always') return undefined;
      const outputRoot = await outputRootOf(this.#store, ar, ctx.signal);
      const stdout = await this.#stream(ar.stdoutDigest, ar.stdoutRaw, ctx.signal);
      const stderr = await this.#stream(ar.stderrDigest, ar.stderrRaw, ctx.signal);
      if (stdout === undefined || stderr === undefined) return undefined;
      if (ctx.signal.aborted) throw abortError();
      return {
        exitCode: ar.exitCode,
        timedOut: false, // timed-out results are never stored
        stdout,
        stderr,
        outputRoot,
        actionDigest,
        source: 'local cache',
        executionMs: executionMsOf(ar),
        actionResult: ar,
      };
    } catch (e) {
      if (isAbortError(e) || ctx.signal.aborted) throw isAbortError(e) ? e : abortError();
      // A cache that cannot be read is a miss, not a failed build.
      ctx.logger.warn(`local cache: lookup of ${what} failed, running it: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  /** stdout/stderr may come inline (`*_raw`) from other writers; we always hand out digests. */
  async #stream(d: ProtoDigest | undefined, raw: Uint8Array, signal: AbortSignal): Promise<Digest | undefined> {
    if (d !== undefined) {
      const r = fromProtoDigest(d, 'stdout/stderr digest');
      return r.ok ? r.value : undefined;
    }
    if (raw.byteLength === 0) return EMPTY_DIGEST;
    const digest = digestOf(raw);
    await this.#store.put(digest, raw, signal);
    return digest;
  }
}

/** How long the process ran when it was executed, from the REAPI metadata; null when not recorded. */
export function executionMsOf(ar: ActionResult): number | null {
  const m = ar.executionMetadata;
  if (m?.executionStartTimestamp === undefined || m.executionCompletedTimestamp === undefined) return null;
  const ms = timestampMs(m.executionCompletedTimestamp) - timestampMs(m.executionStartTimestamp);
  return ms >= 0 ? ms : null;
}
