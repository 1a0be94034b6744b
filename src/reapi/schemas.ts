// Every generated schema, message type, enum and service descriptor, in one
// module: the one boundary the in-process bundle loads lazily
// (scripts/lazy-modules.mjs), since booting the descriptors costs every run
// ~15 ms and a cached local run needs few of them, or none. The rest of
// reapi/ imports the generated code only through this file, so that boundary
// holds.
export * from './gen/build/bazel/remote/execution/v2/remote_execution_pb.js';
export * from './gen/build/bazel/semver/semver_pb.js';
export * from './gen/google/rpc/status_pb.js';
export * from './gen/google/rpc/code_pb.js';
export * from './gen/google/rpc/error_details_pb.js';
export * from './gen/google/longrunning/operations_pb.js';
export * from './gen/google/bytestream/bytestream_pb.js';
export type { Digest as ProtoDigest } from './gen/build/bazel/remote/execution/v2/remote_execution_pb.js';

// Service descriptors (GenService), under names that say what they are; the
// gRPC layer builds its client and server definitions from these.
export {
  Execution as ExecutionService,
  ActionCache as ActionCacheService,
  ContentAddressableStorage as ContentAddressableStorageService,
  Capabilities as CapabilitiesService,
} from './gen/build/bazel/remote/execution/v2/remote_execution_pb.js';
export { Operations as OperationsService } from './gen/google/longrunning/operations_pb.js';
export { ByteStream as ByteStreamService } from './gen/google/bytestream/bytestream_pb.js';
