import { clone } from '@bufbuild/protobuf';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { digestOf, digestString } from '../../core/index.js';
import type { LocalStore } from '../../store/index.js';
import {
  ActionResultSchema,
  checkOutputPath,
  toProtoDigest,
  type ActionResult,
  type GetActionResultRequest,
  type UpdateActionResultRequest,
} from '../../reapi/index.js';
import { inlineOutputs } from './inline-outputs.js';
import { invalidArgument, notFound } from './rpc-error.js';
import type { CasView } from './cas-view.js';
import { unary, type CallContext, type RpcEnv } from './rpc.js';
import { checkDigestFunction, checkInstance, requireDigest, type ServerLimits } from './validate.js';

export interface ActionCacheOptions {
  readonly store: CasView;
  readonly limits: ServerLimits;
}

export function actionCacheService(env: RpcEnv, o: ActionCacheOptions): UntypedServiceImplementation {
  const { store, limits } = o;

  const getActionResult = async (req: GetActionResultRequest, ctx: CallContext): Promise<ActionResult> => {
    checkInstance(limits, req.instanceName);
    checkDigestFunction(req.digestFunction);
    const actionDigest = requireDigest(req.actionDigest, 'action_digest');
    // A result is served only when every blob it references is still in the
    // CAS, as REAPI asks: one whose outputs were evicted is a miss, never a
    // hit the client cannot download. The NOT_FOUND says why, for the
    // client's logs.
    const found = await store.lookupActionResult(actionDigest, ctx.signal);
    if ('refused' in found) {
      ctx.note(`${digestString(actionDigest)} miss`);
      throw notFound(found.refused);
    }
    ctx.note(`${digestString(actionDigest)} hit`);
    return inlineOutputs(store, found.result, { stdout: req.inlineStdout, stderr: req.inlineStderr, files: req.inlineOutputFiles }, ctx.signal);
  };

  const updateActionResult = async (req: UpdateActionResultRequest, ctx: CallContext): Promise<ActionResult> => {
    checkInstance(limits, req.instanceName);
    checkDigestFunction(req.digestFunction);
    const actionDigest = requireDigest(req.actionDigest, 'action_digest');
    if (req.actionResult === undefined) throw invalidArgument('action_result is missing');
    const result = await normalizeResult(store, req.actionResult, ctx.signal);
    await store.updateActionResult(actionDigest, result, ctx.signal);
    ctx.note(`${digestString(actionDigest)} exit ${result.exitCode}`);
    return result;
  };

  return {
    getActionResult: unary(env, 'GetActionResult', getActionResult),
    updateActionResult: unary(env, 'UpdateActionResult', updateActionResult),
  };
}

/**
 * Checks every digest and path an uploaded ActionResult holds (INVALID_ARGUMENT
 * naming the field), and returns the form we store: inlined bytes (which
 * clients SHOULD NOT send, but may) moved into the CAS and replaced by their
 * digests, so entries stay small and every reader gets the same thing. The
 * spec lets the server return such an equivalent result.
 */
export async function normalizeResult(store: LocalStore, given: ActionResult, signal?: AbortSignal): Promise<ActionResult> {
  const r = clone(ActionResultSchema, given);
  const path = (p: string, field: string, allowEmpty: boolean): void => {
    const why = checkOutputPath(p, allowEmpty);
    if (why !== undefined) throw invalidArgument(`action_result.${field} path ${JSON.stringify(p)} ${why}`);
  };
  const inline = async (bytes: Uint8Array, field: string, digest: ActionResult['stdoutDigest']) => {
    if (bytes.byteLength === 0) return digest;
    const d = digestOf(bytes);
    if (digest !== undefined) {
      const claimed = requireDigest(digest, `${field}_digest`);
      if (claimed.hash !== d.hash || claimed.sizeBytes !== d.sizeBytes) {
        throw invalidArgument(`action_result.${field}: inlined bytes do not match their digest ${digestString(claimed)}`);
      }
    }
    await store.put(d, bytes, signal);
    return toProtoDigest(d);
  };
  r.outputFiles.forEach((f, i) => {
    path(f.path, `output_files[${i}]`, false);
    requireDigest(f.digest, `action_result.output_files[${i}].digest`);
  });
  r.outputDirectories.forEach((d, i) => {
    path(d.path, `output_directories[${i}]`, true);
    if (d.treeDigest === undefined && d.rootDirectoryDigest === undefined) {
      throw invalidArgument(`action_result.output_directories[${i}] has neither tree_digest nor root_directory_digest`);
    }
    if (d.treeDigest !== undefined) requireDigest(d.treeDigest, `action_result.output_directories[${i}].tree_digest`);
    if (d.rootDirectoryDigest !== undefined) requireDigest(d.rootDirectoryDigest, `action_result.output_directories[${i}].root_directory_digest`);
  });
  for (const [field, list] of [
    ['output_symlinks', r.outputSymlinks],
    ['output_file_symlinks', r.outputFileSymlinks],
    ['output_directory_symlinks', r.outputDirectorySymlinks],
  ] as const) {
    list.forEach((s, i) => {
      path(s.path, `${field}[${i}]`, false);
      if (s.target === '') throw invalidArgument(`action_result.${field}[${i}] has an empty target`);
    });
  }
  if (r.stdoutDigest !== undefined) requireDigest(r.stdoutDigest, 'action_result.stdout_digest');
  if (r.stderrDigest !== undefined) requireDigest(r.stderrDigest, 'action_result.stderr_digest');
  r.stdoutDigest = await inline(r.stdoutRaw, 'stdout', r.stdoutDigest);
  r.stdoutRaw = new Uint8Array(0);
  r.stderrDigest = await inline(r.stderrRaw, 'stderr', r.stderrDigest);
  r.stderrRaw = new Uint8Array(0);
  for (const f of r.outputFiles) {
    if (f.contents.byteLength > 0) {
      f.digest = await inline(f.contents, `output_files(${f.path}).contents`, f.digest);
      f.contents = new Uint8Array(0);
    }
  }
  return r;
}
