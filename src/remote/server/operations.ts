import { create } from '@bufbuild/protobuf';
import { EmptySchema, durationMs, type Empty } from '@bufbuild/protobuf/wkt';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type {
  CancelOperationRequest,
  DeleteOperationRequest,
  GetOperationRequest,
  ListOperationsRequest,
  ListOperationsResponse,
  Operation,
  WaitOperationRequest,
} from '../../reapi/index.js';
import type { OperationRegistry, OperationState } from './operation-registry.js';
import { notFound, unimplemented } from './rpc-error.js';
import { unary, type CallContext, type RpcEnv } from './rpc.js';

/** WaitOperation without a timeout waits this long, and never longer than MAX. */
const DEFAULT_WAIT_MS = 60_000;
const MAX_WAIT_MS = 10 * 60_000;

/**
 * google.longrunning.Operations over the execution operations. REAPI needs
 * only GetOperation and CancelOperation ("the server NEED NOT implement other
 * methods"); WaitOperation is cheap to give. ListOperations and
 * DeleteOperation are UNIMPLEMENTED, as the longrunning API allows.
 */
export function operationsService(env: RpcEnv, registry: OperationRegistry): UntypedServiceImplementation {
  const find = (name: string, ctx: CallContext): OperationState => {
    const op = registry.get(name);
    if (op === undefined) throw notFound(`operation ${JSON.stringify(name)} is unknown to this server (finished long ago, or the server restarted)`);
    ctx.note(op.name);
    return op;
  };

  const getOperation = async (req: GetOperationRequest, ctx: CallContext): Promise<Operation> => {
    const op = find(req.name, ctx);
    registry.touch(op);
    return registry.toMessage(op);
  };

  /**
   * Best effort, as the API says: the process group is killed, and the
   * operation ends with CANCELLED in its ExecuteResponse.status (REAPI
   * forbids Operation.error). Cancelling a finished operation does nothing.
   */
  const cancelOperation = async (req: CancelOperationRequest, ctx: CallContext): Promise<Empty> => {
    const op = find(req.name, ctx);
    if (!op.done) registry.cancel(op, 'client');
    return create(EmptySchema);
  };

  const waitOperation = async (req: WaitOperationRequest, ctx: CallContext): Promise<Operation> => {
    const op = find(req.name, ctx);
    const asked = req.timeout === undefined ? DEFAULT_WAIT_MS : durationMs(req.timeout);
    const deadline = Date.now() + Math.min(Math.max(asked, 0), MAX_WAIT_MS);
    const unfollow = registry.follow(op);
    try {
      while (!op.done && !ctx.signal.aborted && Date.now() < deadline) {
        await registry.waitForChange(op, op.version, deadline - Date.now(), ctx.signal);
      }
    } finally {
      unfollow();
    }
    return registry.toMessage(op);
  };

  const listOperations = async (_req: ListOperationsRequest): Promise<ListOperationsResponse> => {
    throw unimplemented('ListOperations is not implemented by this server');
  };

  const deleteOperation = async (_req: DeleteOperationRequest): Promise<Empty> => {
    throw unimplemented('DeleteOperation is not implemented by this server; finished operations are forgotten after 10 minutes');
  };

  return {
    getOperation: unary(env, 'GetOperation', getOperation),
    cancelOperation: unary(env, 'CancelOperation', cancelOperation),
    waitOperation: unary(env, 'WaitOperation', waitOperation),
    listOperations: unary(env, 'ListOperations', listOperations),
    deleteOperation: unary(env, 'DeleteOperation', deleteOperation),
  };
}
