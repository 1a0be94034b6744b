import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { hostname } from 'node:os';
import { abortError, digestString, isAbortError, isFailureError, type Logger } from '../../core/index.js';
import type { CommandRunner, PlatformProperty } from '../../exec/index.js';
import type { LocalStore } from '../../store/index.js';
import {
  Code,
  ExecuteResponseSchema,
  ExecutedActionMetadataSchema,
  ExecutionStage_Value,
  type ActionResult,
  type ExecuteRequest,
  type ExecuteResponse,
  type Operation,
  type WaitExecutionRequest,
} from '../../reapi/index.js';
import { shapeResult } from './action-outputs.js';
import type { CasView } from './cas-view.js';
import { inlineOutputs, type InlineRequest } from './inline-outputs.js';
import { checkInputTree } from './input-tree.js';
import type { OperationRegistry, OperationState } from './operation-registry.js';
import { prepareAction, type PreparedAction } from './prepare-action.js';
import type { RecentBlobs } from './recent-blobs.js';
import type { SharedStoreLease } from './shared-lease.js';
import { RpcError, missingBlobs, notFound, okStatus, statusOf } from './rpc-error.js';
import { send, serverStreaming, type CallContext, type RpcEnv } from './rpc.js';
import { checkDigestFunction, checkInstance, requireDigest, type ServerLimits } from './validate.js';
import type { WorkerPool } from './worker-pool.js';

export interface ExecutionOptions {
  /** For the server's own work: running actions, capturing their outputs. */
  readonly store: LocalStore;
  /** The CAS and action cache as clients see them: inputs are checked and cached results looked up here. */
  readonly view: CasView;
  /** Small blobs just uploaded, read from memory when an Execute prepares its action (recent-blobs.ts). */
  readonly recent?: RecentBlobs;
  readonly limits: ServerLimits;
  readonly runner: CommandRunner;
  readonly pool: WorkerPool;
  /** The store lease the running actions share (shared-lease.ts). */
  readonly leases: SharedStoreLease;
  readonly operations: OperationRegistry;
  readonly platform: readonly PlatformProperty[];
  /** Queue actions no worker can run, forever, instead of refusing them (see RemoteServerOptions). */
  readonly queueUnmatchedPlatforms: boolean;
  readonly maxTimeoutMs: number | undefined;
  readonly logger: Logger;
}

/**
 * While an operation runs, its followers get the current state again this
 * often even when nothing changed: a stream that carries nothing for minutes
 * is what proxies and load balancers cut.
 */
const RESEND_MS = 30_000;

export function executionService(env: RpcEnv, o: ExecutionOptions): UntypedServiceImplementation {
  const { store, view, limits, operations, leases, logger } = o;
  const workerName = `${hostname()}/trews-remote-server`;

  const execute = async (req: ExecuteRequest, call: ServerWritableStream<ExecuteRequest, Operation>, ctx: CallContext): Promise<void> => {
    checkInstance(limits, req.instanceName);
    checkDigestFunction(req.digestFunction);
    const actionDigest = requireDigest(req.actionDigest, 'action_digest');
    const inline: InlineRequest = { stdout: req.inlineStdout, stderr: req.inlineStderr, files: req.inlineOutputFiles };
    ctx.note(digestString(actionDigest));

    // A lease on the store from before the inputs are checked until the
    // operation is over: a concurrent `trews gc` keeps what it relies on.
    const release = await leases.acquire();
    let handedOver = false;
    try {
      if (!req.skipCacheLookup) {
        const found = await view.lookupActionResult(actionDigest, ctx.signal);
        if ('result' in found) {
          const op = operations.create(actionDigest, ExecutionStage_Value.CACHE_CHECK);
          operations.complete(
            op,
            create(ExecuteResponseSchema, {
              result: await inlineOutputs(store, found.result, inline, ctx.signal),
              cachedResult: true,
              status: okStatus(),
              message: 'served from the action cache',
            }),
          );
          ctx.note('cache hit');
          logger.info(`action ${digestString(actionDigest)}: served from the action cache (${op.name})`);
          await send(call, operations.toMessage(op), ctx.signal);
          return;
        }
      }

      const prepared = await prepareAction(o.recent?.reader(view) ?? view, actionDigest, { offeredPlatform: o.platform, queueUnmatchedPlatforms: o.queueUnmatchedPlatforms, maxTimeoutMs: o.maxTimeoutMs });
      const op = operations.create(actionDigest, ExecutionStage_Value.QUEUED);
      ctx.note(op.name);
      // Followed from the start, so a client that drops at once still counts as having been there.
      const unfollow = operations.follow(op);
      handedOver = true;
      void runOperation(op, prepared, inline, req.executionPolicy?.priority ?? 0).finally(release);
      await follow(op, call, ctx, unfollow);
    } finally {
      if (!handedOver) await release();
    }
  };

  const waitExecution = async (req: WaitExecutionRequest, call: ServerWritableStream<WaitExecutionRequest, Operation>, ctx: CallContext): Promise<void> => {
    const op = operations.get(req.name);
    if (op === undefined) {
      throw notFound(`operation ${JSON.stringify(req.name)} is unknown to this server (finished long ago, or the server restarted); call Execute again`);
    }
    ctx.note(op.name);
    await follow(op, call, ctx, operations.follow(op));
  };

  /** Streams the operation's state: now, at every change, and every RESEND_MS; ends once it is done. */
  const follow = async <Req>(op: OperationState, call: ServerWritableStream<Req, Operation>, ctx: CallContext, unfollow: () => void): Promise<void> => {
    try {
      let sent = -1;
      for (;;) {
        if (ctx.signal.aborted) return;
        if (op.version !== sent) {
          sent = op.version;
          await send(call, operations.toMessage(op), ctx.signal);
          if (op.done) return;
        }
        const before = op.version;
        await operations.waitForChange(op, sent, RESEND_MS, ctx.signal);
        if (op.version === before) sent = -1; // nothing changed: send the same state again
      }
    } finally {
      unfollow();
    }
  };

  /** Queues, runs and completes one operation. Never throws: every outcome is an ExecuteResponse. */
  const runOperation = async (op: OperationState, prepared: PreparedAction, inline: InlineRequest, priority: number): Promise<void> => {
    const signal = op.controller.signal;
    let response: ExecuteResponse;
    let worker = 0;
    const t0 = Date.now();
    let startedAt = t0;
    let result: ActionResult | undefined;
    /** The action cache write, awaited once the operation is complete: the client need not wait for it, and a lookup of the action does (cas-view.ts). */
    let caching: Promise<void> | undefined;
    try {
      if (prepared.unmatchedPlatform !== undefined) {
        logger.info(`action ${digestString(prepared.actionDigest)}: stays queued, no worker can run it (${prepared.unmatchedPlatform}) (${op.name})`);
        await untilAborted(signal);
        throw abortError();
      }
      const run = await o.pool.run(priority, signal, async (w) => {
        worker = w;
        startedAt = Date.now();
        operations.setStage(op, ExecutionStage_Value.EXECUTING);
        return o.runner.run({ signal, runId: op.name, logger }, prepared.process);
      });
      result = await shapeResult(store, prepared, run.actionResult, signal);
      const metadata = result.executionMetadata ?? create(ExecutedActionMetadataSchema);
      metadata.worker = `${workerName}/worker-${worker}`;
      metadata.queuedTimestamp = timestampFromMs(op.queuedAt);
      if (run.executionMs !== null) metadata.virtualExecutionDuration = durationFromMs(run.executionMs);
      result.executionMetadata = metadata;
      if (run.timedOut) {
        const e = new RpcError(Code.DEADLINE_EXCEEDED, `the action timed out after ${(prepared.timeoutMs ?? 0) / 1000}s and was killed`);
        response = create(ExecuteResponseSchema, { result, status: statusOf(e), message: e.message });
      } else {
        response = create(ExecuteResponseSchema, { result, status: okStatus() });
        // REAPI: cache unless do_not_cache; like Bazel's and Buildbarn's
        // servers, only successful runs, so that a flaky failure is retried.
        if (!prepared.doNotCache && result.exitCode === 0) {
          caching = view.updateActionResult(prepared.actionDigest, result).catch((e: unknown) =>
            logger.warn(`action ${digestString(prepared.actionDigest)}: cannot store its result in the action cache: ${String(e)}`),
          );
        }
      }
    } catch (e) {
      const err = await executionError(e, op, prepared);
      response = create(ExecuteResponseSchema, { status: statusOf(err), message: err.message });
      if (result !== undefined) response.result = result;
    }
    if (response.result !== undefined && !signal.aborted) {
      response.result = await inlineOutputs(store, response.result, inline).catch(() => response.result);
    }
    operations.complete(op, response);
    await caching;
    const code = response.status?.code ?? Code.OK;
    const queued = ((startedAt - t0) / 1000).toFixed(2);
    const ran = ((Date.now() - startedAt) / 1000).toFixed(2);
    const outcome =
      code === Code.OK ? `exit ${response.result?.exitCode ?? '?'}` : `${Code[code] ?? code}: ${response.status?.message ?? ''}`;
    logger.info(
      `action ${digestString(prepared.actionDigest)}: ${outcome} in ${ran}s (queued ${queued}s)${worker > 0 ? ` on worker ${worker}` : ''}: ${prepared.command.arguments.slice(0, 3).join(' ').slice(0, 120)}`,
    );
  };

  /** What a failed execution reports in ExecuteResponse.status. */
  const executionError = async (e: unknown, op: OperationState, prepared: PreparedAction): Promise<RpcError> => {
    if (op.cancelReason !== undefined || isAbortError(e)) {
      switch (op.cancelReason) {
        case 'shutdown':
          return new RpcError(Code.UNAVAILABLE, 'the remote execution server is shutting down; the action was stopped (retry it)');
        case 'abandoned':
          return new RpcError(Code.CANCELLED, 'the action was cancelled: no client followed it any more');
        default:
          return new RpcError(Code.CANCELLED, 'the action was cancelled by CancelOperation');
      }
    }
    if (e instanceof RpcError) return e;
    if (isFailureError(e)) {
      const f = e.failure;
      if (f.reason === 'missing-blob') {
        // Evicted between the check at creation and the run: say which blobs, so the client can upload them.
        const tree = await checkInputTree(view, requireDigest(prepared.action.inputRootDigest, 'input_root_digest')).catch(() => undefined);
        if (tree !== undefined && tree.missing.length > 0) return missingBlobs(tree.missing, `inputs of action ${digestString(prepared.actionDigest)}`);
        return new RpcError(Code.FAILED_PRECONDITION, f.message);
      }
      // The action wrote to its inputs (hard links into this server's CAS), or
      // ran while another action sharing a blob did: its result is discarded
      // and the blob removed. Not INTERNAL, which clients retry: running it
      // again writes again. FAILED_PRECONDITION without MISSING violations is
      // "fix the action", and the next Execute re-uploads the blob.
      if (f.reason === 'input-modified') return new RpcError(Code.FAILED_PRECONDITION, f.message);
      // A program the worker does not have, an output of the wrong kind:
      // REAPI's "errors in setting up the action" and ActionResult's
      // FAILED_PRECONDITION for an output file that is a directory.
      if (f.tag === 'input' || f.reason === 'program-not-found') {
        return new RpcError(Code.FAILED_PRECONDITION, [f.message, ...(f.notes ?? [])].join('; '));
      }
      return new RpcError(Code.INTERNAL, `the worker failed: ${f.message}`);
    }
    logger.error(`action ${digestString(prepared.actionDigest)}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return new RpcError(Code.INTERNAL, `internal error in the worker: ${e instanceof Error ? e.message : String(e)}`);
  };

  return {
    execute: serverStreaming(env, 'Execute', execute),
    waitExecution: serverStreaming(env, 'WaitExecution', waitExecution),
  };
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
