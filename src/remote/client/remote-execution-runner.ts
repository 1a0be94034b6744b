import { create } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { EMPTY_DIGEST, FailureError, abortError, failure, isAbortError, anySignal, digestString, isFailureError, nullLogger, parseDigestString, type Digest, type Logger } from '../../core/index.js';
import { createBoundedRunner, observed, toAction, type CommandRunner, type ExecContext, type PlatformProperty, type Process, type ProcessResult } from '../../exec/index.js';
import { readForUpload, type LocalStore } from '../../store/index.js';
import {
  ActionResultSchema,
  CancelOperationRequestSchema,
  DirectorySchema,
  decodeMessage,
  encodeCanonical,
  toProtoDigest,
  Code,
  DigestFunction_Value,
  ExecuteOperationMetadataSchema,
  ExecuteRequestSchema,
  ExecuteResponseSchema,
  ExecutionStage_Value,
  WaitExecutionRequestSchema,
  type ActionResult,
  type ExecuteResponse,
  type Operation,
  type Status,
} from '../../reapi/index.js';
import { ActionProgress, isWaitingForWorker, phaseText, type ActionPhase } from './action-progress.js';
import type { RemoteCapabilities } from './capabilities.js';
import type { RemoteEndpoint } from './channel.js';
import { describeError } from './describe-error.js';
import { actionResultBlobs, ensureUploaded, type UploadedTrees, type Uploader } from './ensure-uploaded.js';
import type { OutputFetcher } from './output-fetcher.js';
import { fetchActionResult } from './fetch-result.js';
import { METHODS } from './methods.js';
import { forRemote, mergePlatform } from './platform.js';
import type { HeldBlobs, RemoteBlobStore } from './remote-blob-store.js';
import type { CacheContentBehavior } from './remote-config.js';
import type { CallContext } from './request-metadata.js';
import { backoffDelayMs, isRetryableCode, sleep, type RetryPolicy } from './retry.js';
import { RpcError, codeName, describeDetails, isRpcError, missingBlobSubjects, retryDelayMs } from './rpc-error.js';
import { safe, type WarningSink } from './warnings.js';

export interface RemoteExecutionRunnerOptions {
  readonly local: LocalStore;
  readonly cas: RemoteBlobStore;
  readonly execution: RemoteEndpoint;
  /** Both servers' capabilities, checked (execution enabled, SHA-256). */
  readonly capabilities: () => Promise<{ readonly store: RemoteCapabilities; readonly execution: RemoteCapabilities }>;
  /** `process_execution_remote_parallelism`: Execute calls in flight at most. */
  readonly parallelism: number;
  /** `remote_execution_overall_deadline_secs` in ms, added to the process's own timeout. */
  readonly overallDeadlineMs: number;
  readonly contentBehavior: CacheContentBehavior;
  /** `remote_execution_extra_platform_properties`. */
  readonly extraPlatformProperties: readonly PlatformProperty[];
  /** `remote_execution_queue_warn_after_secs` in ms: warn when an action waits this long for a worker; 0 (default): never. */
  readonly queueWarnAfterMs?: number;
  /** Where that warning is shown (it is logged in any case). */
  readonly warnings?: WarningSink;
  /** Backoff for Execute/WaitExecution; default 6 retries from 250 ms to 5 s. */
  readonly retry?: RetryPolicy;
  readonly uploaded?: UploadedTrees;
  /** With `fetch`: output files are downloaded in the background through this (output-fetcher.ts) rather than before the result returns. */
  readonly fetcher?: OutputFetcher;
  readonly logger?: Logger;
}

export const EXECUTE_RETRY: RetryPolicy = { maxRetries: 6, baseDelayMs: 250, maxDelayMs: 5000 };
/** Rounds of "upload what the server says is missing, then Execute again" before giving up. */
const MAX_MISSING_ROUNDS = 3;
/** Times an operation may be forgotten by the server (WaitExecution: NOT_FOUND) and Executed again. */
const MAX_LOST_OPERATIONS = 3;
/** How long a cancelled run waits for CancelOperation before leaving anyway. */
const CANCEL_TIMEOUT_MS = 2000;

/**
 * Runs processes on a REAPI execution service instead of the local sandbox,
 * at most `parallelism` at once:
 *
 * 1. the input root, Command and Action go to the CAS (only what
 *    FindMissingBlobs says is missing);
 * 2. Execute, following the Operation stream; a stream that drops is
 *    rejoined with WaitExecution (and re-Executed when the server has
 *    forgotten the operation);
 * 3. FAILED_PRECONDITION with MISSING violations: those blobs are uploaded
 *    and Execute is sent again; UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED,
 *    INTERNAL and UNKNOWN are retried with jittered exponential backoff;
 *    DEADLINE_EXCEEDED is a timed-out result; any other error fails the
 *    process, naming the server, the call and the status;
 * 4. outputs are fetched per `cache_content_behavior`.
 *
 * The server's action cache is consulted (skip_cache_lookup is set only
 * for `per-run` and `never` processes, whose Actions are also do_not_cache);
 * a result served from it says `remote cache`, an executed one `remote`.
 * Cancellation sends CancelOperation and waits for nothing else.
 */
export function createRemoteExecutionRunner(o: RemoteExecutionRunnerOptions): CommandRunner {
  return createBoundedRunner(new RemoteExecutor(o), o.parallelism);
}

type Outcome = { readonly kind: 'done'; readonly op: Operation } | { readonly kind: 'dropped' };

/** One process's way through Execute, across attempts. */
interface Execution {
  readonly ctx: ExecContext;
  readonly proc: Process;
  readonly actionDigest: Digest;
  readonly call: CallContext;
  /** The run's signal and the overall deadline. */
  readonly signal: AbortSignal;
  readonly t0: number;
  readonly progress: ActionProgress;
  /** The Action and Command, which only this process holds (uploaded again from here after MISSING). */
  readonly held: HeldBlobs;
  /** The operation to rejoin with WaitExecution; undefined: Execute (again). */
  operation: string | undefined;
  skipCacheLookup: boolean;
  /** Transient failures retried so far (the budget is shared by every kind). */
  retries: number;
  /** Rounds of uploading what the server said was missing. */
  missingRounds: number;
  /** Operations the server forgot (WaitExecution: NOT_FOUND), each Executed again. */
  lostOperations: number;
  /** Whether the server has accepted the action (the observer was told it started). */
  started: boolean;
}

/** A status seen from the call or the operation. */
interface StatusSeen {
  readonly code: Code;
  readonly message: string;
  readonly details: Status | undefined;
  /** What the server sent of the result anyway (stdout so far, with DEADLINE_EXCEEDED). */
  readonly partial?: ActionResult | undefined;
}

/** An attempt that ended without a result: go round again. */
const AGAIN = Symbol('again');

class RemoteExecutor implements CommandRunner {
  readonly #o: RemoteExecutionRunnerOptions;
  readonly #retry: RetryPolicy;
  readonly #log: Logger;
  /** Actions in flight, for how many wait for a worker. */
  readonly #live = new Set<ActionProgress>();
  /** When each run (by id) was last shown a "no worker has taken it" warning. */
  readonly #lastStuckShown = new Map<string, number>();
  /** The CAS as ensureUploaded sees it: uploads for execution trust the presence memo (Execute's MISSING corrects it). */
  readonly #forExecution: Uploader;

  constructor(o: RemoteExecutionRunnerOptions) {
    this.#o = o;
    this.#forExecution = { description: o.cas.description, uploadFrom: (local, digests, signal, call, held) => o.cas.uploadForExecution(local, digests, signal, call, held) };
    this.#retry = o.retry ?? EXECUTE_RETRY;
    this.#log = o.logger ?? nullLogger;
  }

  run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    return observed(ctx, proc, (ctx) => this.#run(ctx, proc));
  }

  async #run(ctx: ExecContext, original: Process): Promise<ProcessResult> {
    const t0 = performance.now();
    if (ctx.signal.aborted) throw abortError();
    const proc = forRemote(original, this.#o.extraPlatformProperties);
    const a = toAction(proc);
    const call: CallContext = { invocationId: ctx.runId, actionId: a.actionDigest.hash };
    const deadlineMs = this.#o.overallDeadlineMs + (proc.timeoutMs ?? 0);
    const deadline = AbortSignal.timeout(deadlineMs);
    const signal = anySignal([ctx.signal, deadline]);
    const progress = new ActionProgress({ warnAfterMs: this.#o.queueWarnAfterMs ?? 0, onStuck: (phase, ms) => this.#stuck(ctx, proc, phase, ms) });
    this.#live.add(progress);
    try {
      const caps = await this.#o.capabilities();
      const { local } = this.#o;
      const uploaded = this.#o.cas.expect('upload');
      const tPrep = performance.now();
      // The Action and Command go to the server from memory, here and after
      // a MISSING answer, and never into the local store: nothing here reads
      // them back, and two file writes were ~2 ms (up to 17 ms on this VM)
      // of each step of a chain before its upload began.
      const held: HeldBlobs = new Map([
        [digestString(a.actionDigest), a.actionBytes],
        [digestString(a.commandDigest), a.commandBytes],
      ]);
      try {
        await ensureUploaded(
          local,
          this.#forExecution,
          { roots: [proc.inputRoot], blobs: [a.actionDigest, a.commandDigest], absoluteSymlinksAllowed: caps.store.absoluteSymlinksAllowed, held },
          this.#o.uploaded,
          signal,
          call,
        );
      } finally {
        uploaded();
      }
      const tUp = performance.now();
      const r = await this.#execute(ctx, proc, a.actionDigest, held, call, signal, t0, progress);
      const tEnd = performance.now();
      // Where a remote action's time went, for bench/README.md's per-step figures (at t0, since the run's clock origin).
      this.#log.debug(`remote execution of ${proc.description}: at ${t0.toFixed(1)} ms, capabilities ${(tPrep - t0).toFixed(1)} ms, upload ${(tUp - tPrep).toFixed(1)} ms, Execute and result ${(tEnd - tUp).toFixed(1)} ms`);
      return r;
    } catch (e) {
      if (ctx.signal.aborted) throw abortError();
      if (deadline.aborted) throw this.#deadlineFailure(proc, deadlineMs, progress);
      throw this.#failure(e, proc);
    } finally {
      progress.stop();
      this.#live.delete(progress);
    }
  }

  /** The overall deadline passed: say where the time went, and what to check for that phase. */
  #deadlineFailure(proc: Process, deadlineMs: number, progress: ActionProgress): FailureError {
    const phase = progress.phase;
    const hints = isWaitingForWorker(phase)
      ? [
          `no worker of ${this.#o.execution.description} took the action: check remote_execution_extra_platform_properties${this.#platformText()} against the platforms of its workers, and that it has workers at all`,
          'raise remote_execution_overall_deadline_secs only if such queues are expected',
        ]
      : phase.kind === 'stage' && phase.stage === ExecutionStage_Value.EXECUTING
        ? ['the process ran longer than allowed: raise its timeout, or remote_execution_overall_deadline_secs (the time for queueing and transfers beyond it)']
        : ['check the network to the server and its load; raise remote_execution_overall_deadline_secs if such waits are expected'];
    return new FailureError(
      failure(
        'environment',
        'remote-deadline',
        `remote execution of ${proc.description} did not finish within ${Math.round(deadlineMs / 1000)} s on ${this.#o.execution.description}: ${progress.describe()}`,
        { hints },
      ),
    );
  }

  #platformText(): string {
    const extra = this.#o.extraPlatformProperties;
    return extra.length === 0 ? ' (none set)' : ` (${extra.map((p) => `${p.name}=${p.value}`).join(', ')})`;
  }

  /**
   * An action has waited `forMs` for a worker: say so while the build still
   * waits, rather than only when the deadline fails it. Logged for each
   * action; shown to the run that asked for it (ExecContext.warn, else the
   * runner's own sink) at most once per interval per run, naming how many
   * others wait.
   */
  #stuck(ctx: ExecContext, proc: Process, phase: ActionPhase, forMs: number): void {
    const others = [...this.#live].filter((p) => isWaitingForWorker(p.phase)).length - 1;
    const message =
      `remote execution of ${proc.description} has been ${phaseText(phase)} for ${Math.round(forMs / 1000)} s on ${this.#o.execution.description}, ` +
      `no worker has taken it${others > 0 ? ` (nor ${others} other action${others === 1 ? '' : 's'})` : ''}: ` +
      `check remote_execution_extra_platform_properties${this.#platformText()} against the platforms of the server's workers, and that it has workers at all`;
    this.#log.warn(message);
    const now = performance.now();
    const interval = this.#o.queueWarnAfterMs ?? 0;
    const sink = ctx.warn ?? this.#o.warnings;
    const last = this.#lastStuckShown.get(ctx.runId);
    if (sink === undefined || (last !== undefined && now - last < interval)) return;
    this.#lastStuckShown.delete(ctx.runId);
    this.#lastStuckShown.set(ctx.runId, now);
    // A daemon serves many runs one after another: keep the newest few.
    if (this.#lastStuckShown.size > 64) this.#lastStuckShown.delete(this.#lastStuckShown.keys().next().value!);
    safe(sink, message, this.#log);
  }

  /** Execute until a result, following the spec's error handling (see the class comment). */
  async #execute(ctx: ExecContext, proc: Process, actionDigest: Digest, held: HeldBlobs, call: CallContext, signal: AbortSignal, t0: number, progress: ActionProgress): Promise<ProcessResult> {
    const x: Execution = { ctx, proc, actionDigest, held, call, signal, t0, progress, operation: undefined, skipCacheLookup: proc.cacheScope === 'per-run' || proc.cacheScope === 'never', retries: 0, missingRounds: 0, lostOperations: 0, started: false };
    for (;;) {
      const step = await this.#attempt(x);
      if (step !== AGAIN) return step;
    }
  }

  /** One Execute (or WaitExecution of the operation it started) followed to its end, and what that end means. */
  async #attempt(x: Execution): Promise<ProcessResult | typeof AGAIN> {
    let outcome: Outcome;
    try {
      outcome = await this.#follow(x);
    } catch (e) {
      if (x.signal.aborted || isAbortError(e)) {
        if (x.operation !== undefined) await this.#cancel(x.operation, x.call);
        throw abortError();
      }
      if (!isRpcError(e)) throw e;
      if (x.operation !== undefined && e.code === Code.NOT_FOUND) {
        // WaitExecution on an operation the server no longer has (it restarted):
        // Execute again, as the spec says, at once. The server has just answered,
        // so this is no failure to reach it and spends none of the retries that
        // rode out its restart (spending them gave up on a server that was back).
        if (x.lostOperations >= MAX_LOST_OPERATIONS) throw e;
        x.lostOperations++;
        this.#log.debug(`remote execution of ${x.proc.description}: ${e.message}; Execute again`);
        x.operation = undefined;
        return AGAIN;
      }
      // A broken stream keeps its operation: the retry rejoins it.
      return this.#onStatus(x, { code: e.code, message: e.serverMessage, details: e.details }, e, { keepOperation: true });
    }

    const ex = this.#o.execution;
    if (outcome.kind === 'dropped') {
      // The stream ended without a finished operation: rejoin it.
      await this.#retryOrThrow(x, new RpcError(Code.UNAVAILABLE, ex.description, x.operation === undefined ? METHODS.execute.name : METHODS.waitExecution.name, 'the operation stream ended before the operation finished'));
      return AGAIN;
    }
    return this.#finished(x, outcome.op);
  }

  /** Sends Execute (or rejoins the operation with WaitExecution) and follows the stream until the operation is done or the stream ends. */
  async #follow(x: Execution): Promise<Outcome> {
    const ex = this.#o.execution;
    // A rejoined operation stays where it was; a new Execute starts over.
    if (x.operation === undefined) x.progress.enter({ kind: 'accepting' });
    const stream =
      x.operation === undefined
        ? ex.serverStream(
            METHODS.execute,
            create(ExecuteRequestSchema, {
              instanceName: ex.instanceName,
              actionDigest: toProtoDigest(x.actionDigest),
              skipCacheLookup: x.skipCacheLookup,
              digestFunction: DigestFunction_Value.SHA256,
            }),
            { signal: x.signal, call: x.call },
          )
        : ex.serverStream(METHODS.waitExecution, create(WaitExecutionRequestSchema, { name: x.operation }), { signal: x.signal, call: x.call });
    for await (const op of stream) {
      if (op.name !== '') x.operation = op.name;
      x.progress.enter({ kind: 'stage', stage: stageOf(op) });
      if (!x.started) {
        // The server has accepted the action: from here it counts as running.
        x.started = true;
        x.ctx.observation?.markStarted();
      }
      if (op.done) return { kind: 'done', op };
    }
    return { kind: 'dropped' };
  }

  /** A finished operation: its error or the ExecuteResponse's status, a cached failure to run again, or the result. */
  async #finished(x: Execution, op: Operation): Promise<ProcessResult | typeof AGAIN> {
    const ex = this.#o.execution;
    const method = METHODS.execute.name;
    if (op.result.case === 'error') {
      // The spec forbids Operation.error for execution errors, but some servers use it.
      const s = op.result.value;
      return this.#onStatus(x, { code: s.code, message: s.message, details: s }, new RpcError(s.code, ex.description, method, s.message, s), { keepOperation: false });
    }
    const response = responseOf(op, ex.description);
    const status: Status | undefined = response.status;
    if (status !== undefined && status.code !== Code.OK) {
      const message = status.message || response.message;
      return this.#onStatus(x, { code: status.code, message, details: status, partial: response.result }, new RpcError(status.code, ex.description, method, message, status), {
        keepOperation: false,
      });
    }
    const ar = response.result;
    if (ar === undefined) throw new RpcError(Code.INTERNAL, ex.description, method, 'the ExecuteResponse has no result');
    if (response.cachedResult && ar.exitCode !== 0 && x.proc.cacheScope !== 'always' && !x.skipCacheLookup) {
      // A cached failure is not ours to reuse (as with the local cache): run it for real.
      x.skipCacheLookup = true;
      x.operation = undefined;
      return AGAIN;
    }
    x.progress.enter({ kind: 'fetching' });
    // The server holds what it just named (it ran the action, or its cache checked the outputs).
    const generation = this.#o.cas.presence.generation;
    const fetched = this.#o.cas.expect('read');
    const result = await fetchActionResult(this.#o.local, this.#o.cas, ar, {
      actionDigest: x.actionDigest,
      source: response.cachedResult ? 'remote cache' : 'remote',
      behavior: this.#o.contentBehavior,
      timedOut: false,
      startedAt: x.t0,
      signal: x.signal,
      call: x.call,
      ...(this.#o.fetcher !== undefined ? { later: { fetcher: this.#o.fetcher, description: x.proc.description, runSignal: x.ctx.signal } } : {}),
    }).finally(fetched);
    this.#o.cas.presence.add(await actionResultBlobs(this.#o.local, result.actionResult, x.signal), generation);
    return result;
  }

  /**
   * A non-OK status, from the call or the operation: a result (timed out),
   * another attempt after uploading what the server said was missing, or
   * `retryWith` retried (when transient) or thrown. `keepOperation`: the
   * retry rejoins the operation (a broken stream) rather than Executing anew.
   */
  async #onStatus(x: Execution, status: StatusSeen, retryWith: RpcError, o: { keepOperation: boolean }): Promise<ProcessResult | typeof AGAIN> {
    const handled = await this.#handleStatus(x, status);
    if (handled === 'uploaded') {
      x.missingRounds++;
      x.operation = undefined;
      return AGAIN;
    }
    if (handled !== undefined) return handled;
    if (!o.keepOperation) x.operation = undefined;
    await this.#retryOrThrow(x, retryWith);
    return AGAIN;
  }

  /** Waits before another attempt when `e` is transient and retries are left; otherwise throws it. */
  async #retryOrThrow(x: Execution, e: RpcError): Promise<void> {
    if (!isRetryableCode(e.code) || x.retries >= this.#retry.maxRetries) throw e;
    x.retries++;
    const delay = backoffDelayMs(this.#retry, x.retries, retryDelayMs(e.details));
    this.#log.debug(`remote execution of ${x.proc.description}: ${e.message}; retry ${x.retries} in ${delay} ms`);
    await sleep(delay, x.signal);
  }

  /**
   * What a non-OK status means: a timed-out result (DEADLINE_EXCEEDED),
   * `uploaded` after sending the blobs a FAILED_PRECONDITION named, or
   * undefined to let the caller retry or fail.
   */
  async #handleStatus(x: Execution, { code, message, details, partial }: StatusSeen): Promise<ProcessResult | 'uploaded' | undefined> {
    if (code === Code.DEADLINE_EXCEEDED) {
      return this.#timedOut(x, partial);
    }
    if (code === Code.FAILED_PRECONDITION) {
      const subjects = missingBlobSubjects(details);
      if (subjects.length === 0) return undefined; // not about blobs: fails below
      if (x.missingRounds >= MAX_MISSING_ROUNDS) {
        throw new RpcError(code, this.#o.execution.description, METHODS.execute.name, `${message} (still missing after ${MAX_MISSING_ROUNDS} uploads: ${subjects.slice(0, 3).join(', ')})`, details);
      }
      const digests = subjects.map((s) => {
        const d = parseDigestString(s.replace(/^blobs\//, ''));
        if (d === undefined) throw new RpcError(code, this.#o.execution.description, METHODS.execute.name, `${message} (unrecognized missing-blob subject ${JSON.stringify(s)})`, details);
        return d;
      });
      this.#log.debug(`remote execution of ${x.proc.description}: the server is missing ${digests.length} blob(s); uploading them`);
      // What we believed uploaded was evicted, or the server lost it: forget
      // it all (trees and blobs), and check whole trees again.
      this.#o.uploaded?.clear();
      this.#o.cas.presence.clear();
      await this.#uploadMissing(digests, x.held, x.signal, x.call);
      return 'uploaded';
    }
    return undefined;
  }

  /** Uploads blobs the server said it lacks; a missing Directory needs its whole closure, so each is sent as a tree when it is one. */
  async #uploadMissing(digests: readonly Digest[], held: HeldBlobs, signal: AbortSignal, call: CallContext): Promise<void> {
    const { local, cas } = this.#o;
    const trees: Digest[] = [];
    const blobs: Digest[] = [];
    for (const d of digests) (!held.has(digestString(d)) && (await isDirectory(local, d, signal)) ? trees : blobs).push(d);
    try {
      await ensureUploaded(local, cas, { roots: trees, blobs, held }, undefined, signal, call);
    } catch (e) {
      // A file that merely looked like a Directory: its "children" are not ours to find.
      if (!(isFailureError(e) && e.failure.reason === 'missing-blob') || trees.length === 0) throw e;
      await cas.uploadFrom(local, digests, signal, call, held);
    }
  }

  async #timedOut(x: Execution, partial: ActionResult | undefined): Promise<ProcessResult> {
    const { proc, actionDigest, call, signal, t0 } = x;
    // 128 + SIGTERM, as a local process killed for its timeout reports.
    const ar = partial ?? create(ActionResultSchema, { exitCode: 143 });
    const r = await fetchActionResult(this.#o.local, this.#o.cas, ar, {
      actionDigest,
      source: 'remote',
      behavior: this.#o.contentBehavior,
      timedOut: true,
      startedAt: t0,
      signal,
      call,
    }).catch(() => undefined);
    if (r !== undefined) return { ...r, exitCode: r.exitCode === 0 ? 143 : r.exitCode };
    this.#log.info(`remote execution of ${proc.description} timed out; its partial outputs could not be fetched`);
    return {
      exitCode: 143,
      timedOut: true,
      stdout: EMPTY_DIGEST,
      stderr: EMPTY_DIGEST,
      outputRoot: EMPTY_DIGEST,
      actionDigest,
      source: 'remote',
      durationMs: performance.now() - t0,
      executionMs: null,
      actionResult: create(ActionResultSchema, { exitCode: 143 }),
    };
  }

  /** Best effort, bounded: a server without the Operations service answers UNIMPLEMENTED, which is fine. */
  async #cancel(operation: string, call: CallContext): Promise<void> {
    try {
      await this.#o.execution.unary(METHODS.cancelOperation, create(CancelOperationRequestSchema, { name: operation }), { timeoutMs: CANCEL_TIMEOUT_MS, call });
    } catch (e) {
      this.#log.debug(`CancelOperation ${operation}: ${describeError(e)}`);
    }
  }

  #failure(e: unknown, proc: Process): unknown {
    if (!isRpcError(e)) return e;
    const details = describeDetails(e.details);
    const hints: string[] = [];
    if (e.code === Code.UNAVAILABLE) hints.push('check that the server is running and reachable; trews retried with backoff before giving up');
    if (e.code === Code.UNAUTHENTICATED || e.code === Code.PERMISSION_DENIED) hints.push('check remote_oauth_bearer_token_path (or the authorization header)');
    if (e.code === Code.FAILED_PRECONDITION) {
      const asked = mergePlatform([], proc.platform).map((p) => `${p.name}=${p.value}`).join(', ');
      hints.push(
        proc.remoteEnvironment !== undefined
          ? `the server cannot run this action as asked (platform ${asked}): check \`platform\` and \`extra_platform_properties\` of the environment \`${proc.remoteEnvironment}\`, and remote_execution_extra_platform_properties, against its workers`
          : 'the server cannot run this action as asked: check the platform properties (remote_execution_extra_platform_properties) against its workers',
      );
    }
    if (e.code === Code.INVALID_ARGUMENT) hints.push('the server rejected the action; its message above says why');
    return new FailureError(
      failure('environment', 'remote-execution-failed', `remote execution of ${proc.description} failed: ${e.method} on ${e.server} returned ${codeName(e.code)}${e.serverMessage ? `: ${e.serverMessage}` : ''}`, {
        hints,
        ...(details.length > 0 ? { notes: details } : {}),
      }),
    );
  }
}

/** The ExecuteResponse of a finished operation without an error; a server that sends anything else is at fault (INTERNAL). */
function responseOf(op: Operation, server: string): ExecuteResponse {
  const method = METHODS.execute.name;
  if (op.result.case !== 'response') throw new RpcError(Code.INTERNAL, server, method, 'the operation finished without a response');
  let response: ExecuteResponse | undefined;
  try {
    response = anyUnpack(op.result.value, ExecuteResponseSchema);
  } catch {
    response = undefined;
  }
  if (response === undefined) throw new RpcError(Code.INTERNAL, server, method, `the operation's response is not an ExecuteResponse (${op.result.value.typeUrl})`);
  return response;
}

/** The stage an Operation reports in its ExecuteOperationMetadata; UNKNOWN when it has none. */
function stageOf(op: Operation): ExecutionStage_Value {
  if (op.done) return ExecutionStage_Value.COMPLETED;
  if (op.metadata === undefined) return ExecutionStage_Value.UNKNOWN;
  try {
    return anyUnpack(op.metadata, ExecuteOperationMetadataSchema)?.stage ?? ExecutionStage_Value.UNKNOWN;
  } catch {
    return ExecutionStage_Value.UNKNOWN;
  }
}

/**
 * Whether a local blob is a Directory: MISSING names blobs, not their kinds.
 * Many byte strings decode as some message; a real Directory re-encodes to
 * the same bytes.
 */
async function isDirectory(local: LocalStore, d: Digest, signal: AbortSignal): Promise<boolean> {
  if (d.sizeBytes === 0 || d.sizeBytes > 4 * 1024 * 1024) return false;
  // An input root's Directories may be only staged (nothing wrote them into the store on the way).
  const bytes = await readForUpload(local, d, signal);
  if (bytes === undefined) return false;
  const m = decodeMessage(DirectorySchema, bytes);
  return m.ok && Buffer.compare(Buffer.from(encodeCanonical(DirectorySchema, m.value)), Buffer.from(bytes)) === 0;
}
