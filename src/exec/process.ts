import {
  EMPTY_DIGEST,
  FailureError,
  failure,
  isSha256Hex,
  type Digest,
  type Failure,
} from '../core/index.js';
import { checkOutputPath } from '../reapi/index.js';
import type { CacheScope, Isolation, PlatformProperty, Process } from './types.js';

/**
 * The digest of the empty Directory message. An empty message encodes to zero
 * bytes, so it is the digest of the empty blob: a process with no inputs needs
 * nothing stored.
 */
export const EMPTY_INPUT_ROOT: Digest = EMPTY_DIGEST;

/** A Process as rules write it: only argv is required. */
export interface ProcessInit {
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly inputRoot?: Digest;
  readonly workingDirectory?: string;
  readonly outputFiles?: readonly string[];
  readonly outputDirectories?: readonly string[];
  readonly timeoutMs?: number | null;
  readonly description?: string;
  readonly platform?: readonly PlatformProperty[];
  readonly cacheScope?: CacheScope;
  readonly sharedInputs?: Process['sharedInputs'];
  readonly localCaches?: Process['localCaches'];
  /** `none` (the default) or `strict`. */
  readonly isolation?: Isolation;
  /** Meaningful only under strict isolation: keep the network. */
  readonly network?: boolean;
  readonly hostTools?: Process['hostTools'];
  readonly hostSearchPath?: Process['hostSearchPath'];
  readonly sourceRoot?: string;
  readonly declareHint?: string;
  readonly remoteEnvironment?: string;
  readonly worker?: Process['worker'];
}

const CACHE_SCOPES: ReadonlySet<string> = new Set<CacheScope>(['always', 'successful', 'per-run', 'never']);

/**
 * Fills in the defaults (empty env and input root, working directory at the
 * root, no outputs, no timeout, scope `successful`) and validates. Throws a
 * FailureError tagged `internal`: processes are built by rules, so a
 * malformed one is a bug in a rule, not something the user typed.
 */
export function makeProcess(init: ProcessInit): Process {
  const p: Process = Object.freeze({
    argv: Object.freeze([...init.argv]),
    env: Object.freeze({ ...(init.env ?? {}) }),
    inputRoot: init.inputRoot ?? EMPTY_INPUT_ROOT,
    workingDirectory: init.workingDirectory ?? '',
    outputFiles: Object.freeze([...(init.outputFiles ?? [])]),
    outputDirectories: Object.freeze([...(init.outputDirectories ?? [])]),
    timeoutMs: init.timeoutMs ?? null,
    description: init.description ?? init.argv.join(' '),
    platform: Object.freeze((init.platform ?? []).map((q) => Object.freeze({ name: q.name, value: q.value }))),
    cacheScope: init.cacheScope ?? 'successful',
    ...(init.sharedInputs !== undefined && init.sharedInputs.length > 0 ? { sharedInputs: Object.freeze([...init.sharedInputs]) } : {}),
    ...(init.localCaches !== undefined && init.localCaches.length > 0 ? { localCaches: Object.freeze([...init.localCaches]) } : {}),
    // Absent unless strict, so an unconfined process's action is what it always was (and what other clients compute).
    ...(init.isolation === 'strict' ? { isolation: 'strict' as const, ...(init.network === true ? { network: true as const } : {}) } : {}),
    ...(init.hostTools !== undefined && init.hostTools.length > 0 ? { hostTools: Object.freeze([...init.hostTools]) } : {}),
    ...(init.hostSearchPath !== undefined && init.hostSearchPath.length > 0 ? { hostSearchPath: Object.freeze([...init.hostSearchPath]) } : {}),
    ...(init.sourceRoot !== undefined ? { sourceRoot: init.sourceRoot } : {}),
    ...(init.declareHint !== undefined ? { declareHint: init.declareHint } : {}),
    ...(init.remoteEnvironment !== undefined ? { remoteEnvironment: init.remoteEnvironment } : {}),
    ...(init.worker !== undefined ? { worker: Object.freeze({ ...init.worker }) } : {}),
  });
  assertValidProcess(p);
  return p;
}

/** Throws the first problem validateProcess finds. */
export function assertValidProcess(p: Process): void {
  const bad = validateProcess(p);
  if (bad !== undefined) throw new FailureError(bad);
}

/**
 * The first reason `p` cannot be run, or undefined. Checks what would
 * otherwise surface late and confusingly: in a digest other clients compute
 * differently, in a path that escapes the sandbox, or in execve's EINVAL.
 */
export function validateProcess(p: Process): Failure | undefined {
  const where = p.description === '' ? 'a process' : `process \`${p.description}\``;
  const bad = (reason: string, message: string): Failure =>
    failure('internal', reason, `${where}: ${message}`, {
      hints: ['processes are built by rules: this is a bug in the rule that made it'],
    });

  if (p.argv.length === 0) return bad('process-empty-argv', 'argv is empty; it needs at least the program to run');
  if (p.argv[0] === '') return bad('process-empty-program', 'argv[0] (the program) is empty');
  for (const [i, a] of p.argv.entries()) {
    if (a.includes('\0')) return bad('process-invalid-argument', `argv[${i}] contains a NUL character`);
  }

  for (const [name, value] of Object.entries(p.env)) {
    // execve takes NAME=VALUE strings: a '=' in a name or a NUL anywhere cannot be passed on.
    if (name === '' || name.includes('=') || name.includes('\0')) {
      return bad('process-invalid-env', `environment variable name ${JSON.stringify(name)} is invalid (empty, or contains '=' or NUL)`);
    }
    if (typeof value !== 'string') return bad('process-invalid-env', `environment variable ${name} is not a string`);
    if (value.includes('\0')) return bad('process-invalid-env', `environment variable ${name} contains a NUL character`);
  }

  if (!isSha256Hex(p.inputRoot.hash) || !Number.isSafeInteger(p.inputRoot.sizeBytes) || p.inputRoot.sizeBytes < 0) {
    return bad('process-invalid-input-root', `input root ${JSON.stringify(p.inputRoot)} is not a SHA-256 digest`);
  }

  const wd = checkOutputPath(p.workingDirectory, true);
  if (wd !== undefined) {
    return bad('process-invalid-working-directory', `working directory ${JSON.stringify(p.workingDirectory)} ${wd}; it must be a normalized path relative to the input root`);
  }

  const files = new Set<string>();
  for (const f of p.outputFiles) {
    const why = checkOutputPath(f, false);
    if (why !== undefined) return bad('process-invalid-output-path', `output file ${JSON.stringify(f)} ${why}; outputs must be normalized relative paths`);
    files.add(f);
  }
  for (const d of p.outputDirectories) {
    // '' is the whole working directory, which REAPI allows for output directories.
    const why = checkOutputPath(d, true);
    if (why !== undefined) return bad('process-invalid-output-path', `output directory ${JSON.stringify(d)} ${why}; outputs must be normalized relative paths`);
    if (files.has(d)) return bad('process-invalid-output-path', `${JSON.stringify(d)} is declared both as an output file and as an output directory`);
  }

  if (p.timeoutMs !== null && !(Number.isSafeInteger(p.timeoutMs) && p.timeoutMs > 0)) {
    return bad('process-invalid-timeout', `timeout ${String(p.timeoutMs)} ms is not a positive whole number of milliseconds (use null for none)`);
  }

  for (const q of p.platform) {
    if (typeof q.name !== 'string' || q.name === '' || typeof q.value !== 'string') {
      return bad('process-invalid-platform', `platform property ${JSON.stringify(q)} needs a non-empty name and a string value`);
    }
  }

  for (const c of p.localCaches ?? []) {
    const why = checkOutputPath(c.path, false);
    if (why !== undefined) return bad('process-invalid-local-cache', `local cache path ${JSON.stringify(c.path)} ${why}`);
    if (!c.hostDir.startsWith('/')) return bad('process-invalid-local-cache', `local cache directory ${JSON.stringify(c.hostDir)} is not absolute`);
  }

  if (p.isolation !== undefined && p.isolation !== 'strict') {
    return bad('process-invalid-isolation', `isolation ${JSON.stringify(p.isolation)} is not \`strict\` (leave it out for none)`);
  }
  if (p.network !== undefined && (p.network !== true || p.isolation !== 'strict')) {
    return bad('process-invalid-network', 'network is set only on strictly isolated processes (unconfined ones have it anyway)');
  }
  for (const t of p.hostTools ?? []) {
    if (!t.startsWith('/')) return bad('process-invalid-host-tool', `host tool ${JSON.stringify(t)} is not absolute`);
  }
  if (p.sourceRoot !== undefined && !p.sourceRoot.startsWith('/')) return bad('process-invalid-source-root', `source root ${JSON.stringify(p.sourceRoot)} is not absolute`);

  if (!CACHE_SCOPES.has(p.cacheScope)) {
    return bad('process-invalid-cache-scope', `cache scope ${JSON.stringify(p.cacheScope)} is not one of always, successful, per-run, never`);
  }
  return undefined;
}

/** Whether a result of this process may be written to a persistent action cache. */
export function isCacheableResult(p: Process, exitCode: number, timedOut: boolean): boolean {
  if (timedOut) return false;
  switch (p.cacheScope) {
    case 'always':
      return true;
    case 'successful':
      return exitCode === 0;
    default:
      return false;
  }
}
