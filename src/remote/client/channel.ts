import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { Client, Metadata, credentials, type ChannelCredentials, type ClientWritableStream } from '@grpc/grpc-js';
import { abortError } from '../../core/index.js';
import { ipTlsCredentials } from './ip-tls-credentials.js';
import type { Method } from './methods.js';
import type { EndpointConfig } from './remote-config.js';
import { REQUEST_METADATA_HEADER, requestMetadataBytes, type CallContext } from './request-metadata.js';
import { fromServiceError } from './rpc-error.js';
import { onAbort } from './signals.js';

export interface CallOptions {
  /** Deadline of the call, from now; none when unset. */
  readonly timeoutMs?: number;
  /** Aborting cancels the call; the promise (or iteration) rejects with an AbortError. */
  readonly signal?: AbortSignal;
  readonly call?: CallContext;
}

/** A client-streaming call in progress (ByteStream Write). */
export interface ClientStreamCall<I, O> {
  /** Resolves once the message is handed to the transport (waits for drain: bounded memory). */
  write(message: I): Promise<void>;
  /** Half-closes the stream; the response follows. */
  end(): void;
  cancel(): void;
  /** The server's response; it may come before `end()` (early completion). */
  readonly response: Promise<O>;
  /** True once the response or an error has arrived. */
  readonly settled: boolean;
}

/**
 * One remote server in one role, with its headers and token applied to every
 * call. Store and execution endpoints at the same address share the
 * underlying channel (one HTTP/2 connection), as REAPI clients usually do.
 */
export interface RemoteEndpoint {
  /** `remote_store_server grpc://127.0.0.1:8980`: how errors name the server. */
  readonly description: string;
  /** `host:port`: endpoints sharing it are one server. */
  readonly target: string;
  /** The server as this client reaches it (address, TLS material, token, instance): what capabilities are cached by. */
  readonly identity: string;
  readonly instanceName: string;
  unary<I, O>(m: Method<I, O>, request: I, options?: CallOptions): Promise<O>;
  serverStream<I, O>(m: Method<I, O>, request: I, options?: CallOptions): AsyncGenerator<O, void, undefined>;
  clientStream<I, O>(m: Method<I, O>, options?: CallOptions): ClientStreamCall<I, O>;
}

/** Counts of calls made, by method name: what the benchmark reports as RPCs per action. */
export type RpcCounts = Readonly<Record<string, number>>;

export interface ChannelPool {
  endpoint(config: EndpointConfig, instanceName: string): RemoteEndpoint;
  rpcCounts(): RpcCounts;
  /** Closes every channel; calls in flight fail. */
  close(): void;
}

/**
 * Channel settings. Reconnection backs off from 200 ms to 5 s (grpc's own
 * default grows to 2 minutes, far longer than our retries wait, so a
 * restarted server would look dead for the rest of the run). Messages up to
 * 32 MiB are accepted: we keep our requests small, but servers choose the
 * size of ByteStream chunks and GetTree pages.
 */
const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.min_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5000,
  'grpc.max_receive_message_length': 32 * 1024 * 1024,
  'grpc.primary_user_agent': 'trews',
  'grpc-node.flow_control_window': 8 * 1024 * 1024,
};

export function createChannelPool(): ChannelPool {
  return new Pool();
}

class Pool implements ChannelPool {
  readonly #clients = new Map<string, Client>();
  readonly #counts = new Map<string, number>();

  endpoint(config: EndpointConfig, instanceName: string): RemoteEndpoint {
    const key = channelKey(config);
    let client = this.#clients.get(key);
    if (client === undefined) {
      client = new Client(config.address.target, channelCredentials(config), CHANNEL_OPTIONS);
      this.#clients.set(key, client);
    }
    return new Endpoint(client, config, instanceName, (name) => this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1));
  }

  rpcCounts(): RpcCounts {
    return Object.fromEntries([...this.#counts].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}

function channelKey(c: EndpointConfig): string {
  const h = createHash('sha256').update(c.address.target).update('\0');
  if (c.tls !== null) {
    h.update('tls\0');
    for (const b of [c.tls.rootCerts, c.tls.clientCertChain, c.tls.clientKey]) h.update(b ?? 'system').update('\0');
  }
  return h.digest('hex');
}

function channelCredentials(c: EndpointConfig): ChannelCredentials {
  if (c.tls === null) return credentials.createInsecure();
  // grpc-js would send the IP as TLS ServerName, which RFC 6066 forbids (and Node warns about).
  if (isIP(c.address.host) !== 0) return ipTlsCredentials(c.tls, c.address.host);
  return credentials.createSsl(c.tls.rootCerts, c.tls.clientKey, c.tls.clientCertChain);
}

function describeEndpoint(c: EndpointConfig): string {
  const shown = c.address.scheme === 'none' ? `${c.tls !== null ? 'grpcs' : 'grpc'}://${c.address.target}` : c.address.text;
  return `${c.option} ${shown}`;
}

class Endpoint implements RemoteEndpoint {
  readonly description: string;
  readonly target: string;
  readonly identity: string;
  readonly instanceName: string;
  readonly #client: Client;
  readonly #config: EndpointConfig;
  readonly #count: (name: string) => void;

  constructor(client: Client, config: EndpointConfig, instanceName: string, count: (name: string) => void) {
    this.#client = client;
    this.#config = config;
    this.instanceName = instanceName;
    this.description = describeEndpoint(config);
    this.target = config.address.target;
    this.identity = createHash('sha256')
      .update(channelKey(config))
      .update('\0')
      .update(config.token ?? '')
      .update('\0')
      .update(instanceName)
      .digest('hex');
    this.#count = count;
  }

  #metadata(call: CallContext | undefined): Metadata {
    const md = new Metadata();
    for (const [k, v] of Object.entries(this.#config.headers)) md.set(k, v);
    // Sent on plaintext channels too (grpc-js call credentials refuse to):
    // servers on a trusted network or behind a TLS-terminating proxy use it.
    if (this.#config.token !== null) md.set('authorization', `Bearer ${this.#config.token}`);
    md.set(REQUEST_METADATA_HEADER, requestMetadataBytes(call ?? {}));
    return md;
  }

  #callOptions(o: CallOptions | undefined): { deadline?: number } {
    return o?.timeoutMs !== undefined ? { deadline: Date.now() + o.timeoutMs } : {};
  }

  unary<I, O>(m: Method<I, O>, request: I, o?: CallOptions): Promise<O> {
    const signal = o?.signal;
    if (signal?.aborted) return Promise.reject(abortError());
    this.#count(m.name);
    return new Promise<O>((resolve, reject) => {
      let off = (): void => undefined;
      const call = this.#client.makeUnaryRequest<I, O>(
        m.def.path,
        m.def.requestSerialize,
        m.def.responseDeserialize,
        request,
        this.#metadata(o?.call),
        this.#callOptions(o),
        (e, value) => {
          off();
          if (signal?.aborted) reject(abortError());
          else if (e) reject(fromServiceError(e, this.description, m.name));
          else resolve(value as O);
        },
      );
      if (signal !== undefined) off = onAbort(signal, () => call.cancel());
    });
  }

  async *serverStream<I, O>(m: Method<I, O>, request: I, o?: CallOptions): AsyncGenerator<O, void, undefined> {
    const signal = o?.signal;
    if (signal?.aborted) throw abortError();
    this.#count(m.name);
    const call = this.#client.makeServerStreamRequest<I, O>(m.def.path, m.def.requestSerialize, m.def.responseDeserialize, request, this.#metadata(o?.call), this.#callOptions(o));
    const off = signal === undefined ? () => undefined : onAbort(signal, () => call.cancel());
    let finished = false;
    try {
      for await (const message of call) yield message as O;
      finished = true;
    } catch (e) {
      if (signal?.aborted) throw abortError();
      throw fromServiceError(e, this.description, m.name);
    } finally {
      off();
      // The consumer stopped early (break, or an error of its own): tell the server.
      if (!finished) call.cancel();
    }
  }

  clientStream<I, O>(m: Method<I, O>, o?: CallOptions): ClientStreamCall<I, O> {
    const signal = o?.signal;
    this.#count(m.name);
    let settled = false;
    let resolveResponse!: (v: O) => void;
    let rejectResponse!: (e: unknown) => void;
    const response = new Promise<O>((res, rej) => {
      resolveResponse = res;
      rejectResponse = rej;
    });
    // Rejections are observed by whoever awaits `response`; a writer that
    // fails first must not leave an unhandled one behind.
    response.catch(() => undefined);
    let off = (): void => undefined;
    const call: ClientWritableStream<I> = this.#client.makeClientStreamRequest<I, O>(
      m.def.path,
      m.def.requestSerialize,
      m.def.responseDeserialize,
      this.#metadata(o?.call),
      this.#callOptions(o),
      (e, value) => {
        settled = true;
        off();
        if (signal?.aborted) rejectResponse(abortError());
        else if (e) rejectResponse(fromServiceError(e, this.description, m.name));
        else resolveResponse(value as O);
      },
    );
    call.on('error', () => undefined); // reported through the callback
    if (signal?.aborted) call.cancel();
    else if (signal !== undefined && !settled) off = onAbort(signal, () => call.cancel());

    return {
      get settled() {
        return settled;
      },
      response,
      write: (message: I) =>
        new Promise<void>((resolve, reject) => {
          if (settled) {
            resolve();
            return;
          }
          const ok = call.write(message, (e: Error | null | undefined) => {
            if (e && !settled) reject(fromServiceError(e, this.description, m.name));
          });
          if (ok) resolve();
          else {
            const onDrain = (): void => {
              call.off('close', onDrain);
              resolve();
            };
            call.once('drain', onDrain);
            call.once('close', onDrain);
          }
        }),
      end: () => {
        if (!settled) call.end();
      },
      cancel: () => call.cancel(),
    };
  }
}
