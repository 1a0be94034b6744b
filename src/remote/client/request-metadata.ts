import { create, toBinary } from '@bufbuild/protobuf';
import { TREWS_VERSION } from '../../core/index.js';
import { RequestMetadataSchema, ToolDetailsSchema } from '../../reapi/index.js';

/** The header REAPI servers read RequestMetadata from (binary, so grpc base64s it). */
export const REQUEST_METADATA_HEADER = 'build.bazel.remote.execution.v2.requestmetadata-bin';

/** What a call is for, so a server's logs can tie its requests to one trews run and one action. */
export interface CallContext {
  /** The run's id: RequestMetadata.tool_invocation_id. */
  readonly invocationId?: string;
  /** The action's digest hash: RequestMetadata.action_id. */
  readonly actionId?: string;
  /** A short kind of work, e.g. `test_shell_command`: RequestMetadata.action_mnemonic. */
  readonly mnemonic?: string;
}

/** The encoded RequestMetadata for a call. */
export function requestMetadataBytes(call: CallContext): Buffer {
  return Buffer.from(
    toBinary(
      RequestMetadataSchema,
      create(RequestMetadataSchema, {
        toolDetails: create(ToolDetailsSchema, { toolName: 'trews', toolVersion: TREWS_VERSION }),
        actionId: call.actionId ?? '',
        toolInvocationId: call.invocationId ?? '',
        actionMnemonic: call.mnemonic ?? '',
      }),
    ),
  );
}
