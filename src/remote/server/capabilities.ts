import { create } from '@bufbuild/protobuf';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  DigestFunction_Value,
  ServerCapabilitiesSchema,
  SymlinkAbsolutePathStrategy_Value,
  type GetCapabilitiesRequest,
  type ServerCapabilities,
} from '../../reapi/index.js';
import { unary, type RpcEnv } from './rpc.js';
import { checkInstance, type ServerLimits } from './validate.js';

/**
 * The REAPI versions this server implements. 2.1 brought `output_paths` and
 * `output_symlinks`, 2.2 `Action.platform`, 2.3 digest functions in requests
 * and resource names, PATH lookup of argv[0] relative to the working
 * directory, `output_directory_format` (we always fill both `tree_digest`
 * and `root_directory_digest`, a superset the spec allows) and
 * `virtual_execution_duration`. v2.0 stays supported: `output_files` /
 * `output_directories` and `Command.platform` are honoured.
 */
export const LOW_API_VERSION = { major: 2, minor: 0 } as const;
export const HIGH_API_VERSION = { major: 2, minor: 3 } as const;

/**
 * Bound on the summed blob sizes of one BatchUpdateBlobs / BatchReadBlobs:
 * under gRPC's default 4 MiB message limit (which most clients keep for
 * what they receive) with room for per-blob overhead (a digest and a status,
 * ~90 bytes each: 512 KiB covers ~5,800 blobs per batch).
 */
export const MAX_BATCH_TOTAL_BYTES = 4 * 1024 * 1024 - 512 * 1024;

export interface CapabilitiesOptions {
  readonly limits: ServerLimits;
  readonly execEnabled: boolean;
}

export function capabilitiesService(env: RpcEnv, o: CapabilitiesOptions): UntypedServiceImplementation {
  const sha256 = [DigestFunction_Value.SHA256];
  const capabilities = create(ServerCapabilitiesSchema, {
    cacheCapabilities: {
      digestFunctions: sha256,
      actionCacheUpdateCapabilities: { updateEnabled: true },
      maxBatchTotalSizeBytes: BigInt(o.limits.maxBatchTotalBytes),
      // Input symlinks with absolute targets are refused (INVALID_ARGUMENT),
      // as is any symlink leading out of the input root: actions stay hermetic.
      symlinkAbsolutePathStrategy: SymlinkAbsolutePathStrategy_Value.DISALLOWED,
      // Identity is always supported and is not listed (the spec reserves
      // the list for compressed-blobs resources, which this server refuses).
      supportedCompressors: [],
      supportedBatchUpdateCompressors: [],
    },
    executionCapabilities: {
      digestFunction: DigestFunction_Value.SHA256,
      digestFunctions: sha256,
      execEnabled: o.execEnabled,
    },
    deprecatedApiVersion: LOW_API_VERSION,
    lowApiVersion: LOW_API_VERSION,
    highApiVersion: HIGH_API_VERSION,
  });
  return {
    getCapabilities: unary(env, 'GetCapabilities', async (req: GetCapabilitiesRequest): Promise<ServerCapabilities> => {
      checkInstance(o.limits, req.instanceName);
      return capabilities;
    }),
  };
}
