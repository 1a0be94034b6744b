// The REAPI v2 client: remote CAS and action cache as store interfaces, and
// the remote cache and remote execution layers of the runner stack. See
// README.md for the decisions behind it.
export { createRemoteLayers, createRemoteLayersFromConfig, type RemoteLayers, type RemoteLayersDeps } from './remote-layers.js';
export { validateRemoteOptions, parseTokenFile, parseHeaders, nodeOptionFiles, type OptionFiles } from './validate-options.js';
export { remoteConfigFingerprint } from './config-fingerprint.js';
export type { RemoteConfig, EndpointConfig, TlsConfig, RemoteCacheWarnings, CacheContentBehavior } from './remote-config.js';
export { parseRemoteAddress, type RemoteAddress } from './address.js';
export { createChannelPool, type ChannelPool, type RemoteEndpoint, type CallOptions, type RpcCounts } from './channel.js';
export { fetchCapabilities, checkCapabilities, clearCapabilitiesCache, type RemoteCapabilities } from './capabilities.js';
export { createRemoteBlobStore, type RemoteBlobStore, type RemoteBlobStoreOptions, type TransferStats } from './remote-blob-store.js';
export { createRemoteActionCache, type RemoteActionCache, type RemoteActionCacheOptions } from './remote-action-cache.js';
export { createRemoteCacheRunner, type RemoteCacheRunner, type RemoteCacheRunnerOptions } from './remote-cache-runner.js';
export { createRemoteExecutionRunner, EXECUTE_RETRY, type RemoteExecutionRunnerOptions } from './remote-execution-runner.js';
export { createFetchingStore } from './fetching-store.js';
export { ensureUploaded, UploadedTrees } from './ensure-uploaded.js';
export { mergePlatform, forRemote } from './platform.js';
export { createCacheWarner, shouldShow, type CacheWarner, type WarningSink, type WarningTarget } from './warnings.js';
export { DEFAULT_RETRY, backoffDelayMs, isRetryableCode, withRetries, type RetryPolicy } from './retry.js';
export { RpcError, isRpcError } from './rpc-error.js';
export { REQUEST_METADATA_HEADER, requestMetadataBytes, type CallContext } from './request-metadata.js';
export {
  effectiveBatchLimit,
  planBatches,
  fitsInBatch,
  GRPC_DEFAULT_MAX_MESSAGE_BYTES,
  MESSAGE_MARGIN_BYTES,
  PER_BLOB_OVERHEAD_BYTES,
  MAX_DIGESTS_PER_FIND_MISSING,
} from './batching.js';
export { readResourceName, writeResourceName } from './bytestream.js';
