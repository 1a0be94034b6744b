/**
 * The execution contract. A Process is what a rule wants run; `toAction` is the
 * only place it becomes a REAPI Action + Command, and the Action digest is the
 * key of every cache layer. CommandRunners are stacked by makeCommandRunner().
 */
import type { Digest, Logger } from '../core/index.js';
import type { ActionResult } from '../reapi/index.js';

/**
 * Which results may be reused:
 * - `always`: any result, whatever the exit code (a build step whose failure is data);
 * - `successful`: only results with exit code 0 (the default);
 * - `per-run`: reused within one run, never written to a cache;
 * - `never`: always executed.
 */
export type CacheScope = 'always' | 'successful' | 'per-run' | 'never';

/**
 * How much of the machine a local process sees: `none`, everything (the
 * sandbox is only a directory); `strict`, only its sandbox, its tools and the
 * system directories, under bubblewrap (strict-sandbox.ts).
 */
export type Isolation = 'none' | 'strict';

export interface PlatformProperty {
  readonly name: string;
  readonly value: string;
}

export interface Process {
  /** argv[0] is looked up in the process's PATH (from `env`), as execvp does. */
  readonly argv: readonly string[];
  /** The complete environment: nothing is inherited from trews' own. */
  readonly env: Readonly<Record<string, string>>;
  /** Digest of a Directory in the store: the sandbox's contents. */
  readonly inputRoot: Digest;
  /** Relative to the input root; '' is the root. */
  readonly workingDirectory: string;
  /** Relative to the working directory, as in REAPI. */
  readonly outputFiles: readonly string[];
  readonly outputDirectories: readonly string[];
  /** null: no timeout. */
  readonly timeoutMs: number | null;
  /** For people: `Run test_shell_command src/app:test`. Not part of the cache key. */
  readonly description: string;
  readonly platform: readonly PlatformProperty[];
  readonly cacheScope: CacheScope;
  /**
   * Local-sandbox hints, no part of the action (toAction ignores them, so
   * caches and remote execution see the same action): trees of the input
   * root that many processes share (node_modules), which the local sandbox
   * links from one read-only materialization per tree instead of making
   * file by file. Each is laid out from the input root, and the input root
   * must hold it (the runner links only directories whose digests match).
   */
  readonly sharedInputs?: readonly SharedInput[];
  /**
   * Directories of this machine linked into a local sandbox at `path`
   * (relative to the input root), such as the package manager's download
   * cache: append-only, content-addressed caches whose location must not
   * change the action (Pants' append-only caches). No part of the action:
   * a remote worker gets an empty directory there.
   */
  readonly localCaches?: readonly LocalCache[];
  /**
   * `strict`: run with no view of the machine beyond the sandbox, the tools
   * and the system directories (absent means `none`). Part of the action
   * (its salt, to-action.ts): a strict result and an unconfined one are
   * different facts.
   */
  readonly isolation?: 'strict';
  /** Under strict isolation, keep the machine's network (absent: none). Part of the action. */
  readonly network?: true;
  /**
   * Files of this machine the process runs (its tools' programs), which
   * strict isolation shows it read-only beside the system directories (a
   * file: its directory and its real path's; a directory, such as a package
   * manager's installed package: that directory). No
   * part of the action: the tools' identities are in the input root already.
   */
  readonly hostTools?: readonly string[];
  /**
   * Directories of this machine where the local runner looks for bwrap (and
   * strace, to explain) when the process is strict: the search path its
   * backend finds tools on (`[shell] executable_search_paths`, `[nodejs]
   * search_path`, `<PATH>` expanded from the client's), since exec reads no
   * environment. Absent: the standard system directories. No part of the
   * action.
   */
  readonly hostSearchPath?: readonly string[];
  /**
   * The directory of this machine its input root mirrors (the build root):
   * a strict process that fails reporting a file of its sandbox missing
   * that this directory has (`../../secret.txt`) read an input it did not
   * declare, and is told so. No part of the action.
   */
  readonly sourceRoot?: string;
  /** What to tell the user to declare when strict isolation hides a file the process needed (the target's field). No part of the action. */
  readonly declareHint?: string;
  /**
   * The name of the remote environment the process belongs to, when it has
   * one: it is executed remotely even when `remote_execution` is off (see
   * makeCommandRunner). No part of the action: what the environment asks
   * of a worker is in `platform`, which is.
   */
  readonly remoteEnvironment?: string;
  /**
   * A persistent worker that may run this process in place of spawning it,
   * locally, without strict isolation (persistent-workers.ts). No part of
   * the action: a worker's result must be the spawned process's, byte for
   * byte, and the worker program declines (the runner then spawns) what it
   * cannot run so.
   */
  readonly worker?: PersistentWorkerHint;
}

export interface PersistentWorkerHint {
  /** The interpreter that runs the worker program (absolute): the one the spawned command would run. */
  readonly interpreter: string;
  /** The worker program (absolute). */
  readonly program: string;
  /**
   * Candidates for the tool the worker loads, relative to the working
   * directory: the first that exists is it, as the command's PATH lookup
   * would find it. Its real path must be in a shared input (a read-only,
   * content-addressed copy), or the process is spawned.
   */
  readonly tool: readonly string[];
  /** Paths relative to the working directory whose presence would change what the command runs (a `node` ahead on PATH): the process is spawned if one exists. */
  readonly absent?: readonly string[];
  /** The tool's arguments. */
  readonly args: readonly string[];
}

export interface SharedInput {
  readonly tree: Digest;
  /** Directories kept real in the sandbox (their entries linked), so a process can add files there (`node_modules`). */
  readonly realDirs: readonly string[];
}

export interface LocalCache {
  /** Relative to the input root; it must not be in the input root. */
  readonly path: string;
  /** Absolute, on this machine; made if missing. */
  readonly hostDir: string;
}

export type ResultSource = 'ran locally' | 'local cache' | 'remote cache' | 'remote';

export interface ProcessResult {
  readonly exitCode: number;
  /** The process was killed because it exceeded its timeout. */
  readonly timedOut: boolean;
  readonly stdout: Digest;
  readonly stderr: Digest;
  /**
   * A Directory holding the outputs at their paths relative to the working
   * directory. Its files are in the local store; its Directories may be
   * only staged in this process (a cache hit's): read it with the store's
   * tree functions, or flushTree it before reading the store directly.
   */
  readonly outputRoot: Digest;
  readonly actionDigest: Digest;
  readonly source: ResultSource;
  /** Wall time of this request, cache lookups included. */
  readonly durationMs: number;
  /** How long the process itself ran when it was executed (for a cache hit: back then); null if unknown. */
  readonly executionMs: number | null;
  /** The REAPI result, as stored in action caches. */
  readonly actionResult: ActionResult;
}

/** Told about every process a run starts: the UI and the summary listen here. */
export interface ProcessObserver {
  started(id: number, process: Process): void;
  finished(id: number, process: Process, outcome: { readonly result?: ProcessResult; readonly error?: unknown }): void;
  /** `--keep-sandboxes` kept this process's sandbox at `path` (with a `__run.sh` that reproduces it). */
  sandboxKept?(id: number, process: Process, path: string): void;
}

export interface ExecContext {
  /** Cancelling kills every process the run started and removes their sandboxes. */
  readonly signal: AbortSignal;
  /** Unique per run; `per-run` results are reused only within it. */
  readonly runId: string;
  readonly observer?: ProcessObserver;
  readonly logger: Logger;
  /**
   * Where warnings about this run's requests are shown (one line, no prefix;
   * a remote cache that cannot be reached, say); absent: the log only.
   */
  readonly warn?: (message: string) => void;
  /**
   * One request's link to the observer, set by the outermost runner of a
   * stack (see observe.ts) and carried down with the context, so that the
   * layer which really starts the work reports it, under the request's id,
   * exactly once. Callers leave it unset.
   */
  readonly observation?: ProcessObservation;
}

/** The observer as seen by the layers of one request. Every method is idempotent and never throws. */
export interface ProcessObservation {
  readonly id: number;
  /** The process begins now (it has its execution slot, or a slow lookup begins); only the first call is reported. */
  markStarted(): void;
  /** Reports a kept sandbox; ignored once the request has finished. */
  sandboxKept(path: string): void;
}

export interface CommandRunner {
  /**
   * Runs (or finds a cached result for) a process. A non-zero exit code is a
   * result, not an error; failing to run at all is a FailureError (tag
   * `environment`), and cancellation rejects with an AbortError.
   */
  run(ctx: ExecContext, process: Process): Promise<ProcessResult>;
}
