import { abortError, digestString, isAbortError, type Digest } from '../../core/index.js';
import { isCacheableResult, observed, toAction, type CommandRunner, type ExecContext, type Process, type ProcessResult } from '../../exec/index.js';
import type { LocalStore } from '../../store/index.js';
import { fromProtoDigest } from '../../reapi/index.js';
import { actionResultBlobs, ensureUploaded, type UploadedTrees } from './ensure-uploaded.js';
import { fetchActionResult } from './fetch-result.js';
import type { CacheAccess } from './provider.js';
import type { CacheContentBehavior } from './remote-config.js';
import type { CallContext } from './request-metadata.js';
import { describeError } from './describe-error.js';
import { abortable } from './signals.js';
import type { CacheWarner } from './warnings.js';

export interface RemoteCacheRunnerOptions {
  readonly local: LocalStore;
  /**
   * The cache (CAS and action cache, of whichever protocol), once the
   * server has been found usable. Memoized by the provider, failure
   * included: a cache server that is down costs one round of retries per
   * run, not one per process.
   */
  readonly cache: () => Promise<CacheAccess>;
  /** `remote_cache_read`, `remote_cache_write`. */
  readonly read: boolean;
  readonly write: boolean;
  readonly contentBehavior: CacheContentBehavior;
  readonly warner: CacheWarner;
  /**
   * Race: start the inner runner when a lookup has not answered after this
   * many ms, and take whichever finishes first. Undefined: wait for the
   * lookup (the default: a cache on a LAN answers in milliseconds, and a
   * raced local run costs CPU that other processes could use).
   */
  readonly raceAfterMs?: number;
  readonly uploaded?: UploadedTrees;
}

/** A remote cache layer; `flush()` waits for the background writes (the owner calls it before the run ends). */
export interface RemoteCacheRunner extends CommandRunner {
  flush(): Promise<void>;
  /** Background writes in flight. */
  readonly pendingWrites: number;
}

/** A lookup that takes longer than this is shown as running by the UI. */
const SHOW_LOOKUP_AFTER_MS = 250;

/**
 * The remote cache in front of `inner` (which executes, locally):
 *
 * - read: the action cache is asked before running; a hit's outputs are
 *   fetched per `cache_content_behavior` and the result says `remote
 *   cache`. A non-zero result is reused only by `always` processes, as
 *   locally.
 * - write: after a successful local run, the outputs, the Action and the
 *   Command are uploaded (missing blobs only) and the result recorded, in
 *   the background: the build goes on; `flush()` waits for them.
 *
 * It speaks to the cache only through the provider interfaces
 * (provider.ts), so it is the same over REAPI and the HTTP cache protocol.
 *
 * A remote cache never fails a build: every error becomes a warning (rate
 * limited per `remote_cache_warnings`) and the process runs locally.
 * Cancellation still cancels.
 */
export function createRemoteCacheRunner(inner: CommandRunner, options: RemoteCacheRunnerOptions): RemoteCacheRunner {
  return new CacheRunner(inner, options);
}

class CacheRunner implements RemoteCacheRunner {
  readonly #inner: CommandRunner;
  readonly #o: RemoteCacheRunnerOptions;
  readonly #pending = new Set<Promise<void>>();

  constructor(inner: CommandRunner, o: RemoteCacheRunnerOptions) {
    this.#inner = inner;
    this.#o = o;
  }

  get pendingWrites(): number {
    return this.#pending.size;
  }

  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    return observed(ctx, proc, (ctx) => this.#run(ctx, proc));
  }

  async #run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    const t0 = performance.now();
    const { actionDigest } = toAction(proc);
    if (proc.cacheScope === 'per-run' || proc.cacheScope === 'never') return this.#inner.run(ctx, proc);
    const call: CallContext = { invocationId: ctx.runId, actionId: actionDigest.hash };

    let result: ProcessResult;
    if (!this.#o.read) result = await this.#inner.run(ctx, proc);
    else if (this.#o.raceAfterMs === undefined) {
      const hit = await this.#lookup(ctx, proc, actionDigest, call, ctx.signal, t0);
      if (hit !== undefined) return hit;
      result = await this.#inner.run(ctx, proc);
    } else {
      result = await this.#race(ctx, proc, actionDigest, call, t0, this.#o.raceAfterMs);
      if (result.source === 'remote cache') return result;
    }

    if (this.#o.write && result.source === 'ran locally' && isCacheableResult(proc, result.exitCode, result.timedOut)) {
      this.#background(this.#write(ctx, proc, result, call));
    }
    return { ...result, durationMs: performance.now() - t0 };
  }

  /** A hit, or undefined for a miss or any failure (warned about). Rejects only when cancelled. */
  async #lookup(ctx: ExecContext, proc: Process, actionDigest: Digest, call: CallContext, signal: AbortSignal, t0: number): Promise<ProcessResult | undefined> {
    const show = setTimeout(() => ctx.observation?.markStarted(), SHOW_LOOKUP_AFTER_MS);
    try {
      const { cas, actionCache } = await abortable(this.#o.cache(), signal);
      const ar = await actionCache.getActionResult(actionDigest, signal, call);
      if (ar === undefined) return undefined;
      if (ar.exitCode !== 0 && proc.cacheScope !== 'always') return undefined;
      // `defer` trusts the outputs to stay on the server; a cache that does
      // not vouch for them (HTTP) must show them present now, or a later
      // step would find them gone.
      const behavior = this.#o.contentBehavior === 'defer' && !actionCache.hitsHaveOutputs ? 'validate' : this.#o.contentBehavior;
      return await fetchActionResult(this.#o.local, cas, ar, {
        actionDigest,
        source: 'remote cache',
        behavior,
        timedOut: false,
        startedAt: t0,
        signal,
        call,
      });
    } catch (e) {
      if (signal.aborted || isAbortError(e)) throw abortError();
      this.#o.warner.warn(`lookup of ${proc.description} (${digestString(actionDigest)}) failed, running it locally: ${describeError(e)}`, ctx);
      return undefined;
    } finally {
      clearTimeout(show);
    }
  }

  /**
   * Lookup and, after `delayMs`, local execution side by side; the first
   * usable answer wins and the other is cancelled. A miss leaves the local
   * run (started at once if it was not yet) to finish.
   */
  async #race(ctx: ExecContext, proc: Process, actionDigest: Digest, call: CallContext, t0: number, delayMs: number): Promise<ProcessResult> {
    const lookupCtl = new AbortController();
    const localCtl = new AbortController();
    const onAbort = (): void => {
      lookupCtl.abort();
      localCtl.abort();
    };
    if (ctx.signal.aborted) throw abortError();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let local: Promise<ProcessResult> | undefined;
    const startLocal = (): Promise<ProcessResult> => (local ??= this.#inner.run({ ...ctx, signal: localCtl.signal }, proc));
    let timer: NodeJS.Timeout | undefined;
    try {
      const lookup = this.#lookup(ctx, proc, actionDigest, call, lookupCtl.signal, t0).catch((e: unknown) => {
        // Cancelled because local won, or because the run was: either way, no answer.
        if (ctx.signal.aborted) throw e;
        return undefined;
      });
      const delayed = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, delayMs);
      });
      const first = await Promise.race([lookup.then((hit) => ({ kind: 'lookup' as const, hit })), delayed.then(() => ({ kind: 'delay' as const }))]);
      if (first.kind === 'lookup') {
        if (first.hit !== undefined) return first.hit;
        return await startLocal();
      }
      const localRun = startLocal();
      const winner = await Promise.race([
        lookup.then((hit) => ({ kind: 'lookup' as const, hit })),
        localRun.then(
          (r) => ({ kind: 'local' as const, r }),
          (e: unknown) => ({ kind: 'local-error' as const, e }),
        ),
      ]);
      if (winner.kind === 'lookup') {
        if (winner.hit === undefined) return await localRun;
        localCtl.abort();
        await localRun.catch(() => undefined); // the sandbox is gone before we answer
        return winner.hit;
      }
      lookupCtl.abort();
      if (winner.kind === 'local-error') throw winner.e;
      return winner.r;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  #background(p: Promise<void>): void {
    const tracked = p.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Uploads what the result needs and records it. Never rejects: failures are warnings. */
  async #write(ctx: ExecContext, proc: Process, result: ProcessResult, call: CallContext): Promise<void> {
    const { local } = this.#o;
    const a = toAction(proc);
    try {
      const { cas, actionCache, updateEnabled } = await this.#o.cache();
      if (!updateEnabled) {
        this.#o.warner.warn(`${actionCache.description} does not accept action cache updates (update_enabled is false); results are not written`, ctx);
        return;
      }
      // The spec asks for the Action and Command in the CAS before their
      // result: servers may check them (access control, debugging).
      await local.put(a.actionDigest, a.actionBytes, ctx.signal);
      await local.put(a.commandDigest, a.commandBytes, ctx.signal);
      const ar = result.actionResult;
      const roots: Digest[] = [];
      for (const od of ar.outputDirectories) {
        const r = fromProtoDigest(od.rootDirectoryDigest);
        if (od.rootDirectoryDigest !== undefined && r.ok) roots.push(r.value);
      }
      const blobs = [a.actionDigest, a.commandDigest, ...(await actionResultBlobs(local, ar, ctx.signal))];
      await ensureUploaded(local, cas, { roots, blobs }, this.#o.uploaded, ctx.signal, call);
      await actionCache.updateActionResult(a.actionDigest, ar, ctx.signal, call);
    } catch (e) {
      if (ctx.signal.aborted || isAbortError(e)) return; // the run was cancelled: nothing to report
      this.#o.warner.warn(`cannot store the result of ${proc.description} (${digestString(a.actionDigest)}): ${describeError(e)}`, ctx);
    }
  }
}
