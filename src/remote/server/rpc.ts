import type {
  Metadata,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
} from '@grpc/grpc-js';
import { isAbortError, isFailureError, type Logger } from '../../core/index.js';
import { Code } from '../../reapi/index.js';
import type { Authenticator } from './auth.js';
import { describeRequestMetadata } from './request-metadata.js';
import { RpcError, codeName, isRpcError, toServiceError } from './rpc-error.js';

/** What every service handler gets besides its request. */
export interface CallContext {
  /** Aborted when the client cancels the call or goes away, and when the server shuts down. */
  readonly signal: AbortSignal;
  readonly metadata: Metadata;
  /** Adds a short fact to this call's log line (`3 missing`, `offset 0`). */
  note(text: string): void;
}

/** Shared by the wrappers: how calls are authenticated and logged, and the server-wide shutdown. */
export interface RpcEnv {
  readonly logger: Logger;
  readonly auth: Authenticator | undefined;
  readonly shutdown: Shutdown;
}

/**
 * Cancels every call in progress at once when the server stops. One set of
 * callbacks rather than an 'abort' listener per call on one shared signal:
 * past 10 concurrent calls Node would print MaxListenersExceededWarning.
 */
export class Shutdown {
  readonly #waiting = new Set<() => void>();
  #triggered = false;

  get triggered(): boolean {
    return this.#triggered;
  }

  /** Calls `fn` on shutdown (at once if it has happened); returns the way to unregister. */
  register(fn: () => void): () => void {
    if (this.#triggered) {
      fn();
      return () => undefined;
    }
    this.#waiting.add(fn);
    return () => void this.#waiting.delete(fn);
  }

  trigger(): void {
    if (this.#triggered) return;
    this.#triggered = true;
    for (const fn of [...this.#waiting]) fn();
    this.#waiting.clear();
  }
}

interface CallLike {
  readonly metadata: Metadata;
  getPeer(): string;
  on(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
}

class Call implements CallContext {
  readonly signal: AbortSignal;
  readonly metadata: Metadata;
  readonly #env: RpcEnv;
  readonly #method: string;
  readonly #peer: string;
  readonly #start = performance.now();
  readonly #notes: string[] = [];
  readonly #controller = new AbortController();
  readonly #detach: () => void;

  constructor(env: RpcEnv, method: string, call: CallLike) {
    this.#env = env;
    this.#method = method;
    this.#peer = call.getPeer();
    this.metadata = call.metadata;
    this.signal = this.#controller.signal;
    const onCancel = (): void => this.#controller.abort();
    call.on('cancelled', onCancel);
    const unregister = env.shutdown.register(onCancel);
    this.#detach = () => {
      call.removeListener('cancelled', onCancel);
      unregister();
    };
  }

  note(text: string): void {
    this.#notes.push(text);
  }

  /** Refuses the call before its handler runs when authentication fails. */
  authenticate(): RpcError | undefined {
    return this.#env.auth?.check(this.metadata);
  }

  /** Ends the call: one log line at debug level (errors that are bugs at error level). */
  finish(code: number, message?: string): void {
    this.#detach();
    const { logger } = this.#env;
    const level = code === Code.INTERNAL || code === Code.UNKNOWN ? 'error' : 'debug';
    if (!logger.enabled(level)) return;
    const ms = (performance.now() - this.#start).toFixed(1);
    const who = describeRequestMetadata(this.metadata);
    const parts = [`rpc ${this.#method}`, codeName(code), `${ms}ms`, `peer=${this.#peer}`];
    if (who !== '') parts.push(who);
    if (this.#notes.length > 0) parts.push(this.#notes.join(', '));
    if (message !== undefined && code !== Code.OK) parts.push(`: ${message}`);
    logger[level](parts.join(' '));
  }
}

/**
 * Turns whatever a handler threw into an RpcError. Failures of the store
 * and runner that are the request's fault map to INVALID_ARGUMENT; the
 * machine's to UNAVAILABLE (clients retry those); anything else is a bug.
 */
export function toRpcError(e: unknown, ctx?: CallContext): RpcError {
  if (isRpcError(e)) return e;
  if (isAbortError(e) || ctx?.signal.aborted) return new RpcError(Code.CANCELLED, 'the call was cancelled');
  if (isFailureError(e)) {
    const f = e.failure;
    if (f.tag === 'input') return new RpcError(Code.INVALID_ARGUMENT, f.message);
    if (f.tag === 'environment') return new RpcError(Code.UNAVAILABLE, f.message);
    return new RpcError(Code.INTERNAL, f.message);
  }
  const why = e instanceof Error ? (e.stack ?? e.message) : String(e);
  return new RpcError(Code.INTERNAL, `internal error: ${why.split('\n')[0] ?? why}`);
}

function logBug(env: RpcEnv, method: string, e: unknown): void {
  if (isRpcError(e) || isFailureError(e) || isAbortError(e)) return;
  env.logger.error(`rpc ${method}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
}

export function unary<Req, Res>(
  env: RpcEnv,
  method: string,
  handler: (request: Req, ctx: CallContext) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback) => {
    const ctx = new Call(env, method, call);
    const denied = ctx.authenticate();
    if (denied !== undefined) {
      ctx.finish(denied.code, denied.message);
      callback(toServiceError(denied));
      return;
    }
    handler(call.request, ctx).then(
      (response) => {
        ctx.finish(Code.OK);
        callback(null, response);
      },
      (e: unknown) => {
        logBug(env, method, e);
        const err = toRpcError(e, ctx);
        ctx.finish(err.code, err.message);
        callback(toServiceError(err));
      },
    );
  };
}

export function serverStreaming<Req, Res>(
  env: RpcEnv,
  method: string,
  handler: (request: Req, call: ServerWritableStream<Req, Res>, ctx: CallContext) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call: ServerWritableStream<Req, Res>) => {
    const ctx = new Call(env, method, call);
    const denied = ctx.authenticate();
    if (denied !== undefined) {
      ctx.finish(denied.code, denied.message);
      call.emit('error', toServiceError(denied));
      return;
    }
    handler(call.request, call, ctx).then(
      () => {
        ctx.finish(ctx.signal.aborted ? Code.CANCELLED : Code.OK);
        call.end();
      },
      (e: unknown) => {
        logBug(env, method, e);
        const err = toRpcError(e, ctx);
        ctx.finish(err.code, err.message);
        // grpc-js ends the stream with this status (messages already sent stay sent).
        call.emit('error', toServiceError(err));
      },
    );
  };
}

export function clientStreaming<Req, Res>(
  env: RpcEnv,
  method: string,
  handler: (call: ServerReadableStream<Req, Res>, ctx: CallContext) => Promise<Res>,
): handleClientStreamingCall<Req, Res> {
  return (call: ServerReadableStream<Req, Res>, callback) => {
    const ctx = new Call(env, method, call);
    const denied = ctx.authenticate();
    if (denied !== undefined) {
      ctx.finish(denied.code, denied.message);
      callback(toServiceError(denied));
      return;
    }
    handler(call, ctx).then(
      (response) => {
        ctx.finish(Code.OK);
        callback(null, response);
      },
      (e: unknown) => {
        logBug(env, method, e);
        const err = toRpcError(e, ctx);
        ctx.finish(err.code, err.message);
        callback(toServiceError(err));
      },
    );
  };
}

/**
 * Writes one message to a server stream, waiting for the transport to drain
 * when its buffer is full, so a slow client slows the producer instead of
 * filling memory. Rejects with CANCELLED when the call goes away meanwhile.
 */
export async function send<Req, Res>(call: ServerWritableStream<Req, Res>, message: Res, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new RpcError(Code.CANCELLED, 'the call was cancelled');
  if (call.write(message)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      call.removeListener('drain', onDrain);
      signal.removeEventListener('abort', onAbort);
    };
    const onDrain = (): void => {
      done();
      resolve();
    };
    const onAbort = (): void => {
      done();
      reject(new RpcError(Code.CANCELLED, 'the call was cancelled'));
    };
    call.once('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
