import { create, toBinary } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { randomUUID } from 'node:crypto';
import type { Digest } from '../../core/index.js';
import {
  DigestFunction_Value,
  ExecuteOperationMetadataSchema,
  ExecuteResponseSchema,
  ExecutionStage_Value,
  OperationSchema,
  toProtoDigest,
  type ExecuteResponse,
  type Operation,
} from '../../reapi/index.js';

/** Why an operation was cancelled; decides the status its ExecuteResponse carries. */
export type CancelReason = 'client' | 'abandoned' | 'shutdown';

/** One Execute: what it runs, where it stands, and who is following it. */
export interface OperationState {
  readonly name: string;
  readonly actionDigest: Digest;
  readonly queuedAt: number;
  stage: ExecutionStage_Value;
  done: boolean;
  response: ExecuteResponse | undefined;
  /** Aborted to cancel the execution (the runner kills the process group). */
  readonly controller: AbortController;
  cancelReason: CancelReason | undefined;
  /** Bumped on every change; followers compare it to know what they have sent. */
  version: number;
  /** Streams (Execute, WaitExecution, WaitOperation) currently following it. */
  followers: number;
  readonly changed: Set<() => void>;
  abandonTimer: NodeJS.Timeout | undefined;
  completedAt: number | undefined;
  /** Encoded size of the response, for the bound on what finished operations may hold. */
  responseBytes: number;
}

export interface OperationRegistryOptions {
  /**
   * How long an unfinished operation may have nobody following it before it
   * is cancelled. Clients whose stream broke reconnect with WaitExecution;
   * this grace period is what they have to do so.
   */
  readonly abandonGraceMs: number;
  /** Called to cancel an operation that nobody follows any more. */
  readonly onAbandoned: (op: OperationState) => void;
}

/** Finished operations stay this long for WaitExecution / GetOperation of a result just missed. */
const RETAIN_DONE_MS = 10 * 60 * 1000;
const RETAIN_DONE_MAX = 10_000;
/** Responses may carry inlined outputs (up to 1 MiB each): what finished operations hold in all is bounded too. */
const RETAIN_DONE_BYTES = 64 * 1024 * 1024;

/**
 * Every operation this server created that is live or recently finished, by
 * name. Names are `operations/<uuid>`: unique, unguessable, and meaningful
 * only to this server process (a restarted server answers NOT_FOUND, upon
 * which REAPI clients Execute again).
 */
export class OperationRegistry {
  readonly #ops = new Map<string, OperationState>();
  #doneBytes = 0;
  readonly #o: OperationRegistryOptions;

  constructor(o: OperationRegistryOptions) {
    this.#o = o;
  }

  create(actionDigest: Digest, stage: ExecutionStage_Value): OperationState {
    this.#prune();
    const op: OperationState = {
      name: `operations/${randomUUID()}`,
      actionDigest,
      queuedAt: Date.now(),
      stage,
      done: false,
      response: undefined,
      controller: new AbortController(),
      cancelReason: undefined,
      version: 0,
      followers: 0,
      changed: new Set(),
      abandonTimer: undefined,
      completedAt: undefined,
      responseBytes: 0,
    };
    this.#ops.set(op.name, op);
    return op;
  }

  get(name: string): OperationState | undefined {
    return this.#ops.get(name);
  }

  live(): OperationState[] {
    return [...this.#ops.values()].filter((op) => !op.done);
  }

  setStage(op: OperationState, stage: ExecutionStage_Value): void {
    if (op.done || op.stage === stage) return;
    op.stage = stage;
    this.#bump(op);
  }

  complete(op: OperationState, response: ExecuteResponse): void {
    if (op.done) return;
    op.stage = ExecutionStage_Value.COMPLETED;
    op.done = true;
    op.response = response;
    op.completedAt = Date.now();
    op.responseBytes = toBinary(ExecuteResponseSchema, response).byteLength;
    this.#doneBytes += op.responseBytes;
    if (op.abandonTimer !== undefined) clearTimeout(op.abandonTimer);
    op.abandonTimer = undefined;
    this.#bump(op);
  }

  cancel(op: OperationState, reason: CancelReason): void {
    if (op.done || op.controller.signal.aborted) return;
    op.cancelReason = reason;
    op.controller.abort();
  }

  /** Registers a follower; the returned function unregisters it (which may start the abandonment clock). */
  follow(op: OperationState): () => void {
    op.followers++;
    if (op.abandonTimer !== undefined) clearTimeout(op.abandonTimer);
    op.abandonTimer = undefined;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      op.followers--;
      if (op.followers === 0) this.#startAbandonClock(op);
    };
  }

  /** A poll (GetOperation) shows interest too: it restarts the abandonment clock. */
  touch(op: OperationState): void {
    if (op.abandonTimer === undefined) return;
    clearTimeout(op.abandonTimer);
    op.abandonTimer = undefined;
    this.#startAbandonClock(op);
  }

  /** Resolves when `op` changes, when `timeoutMs` passes, or when `signal` aborts. */
  waitForChange(op: OperationState, seen: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (op.version !== seen || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        op.changed.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      op.changed.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The google.longrunning.Operation REAPI clients see: ExecuteOperationMetadata, and the ExecuteResponse when done. */
  toMessage(op: OperationState): Operation {
    const metadata = anyPack(
      ExecuteOperationMetadataSchema,
      create(ExecuteOperationMetadataSchema, {
        stage: op.stage,
        actionDigest: toProtoDigest(op.actionDigest),
        digestFunction: DigestFunction_Value.SHA256,
      }),
    );
    return create(OperationSchema, {
      name: op.name,
      metadata,
      done: op.done,
      // REAPI: errors of the execution go in ExecuteResponse.status; Operation.error is never set.
      result:
        op.done && op.response !== undefined
          ? { case: 'response', value: anyPack(ExecuteResponseSchema, op.response) }
          : { case: undefined },
    });
  }

  #bump(op: OperationState): void {
    op.version++;
    for (const f of [...op.changed]) f();
  }

  #startAbandonClock(op: OperationState): void {
    if (op.done) return;
    op.abandonTimer = setTimeout(() => {
      op.abandonTimer = undefined;
      if (!op.done && op.followers === 0) this.#o.onAbandoned(op);
    }, this.#o.abandonGraceMs);
    op.abandonTimer.unref();
  }

  #prune(): void {
    const now = Date.now();
    let done = 0;
    for (const op of this.#ops.values()) if (op.done) done++;
    // Map order is creation order, so the oldest finished operations go first.
    for (const [name, op] of this.#ops) {
      if (!op.done) continue;
      const expired = now - (op.completedAt ?? now) > RETAIN_DONE_MS;
      if (!expired && done <= RETAIN_DONE_MAX && this.#doneBytes <= RETAIN_DONE_BYTES) continue;
      this.#ops.delete(name);
      this.#doneBytes -= op.responseBytes;
      done--;
    }
  }
}
