import type { PlatformProperty } from '../../exec/index.js';
import type { RemoteAddress } from './address.js';

export type RemoteCacheWarnings = 'ignore' | 'first_only' | 'backoff' | 'always';
export type CacheContentBehavior = 'fetch' | 'validate' | 'defer';

/** How to secure a channel: null for plaintext. */
export interface TlsConfig {
  /** PEM roots from `remote_ca_certs_path`; null means the system's roots (a `grpcs://` address without the option). */
  readonly rootCerts: Buffer | null;
  /** PEM chain and key for mutual TLS (`remote_client_certs_path`, `remote_client_key_path`): both or neither. */
  readonly clientCertChain: Buffer | null;
  readonly clientKey: Buffer | null;
}

/** One remote server in the role it plays for us. */
export interface EndpointConfig {
  readonly role: 'store' | 'execution';
  /** The option the address came from, for messages: `remote_store_server`. */
  readonly option: string;
  readonly address: RemoteAddress;
  readonly tls: TlsConfig | null;
  /** Bearer token (one line of `remote_oauth_bearer_token_path`), sent as `authorization: Bearer …` on every call. */
  readonly token: string | null;
  /** `remote_store_headers` or `remote_execution_headers`, names lower-cased as gRPC metadata requires. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Everything the remote client needs from the options, checked and with the
 * files it names already read: built once, before any work starts, by
 * validateRemoteOptions.
 */
export interface RemoteConfig {
  readonly instanceName: string;
  readonly execution: boolean;
  readonly cacheRead: boolean;
  readonly cacheWrite: boolean;
  readonly store: EndpointConfig;
  /**
   * Set when `remote_execution` is on, or when it is off but
   * `remote_execution_server` is set (and environments are named): then
   * only processes of remote environments run there.
   */
  readonly executionEndpoint: EndpointConfig | null;
  /** `remote_execution_extra_platform_properties`, in the order given. */
  readonly extraPlatformProperties: readonly PlatformProperty[];
  readonly remoteParallelism: number;
  readonly chunkBytes: number;
  readonly storeRpcRetries: number;
  readonly storeRpcTimeoutMs: number;
  readonly cacheRpcTimeoutMs: number;
  readonly batchApiSizeLimit: number;
  readonly warnings: RemoteCacheWarnings;
  readonly cacheContentBehavior: CacheContentBehavior;
  readonly overallDeadlineMs: number;
  /** `remote_execution_queue_warn_after_secs` in ms; 0: never warn. */
  readonly queueWarnAfterMs: number;
}
