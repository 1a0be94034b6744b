import { FailureError, digestString, isFailureError, type Digest } from '../../core/index.js';
import { makeProcess, STRICT_NETWORK_SALT, STRICT_SALT, type PlatformProperty, type Process } from '../../exec/index.js';
import type { BlobStore } from '../../store/index.js';
import {
  ActionSchema,
  CommandSchema,
  canonicalCommand,
  checkOutputPath,
  decodeMessage,
  type Action,
  type Command,
} from '../../reapi/index.js';
import { checkInputTree } from './input-tree.js';
import { checkPlatform } from './platform.js';
import { invalidArgument, isRpcError, missingBlobs } from './rpc-error.js';
import { requireDigest } from './validate.js';

/** An Execute request checked and turned into what the local sandbox runner takes. */
export interface PreparedAction {
  readonly actionDigest: Digest;
  readonly action: Action;
  readonly command: Command;
  readonly process: Process;
  /**
   * REAPI v2.1 `output_paths`, when the Command uses them: their kinds are
   * only known after the run, so the process declares their parent
   * directories instead and `pickOutputPaths` takes them out of those.
   */
  readonly outputPaths: readonly string[] | undefined;
  readonly doNotCache: boolean;
  readonly timeoutMs: number | null;
  /** Why no worker can run it, when PrepareOptions.queueUnmatchedPlatforms kept it anyway. */
  readonly unmatchedPlatform?: string;
}

export interface PrepareOptions {
  readonly offeredPlatform: readonly PlatformProperty[];
  /** Accept an action no worker can run (its reason in `unmatchedPlatform`) rather than refuse it. */
  readonly queueUnmatchedPlatforms?: boolean;
  /** Longest timeout an action may ask for; also the timeout of actions that give none. Undefined: no limit. */
  readonly maxTimeoutMs: number | undefined;
}

/**
 * A file we declare as an output inside each parent of an output path, only
 * so the runner creates that parent before the run, as REAPI requires for
 * the directories leading up to outputs. Nothing ever writes it.
 */
export const PARENT_MARKER = '.trews-remote-server-output-parent';

/**
 * Loads and checks everything an Execute needs before an Operation exists,
 * so that each problem is a gRPC status of the call (REAPI: "errors
 * discovered during creation of the Operation will be reported as gRPC
 * Status errors"): INVALID_ARGUMENT for a malformed Action, Command or input
 * tree; FAILED_PRECONDITION for missing blobs (with a PreconditionFailure of
 * MISSING violations, every absent blob at once) and for a platform no
 * worker has.
 */
export async function prepareAction(store: Pick<BlobStore, 'getBytes' | 'findMissing'>, actionDigest: Digest, o: PrepareOptions): Promise<PreparedAction> {
  const actionBytes = await readMessageBlob(store, actionDigest, 'action_digest');
  if (actionBytes === undefined) throw missingBlobs([actionDigest], `the Action ${digestString(actionDigest)}`);
  const decodedAction = decodeMessage(ActionSchema, actionBytes);
  if (!decodedAction.ok) throw invalidArgument(`action_digest ${digestString(actionDigest)} is not an Action message: ${decodedAction.failure.message}`);
  const action = decodedAction.value;
  const commandDigest = requireDigest(action.commandDigest, 'Action.command_digest');
  const inputRoot = requireDigest(action.inputRootDigest, 'Action.input_root_digest');

  const missing: Digest[] = [];
  let unmatchedPlatform: string | undefined;
  const commandBytes = await readMessageBlob(store, commandDigest, 'Action.command_digest');
  if (commandBytes === undefined) missing.push(commandDigest);
  let command: Command | undefined;
  if (commandBytes !== undefined) {
    const decoded = decodeMessage(CommandSchema, commandBytes);
    if (!decoded.ok) throw invalidArgument(`Action.command_digest ${digestString(commandDigest)} is not a Command message: ${decoded.failure.message}`);
    command = decoded.value;
    checkCommand(command);
    // v2.2: the Action's platform supersedes the Command's (kept for older clients).
    const platform = action.platform ?? command.platform;
    try {
      checkPlatform(platform?.properties ?? [], o.offeredPlatform);
    } catch (e) {
      if (!(o.queueUnmatchedPlatforms === true && isRpcError(e))) throw e;
      unmatchedPlatform = e.message;
    }
  }

  const timeoutMs = timeoutOf(action, o.maxTimeoutMs);
  const tree = await checkInputTree(store, inputRoot);
  missing.push(...tree.missing);
  if (missing.length > 0) throw missingBlobs(missing, `inputs of action ${digestString(actionDigest)}`);
  if (command === undefined) throw new Error('unreachable: a present command was decoded');

  const outputPaths = command.outputPaths.length > 0 ? command.outputPaths : undefined;
  const declared = outputPaths === undefined ? { files: command.outputFiles, directories: command.outputDirectories } : declareParents(outputPaths);
  let process: Process;
  try {
    process = makeProcess({
      argv: command.arguments,
      env: Object.fromEntries(command.environmentVariables.map((v) => [v.name, v.value])),
      inputRoot,
      workingDirectory: command.workingDirectory,
      outputFiles: declared.files,
      outputDirectories: declared.directories,
      timeoutMs,
      description: `${command.arguments[0] ?? ''} (action ${digestString(actionDigest)})`,
      // Scheduling is ours and caching too: the runner only runs.
      platform: [],
      cacheScope: 'never',
      // A client that asked for strict isolation (trews puts it in the salt) gets it even from a server run
      // with --isolation none: its result is cached under that action, which promises it.
      ...isolationOfSalt(action.salt),
    });
  } catch (e) {
    if (isFailureError(e)) throw invalidArgument(`the Command cannot be run: ${e.failure.message}`);
    throw e;
  }
  return { actionDigest, action, command, process, outputPaths, doNotCache: action.doNotCache, timeoutMs, ...(unmatchedPlatform !== undefined ? { unmatchedPlatform } : {}) };
}

/** Actions and Commands are small messages; a digest of anything this large is a mistake, not something to load. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

async function readMessageBlob(store: Pick<BlobStore, 'getBytes'>, d: Digest, field: string): Promise<Uint8Array | undefined> {
  if (d.sizeBytes > MAX_MESSAGE_BYTES) throw invalidArgument(`${field} ${digestString(d)} names a blob of ${d.sizeBytes} bytes, too large to be the message it should be`);
  return store.getBytes(d);
}

/** What REAPI requires of a Command beyond decoding: argv, env and paths a worker can use. */
function checkCommand(command: Command): void {
  const canonical = canonicalCommand(command);
  if (!canonical.ok) throw invalidArgument(`invalid Command: ${canonical.failure.message}`);
  if (command.arguments.length === 0 || command.arguments[0] === '') {
    throw invalidArgument('invalid Command: arguments is empty; the first argument must name the program to run');
  }
  command.arguments.forEach((a, i) => {
    if (a.includes('\0')) throw invalidArgument(`invalid Command: arguments[${i}] contains a NUL character`);
  });
  for (const v of command.environmentVariables) {
    if (v.value.includes('\0')) throw invalidArgument(`invalid Command: environment variable ${v.name} contains a NUL character`);
  }
  const wd = checkOutputPath(command.workingDirectory, true);
  if (wd !== undefined) throw invalidArgument(`invalid Command: working_directory ${JSON.stringify(command.workingDirectory)} ${wd}`);
  const files = new Set(command.outputFiles);
  for (const d of command.outputDirectories) {
    if (files.has(d)) throw invalidArgument(`invalid Command: ${JSON.stringify(d)} is listed both in output_files and output_directories`);
  }
  for (const node of command.outputNodeProperties) {
    // REAPI: "If a property is not recognized by the server, the server will return an INVALID_ARGUMENT."
    throw invalidArgument(`invalid Command: output node property ${JSON.stringify(node)} is not supported by this server`);
  }
}

/**
 * Action.timeout in milliseconds (rounded up), or the server's maximum when
 * absent. REAPI: a server SHOULD impose a timeout when the client gives none,
 * and MUST reject a timeout longer than its maximum.
 */
function timeoutOf(action: Action, maxMs: number | undefined): number | null {
  const t = action.timeout;
  if (t === undefined || (t.seconds === 0n && t.nanos === 0)) return maxMs ?? null;
  if (t.seconds < 0n || t.nanos < 0) throw invalidArgument(`Action.timeout ${t.seconds}s ${t.nanos}ns is negative`);
  const ms = Number(t.seconds) * 1000 + Math.ceil(t.nanos / 1e6);
  if (!Number.isSafeInteger(ms)) throw invalidArgument(`Action.timeout ${t.seconds}s is too large`);
  if (maxMs !== undefined && ms > maxMs) {
    throw invalidArgument(`Action.timeout ${ms / 1000}s is longer than this server's maximum of ${maxMs / 1000}s (--max-action-timeout)`);
  }
  return ms;
}

/** The parent of a '/'-separated relative path ('' for a top-level name). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

/**
 * For `output_paths`: declares the topmost parents of the outputs as output
 * directories (captured whole after the run; the outputs are then picked
 * out of them, whatever their kind), and a marker file in every parent so
 * the runner creates it beforehand. An empty path (the whole working
 * directory) is declared as itself.
 */
function declareParents(outputPaths: readonly string[]): { files: string[]; directories: string[] } {
  const parents = [...new Set(outputPaths.filter((p) => p !== '').map(parentOf))];
  const all = outputPaths.includes('') ? ['', ...parents] : parents;
  const tops = all.filter((p) => !all.some((q) => q !== p && isUnder(p, q)));
  return {
    files: parents.filter((p) => p !== '').map((p) => `${p}/${PARENT_MARKER}`),
    directories: [...new Set(tops)],
  };
}

/** The declared output directory that holds `path` (one always does: see declareParents). */
export function coveringDirectory(declared: readonly string[], path: string): string {
  const dir = declared.find((d) => isUnder(path, d));
  if (dir === undefined) throw new FailureError({ tag: 'internal', reason: 'output-path-uncovered', message: `output path ${path} is under no captured directory` });
  return dir;
}

function isolationOfSalt(salt: Uint8Array): { isolation?: 'strict'; network?: boolean } {
  const text = new TextDecoder().decode(salt);
  if (text === STRICT_SALT) return { isolation: 'strict' };
  if (text === STRICT_NETWORK_SALT) return { isolation: 'strict', network: true };
  return {};
}
