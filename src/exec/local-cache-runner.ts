import { timestampMs } from '@bufbuild/protobuf/wkt';
import { EMPTY_DIGEST, abortError, digestOf, digestString, isAbortError, type Digest } from '../core/index.js';
import { outputRootOf, type LocalStore } from '../store/index.js';
import {
  DirectorySchema,
  TreeSchema,
  decodeMessage,
  fromProtoDigest,
  type ActionResult,
  type Directory,
  type ProtoDigest,
} from '../reapi/index.js';
import { observed } from './observe.js';
import { isCacheableResult } from './process.js';
import { toAction } from './to-action.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

/**
 * The local action cache in front of `inner`. A hit needs every output blob
 * present and intact: `store.getActionResult` checks presence, and this
 * runner checks content (each blob is hashed once per trews process; the
 * store remembers what it verified), so a damaged blob is a miss and the
 * process runs again instead of handing a corrupt output to the next step.
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
      if (!(await this.#intact(ar, ctx.signal))) {
        ctx.logger.info(`local cache: an output of ${what} is damaged; running it again`);
        return undefined;
      }
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

  /**
   * Hashes every file blob the result references (once per trews process:
   * the store remembers verified files by inode and mtime). getActionResult
   * already checked they exist with the right size; a same-size corruption
   * is only seen by reading.
   */
  async #intact(ar: ActionResult, signal: AbortSignal): Promise<boolean> {
    const blobs: (ProtoDigest | undefined)[] = [ar.stdoutDigest, ar.stderrDigest, ...ar.outputFiles.map((f) => f.digest)];
    for (const od of ar.outputDirectories) {
      const dirs = await this.#directoriesOf(od.treeDigest, od.rootDirectoryDigest, signal);
      if (dirs === undefined) return false;
      for (const dir of dirs) for (const f of dir.files) blobs.push(f.digest);
    }
    const seen = new Set<string>();
    for (const p of blobs) {
      if (p === undefined) continue;
      const r = fromProtoDigest(p);
      if (!r.ok) return false;
      const key = digestString(r.value);
      if (seen.has(key)) continue;
      seen.add(key);
      if (!(await this.#verify(r.value, signal))) return false;
    }
    return true;
  }

  async #directoriesOf(tree: ProtoDigest | undefined, root: ProtoDigest | undefined, signal: AbortSignal): Promise<Directory[] | undefined> {
    if (tree !== undefined) {
      const d = fromProtoDigest(tree);
      const bytes = d.ok ? await this.#store.getBytes(d.value, signal) : undefined;
      const t = bytes === undefined ? undefined : decodeMessage(TreeSchema, bytes);
      if (t === undefined || !t.ok) return undefined;
      return [...(t.value.root ? [t.value.root] : []), ...t.value.children];
    }
    const start = fromProtoDigest(root);
    if (!start.ok) return undefined;
    const out: Directory[] = [];
    const seen = new Set<string>();
    const queue = [start.value];
    for (let d = queue.pop(); d !== undefined; d = queue.pop()) {
      if (seen.has(d.hash)) continue;
      seen.add(d.hash);
      const bytes = await this.#store.getBytes(d, signal); // getBytes verifies
      const dir = bytes === undefined ? undefined : decodeMessage(DirectorySchema, bytes);
      if (dir === undefined || !dir.ok) return undefined;
      out.push(dir.value);
      for (const c of dir.value.directories) {
        const cd = fromProtoDigest(c.digest);
        if (!cd.ok) return undefined;
        queue.push(cd.value);
      }
    }
    return out;
  }

  /**
   * get() returns undefined for a small blob that fails its check, and
   * errors the stream at its end for a large one; either way the store
   * deletes the bad file. A verified blob's stream is closed unread, except
   * large ones, which are read through because we cannot tell them apart.
   */
  async #verify(d: Digest, signal: AbortSignal): Promise<boolean> {
    const stream = await this.#store.get(d, signal);
    if (stream === undefined) return false;
    if (d.sizeBytes <= EAGER_VERIFY_MAX) {
      stream.destroy();
      return true;
    }
    try {
      for await (const _chunk of stream) {
        // drained for its check
      }
      return true;
    } catch (e) {
      if (signal.aborted) throw abortError();
      if (isAbortError(e)) throw e;
      return false;
    }
  }
}

/** The store checks blobs up to this size before get() returns (see store/README.md). */
const EAGER_VERIFY_MAX = 1024 * 1024;

/** How long the process ran when it was executed, from the REAPI metadata; null when not recorded. */
export function executionMsOf(ar: ActionResult): number | null {
  const m = ar.executionMetadata;
  if (m?.executionStartTimestamp === undefined || m.executionCompletedTimestamp === undefined) return null;
  const ms = timestampMs(m.executionCompletedTimestamp) - timestampMs(m.executionStartTimestamp);
  return ms >= 0 ? ms : null;
}
