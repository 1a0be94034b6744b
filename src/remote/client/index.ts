// The remote client: the remote cache and remote execution layers of the
// runner stack, over a provider chosen by the store server's scheme (REAPI
// over gRPC, or the HTTP cache protocol). See README.md for the decisions
// behind it.
//
// Nothing exported here loads a transport: the CLI loads this module for
// every run with a remote option, and each provider's module (the gRPC one
// costs ~60 ms) is imported only when a run uses it (load-provider.ts).
// Tests reach a provider's parts through their own files.
export { createRemoteLayers, createRemoteLayersFromConfig, type RemoteLayers, type RemoteLayersDeps } from './remote-layers.js';
export type { ByteStoreProvider, ActionCacheProvider, CacheAccess, RemoteProvider, TransferStats } from './provider.js';
export { validateRemoteOptions, parseTokenFile, parseHeaders, nodeOptionFiles, type OptionFiles } from './validate-options.js';
export { remoteConfigFingerprint } from './config-fingerprint.js';
export type { RemoteConfig, EndpointConfig, TlsConfig, RemoteCacheWarnings, CacheContentBehavior } from './remote-config.js';
export { parseRemoteAddress, protocolOf, type RemoteAddress } from './address.js';
export { createRemoteCacheRunner, type RemoteCacheRunner, type RemoteCacheRunnerOptions } from './remote-cache-runner.js';
export { createFetchingStore } from './fetching-store.js';
export { ensureUploaded, UploadedTrees } from './ensure-uploaded.js';
export { mergePlatform, forRemote } from './platform.js';
export { createCacheWarner, shouldShow, type CacheWarner, type WarningSink, type WarningTarget } from './warnings.js';
export { DEFAULT_RETRY, backoffDelayMs, isRetryableCode, withRetries, type RetryPolicy } from './retry.js';
export { RpcError, isRpcError } from './rpc-error.js';
export { REQUEST_METADATA_HEADER, requestMetadataBytes, type CallContext } from './request-metadata.js';
