import type { MethodDefinition } from '@grpc/grpc-js';
import {
  ActionCacheService,
  ByteStreamService,
  CapabilitiesService,
  ContentAddressableStorageService,
  ExecutionService,
  OperationsService,
  grpcServiceDefinition,
  type ActionResult,
  type BatchReadBlobsRequest,
  type BatchReadBlobsResponse,
  type BatchUpdateBlobsRequest,
  type BatchUpdateBlobsResponse,
  type CancelOperationRequest,
  type ExecuteRequest,
  type FindMissingBlobsRequest,
  type FindMissingBlobsResponse,
  type GetActionResultRequest,
  type GetCapabilitiesRequest,
  type GetTreeRequest,
  type GetTreeResponse,
  type Operation,
  type QueryWriteStatusRequest,
  type QueryWriteStatusResponse,
  type ReadRequest,
  type ReadResponse,
  type ServerCapabilities,
  type UpdateActionResultRequest,
  type WaitExecutionRequest,
  type WriteRequest,
  type WriteResponse,
} from '../../reapi/index.js';

/** One RPC: its wire definition and the name messages and counters use (`ContentAddressableStorage.FindMissingBlobs`). */
export interface Method<I, O> {
  readonly name: string;
  readonly def: MethodDefinition<I, O>;
}

type Defs = ReturnType<typeof grpcServiceDefinition>;

function method<I, O>(defs: Defs, localName: string): Method<I, O> {
  const def = defs[localName] as MethodDefinition<I, O> | undefined;
  if (def === undefined) throw new Error(`bug: no method ${localName} in the service definition`);
  const [service = '', rpc = ''] = def.path.slice(1).split('/');
  return { name: `${service.slice(service.lastIndexOf('.') + 1)}.${rpc}`, def };
}

const cas = grpcServiceDefinition(ContentAddressableStorageService);
const bytestream = grpcServiceDefinition(ByteStreamService);
const ac = grpcServiceDefinition(ActionCacheService);
const exec = grpcServiceDefinition(ExecutionService);
const ops = grpcServiceDefinition(OperationsService);
const caps = grpcServiceDefinition(CapabilitiesService);

/** Every RPC the client makes, typed by its messages. */
export const METHODS = {
  getCapabilities: method<GetCapabilitiesRequest, ServerCapabilities>(caps, 'getCapabilities'),
  findMissingBlobs: method<FindMissingBlobsRequest, FindMissingBlobsResponse>(cas, 'findMissingBlobs'),
  batchUpdateBlobs: method<BatchUpdateBlobsRequest, BatchUpdateBlobsResponse>(cas, 'batchUpdateBlobs'),
  batchReadBlobs: method<BatchReadBlobsRequest, BatchReadBlobsResponse>(cas, 'batchReadBlobs'),
  getTree: method<GetTreeRequest, GetTreeResponse>(cas, 'getTree'),
  read: method<ReadRequest, ReadResponse>(bytestream, 'read'),
  write: method<WriteRequest, WriteResponse>(bytestream, 'write'),
  queryWriteStatus: method<QueryWriteStatusRequest, QueryWriteStatusResponse>(bytestream, 'queryWriteStatus'),
  getActionResult: method<GetActionResultRequest, ActionResult>(ac, 'getActionResult'),
  updateActionResult: method<UpdateActionResultRequest, ActionResult>(ac, 'updateActionResult'),
  execute: method<ExecuteRequest, Operation>(exec, 'execute'),
  waitExecution: method<WaitExecutionRequest, Operation>(exec, 'waitExecution'),
  cancelOperation: method<CancelOperationRequest, unknown>(ops, 'cancelOperation'),
} as const;
