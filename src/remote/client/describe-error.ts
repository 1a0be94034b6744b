import { isFailureError } from '../../core/index.js';
import { isRpcError } from './rpc-error.js';

/** One line for a warning or log: the failure's or RPC's message, else the error's. */
export function describeError(e: unknown): string {
  if (isFailureError(e)) return e.failure.message;
  if (isRpcError(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}
