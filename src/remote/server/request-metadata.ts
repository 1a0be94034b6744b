import type { Metadata } from '@grpc/grpc-js';
import { RequestMetadataSchema, decodeMessage } from '../../reapi/index.js';

/** The binary header REAPI clients (Bazel, Pants, trews) send to say who is calling and why. */
export const REQUEST_METADATA_KEY = 'build.bazel.remote.execution.v2.requestmetadata-bin';

/**
 * A short `key=value` summary of the caller's RequestMetadata for the RPC
 * log, or '' when absent. A header that does not decode is noted rather than
 * failing the call: it is informational only.
 */
export function describeRequestMetadata(metadata: Metadata): string {
  const values = metadata.get(REQUEST_METADATA_KEY);
  const raw = values[0];
  if (raw === undefined) return '';
  if (typeof raw === 'string') return 'request-metadata=not-binary';
  const decoded = decodeMessage(RequestMetadataSchema, raw);
  if (!decoded.ok) return 'request-metadata=malformed';
  const m = decoded.value;
  const parts: string[] = [];
  const tool = m.toolDetails;
  if (tool !== undefined && tool.toolName !== '') parts.push(`tool=${tool.toolName}${tool.toolVersion === '' ? '' : `/${tool.toolVersion}`}`);
  if (m.toolInvocationId !== '') parts.push(`invocation=${m.toolInvocationId}`);
  if (m.correlatedInvocationsId !== '') parts.push(`correlated=${m.correlatedInvocationsId}`);
  if (m.actionId !== '') parts.push(`action-id=${m.actionId}`);
  if (m.actionMnemonic !== '') parts.push(`mnemonic=${m.actionMnemonic}`);
  if (m.targetId !== '') parts.push(`target=${m.targetId}`);
  return parts.map((p) => p.replace(/\s+/g, '_')).join(' ');
}
