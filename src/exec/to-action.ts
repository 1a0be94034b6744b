import { create } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { FailureError, type Digest } from '../core/index.js';
import {
  ActionSchema,
  Command_EnvironmentVariableSchema,
  CommandSchema,
  Platform_PropertySchema,
  PlatformSchema,
  canonicalAction,
  canonicalCommand,
  digestMessage,
  toProtoDigest,
  type Action,
  type Command,
  type Platform,
} from '../reapi/index.js';
import { assertValidProcess } from './process.js';
import type { Process } from './types.js';

export interface ProcessAction {
  readonly action: Action;
  readonly command: Command;
  readonly actionDigest: Digest;
  readonly commandDigest: Digest;
  /** The canonical encodings: exactly the bytes the digests are of, as uploaded to a CAS. */
  readonly actionBytes: Uint8Array;
  readonly commandBytes: Uint8Array;
}

/**
 * Processes are immutable, and every layer of the runner stack (and
 * ProcessKey) asks for the digest of the same object, so it is computed once.
 */
const memo = new WeakMap<Process, ProcessAction>();

/**
 * The only place a Process becomes REAPI messages. Its action digest is the
 * key of every cache layer, so it must equal the digest Bazel computes for
 * the same command, inputs, timeout and platform: that is what lets trews
 * share caches with other REAPI clients.
 *
 * Throws a FailureError (tag `internal`) for a malformed process.
 */
export function toAction(proc: Process): ProcessAction {
  const cached = memo.get(proc);
  if (cached !== undefined) return cached;
  assertValidProcess(proc);

  const platform = platformOf(proc);
  const canonical = canonicalCommand(
    create(CommandSchema, {
      arguments: [...proc.argv],
      environmentVariables: Object.entries(proc.env).map(([name, value]) =>
        create(Command_EnvironmentVariableSchema, { name, value }),
      ),
      // REAPI v2.0's output_files / output_directories, not v2.1's output_paths:
      // every v2 server understands the v2.0 fields (v2.1+ servers must still
      // accept them), whereas a v2.0 server ignores output_paths and would
      // return no outputs at all. The choice changes the Command bytes and so
      // the action digest. Bazel picks by the server's advertised API version
      // (output_paths when high_api_version >= 2.1); for a local-only build it
      // uses the v2.0 fields, as we always do, so our digests match Bazel's
      // against v2.0 servers and without one.
      outputFiles: [...proc.outputFiles],
      outputDirectories: [...proc.outputDirectories],
      workingDirectory: proc.workingDirectory,
      // Deprecated in Command since v2.2 in favour of Action.platform, but
      // Bazel sets both, and servers before v2.2 read only this one.
      platform,
    }),
  );
  if (!canonical.ok) {
    // validateProcess rejects everything canonicalCommand does; reaching this is a bug.
    throw new FailureError({ ...canonical.failure, tag: 'internal' });
  }
  const command = canonical.value;
  const { digest: commandDigest, bytes: commandBytes } = digestMessage(CommandSchema, command);

  const action = canonicalAction(
    create(ActionSchema, {
      commandDigest: toProtoDigest(commandDigest),
      inputRootDigest: toProtoDigest(proc.inputRoot),
      timeout: proc.timeoutMs === null ? undefined : durationOf(proc.timeoutMs),
      // `per-run` and `never` results must not be served to anyone later, by
      // us or by a remote server that caches what it executes.
      doNotCache: proc.cacheScope === 'per-run' || proc.cacheScope === 'never',
      platform,
      salt: saltOf(proc),
    }),
  );
  const { digest: actionDigest, bytes: actionBytes } = digestMessage(ActionSchema, action);

  const result: ProcessAction = Object.freeze({ action, command, actionDigest, commandDigest, actionBytes, commandBytes });
  memo.set(proc, result);
  return result;
}

/**
 * Strict isolation is in the action's salt, REAPI's field for "the same
 * command in another cache namespace": a result obtained with the whole
 * machine in view must never answer for a strict process (it may have read
 * files no input names), and a strict failure (a hidden file) must not answer
 * for an unconfined one. Empty — absent from the encoding — for `none`, so
 * unconfined digests stay those of other REAPI clients. Servers that do not
 * know it still key their caches by it; `trews remote-server` also runs such
 * an action strictly (prepare-action.ts).
 */
export const STRICT_SALT = 'trews-isolation=strict';
export const STRICT_NETWORK_SALT = 'trews-isolation=strict;network';

function saltOf(proc: Process): Uint8Array {
  if (proc.isolation !== 'strict') return new Uint8Array();
  return new TextEncoder().encode(proc.network === true ? STRICT_NETWORK_SALT : STRICT_SALT);
}

/** Left unset when empty: an absent Platform and an empty one encode differently, and Bazel leaves it absent. */
function platformOf(proc: Process): Platform | undefined {
  if (proc.platform.length === 0) return undefined;
  // canonicalCommand / canonicalAction sort by name then value (UTF-8 order).
  return create(PlatformSchema, {
    properties: proc.platform.map((q) => create(Platform_PropertySchema, { name: q.name, value: q.value })),
  });
}

function durationOf(ms: number): ReturnType<typeof create<typeof DurationSchema>> {
  return create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
}
