import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { constants as osConstants } from 'node:os';
import { chmod, lchown, lstat, mkdir, open, readFile, readdir, realpath, stat, symlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  EMPTY_DIGEST,
  FailureError,
  abortError,
  digestOf,
  failure,
  isAbortError,
  isFailureError,
  nullLogger,
  type Digest,
  type Logger,
} from '../core/index.js';
import { captureOutputs, checkLinkedInputs, LinkFarms, materializeTree, sharedTreesFor, type FarmUse, type LocalStore, type ModifiedInput, type SharedTreeLink, type SharedTreeUse } from '../store/index.js';
import { ActionResultSchema, ExecutedActionMetadataSchema, toProtoDigest, type ActionResult } from '../reapi/index.js';
import { observed } from './observe.js';
import type { PersistentWorkers } from './persistent-workers.js';
import { signalGroup, trackGroup, untrackGroup, waitGroupGone } from './process-group.js';
import { resolveProgram } from './resolve-program.js';
import { runScript } from './run-script.js';
import { spawnProcess, type SpawnedProcess, type SpawnerKind } from './spawner.js';
import { createSandboxDir, discardSandboxDir, keepSandboxDir, type SandboxDir } from './sandbox-dir.js';
import { toAction } from './to-action.js';
import { bwrapArgs, DEFAULT_HOST_PATH, enoentPaths, findBwrap, findStrace, hiddenPaths, mirroredPaths, TRACE_PATH, tracedMissingPaths, undeclaredInputFailure } from './strict-sandbox.js';
import type { CommandRunner, ExecContext, Isolation, Process, ProcessResult } from './types.js';

export type KeepSandboxes = 'never' | 'on_failure' | 'always';

export interface LocalRunnerOptions {
  readonly store: LocalStore;
  /** Where sandboxes are made (each in its own fresh directory). */
  readonly sandboxRoot: string;
  /** Option `keep_sandboxes`: `on_failure` keeps those of processes that exit non-zero, time out or cannot start. */
  readonly keepSandboxes?: KeepSandboxes;
  /** For problems outside any one run (a sandbox that cannot be removed). Per-run messages go to the run's logger. */
  readonly logger?: Logger;
  /** Time between SIGTERM and SIGKILL when a process times out or is cancelled (default 1000 ms). */
  readonly killGraceMs?: number;
  /**
   * Run processes as this user and group instead of the runner's own (it
   * must be root): `trews remote-server --run-as`. The sandbox's
   * directories are handed to that user so it can create outputs; input
   * files stay the runner's and read-only (hard links into the store must
   * never change owner).
   */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /**
   * `strict`: every process runs strictly isolated, whatever it asks
   * (`trews remote-server`); `none` (the default): only those whose
   * `isolation` is strict.
   */
  readonly isolation?: Isolation;
  /** `--sandbox-explain`: a strict process that fails is traced with strace, to name the files it could not see. */
  readonly explain?: boolean;
  /** Where bwrap and strace are looked for when a process names no `hostSearchPath` (default: the standard system directories; `trews remote-server`: its PATH). */
  readonly hostPath?: string;
  /**
   * Who forks the processes: `helper` (the default), a small node process
   * started once (spawner.ts: fork() from trews costs 10–20 ms at its
   * size); `inline`, trews itself.
   */
  readonly spawner?: SpawnerKind;
  /**
   * Where processes with a `worker` hint run (without strict isolation and
   * `runAs`): persistent-workers.ts. Absent: every process is spawned.
   */
  readonly workers?: PersistentWorkers;
}

/** In every strict sandbox (/usr is bound): resets what bwrap adds to the environment. */
const ENV_PROGRAM = '/usr/bin/env';

/** Longest we wait for a killed process group to disappear before giving up on it (and logging). */
const GROUP_EXIT_WAIT_MS = 5000;
const DEFAULT_KILL_GRACE_MS = 1000;
/** stdout/stderr up to this size are read whole and stored from memory rather than streamed. */
const SMALL_STREAM_BYTES = 256 * 1024;


/**
 * Runs processes on this machine, each in a fresh sandbox holding exactly
 * its input root, with exactly its env, in a process group of its own that
 * is killed when the process ends, times out or is cancelled — nothing it
 * started is left running. Results are REAPI ActionResults whose blobs are in
 * the local store.
 */
export function createLocalRunner(options: LocalRunnerOptions): CommandRunner {
  return new LocalSandboxRunner(options);
}

interface Execution {
  readonly exitCode: number;
  readonly timedOut: boolean;
  readonly startMs: number;
  readonly endMs: number;
}

class LocalSandboxRunner implements CommandRunner {
  readonly #store: LocalStore;
  readonly #sandboxRoot: string;
  readonly #keep: KeepSandboxes;
  readonly #logger: Logger;
  readonly #graceMs: number;
  readonly #runAs: { readonly uid: number; readonly gid: number } | undefined;
  readonly #allStrict: boolean;
  readonly #explain: boolean;
  readonly #hostPath: string;
  readonly #spawner: SpawnerKind;
  readonly #workers: PersistentWorkers | undefined;

  constructor(o: LocalRunnerOptions) {
    this.#store = o.store;
    this.#sandboxRoot = o.sandboxRoot;
    this.#keep = o.keepSandboxes ?? 'never';
    this.#logger = o.logger ?? nullLogger;
    this.#graceMs = o.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.#runAs = o.runAs;
    this.#allStrict = o.isolation === 'strict';
    this.#explain = o.explain === true;
    this.#hostPath = o.hostPath ?? DEFAULT_HOST_PATH;
    this.#spawner = o.spawner ?? 'helper';
    this.#workers = o.workers;
  }

  #strict(proc: Process): boolean {
    return this.#allStrict || proc.isolation === 'strict';
  }

  run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    return observed(ctx, proc, (ctx) => this.#run(ctx, proc));
  }

  async #run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
    const { actionDigest } = toAction(proc); // validates the process
    const { signal } = ctx;
    if (signal.aborted) throw abortError();
    ctx.observation?.markStarted();
    const t0 = performance.now();
    const workerStart = Date.now();
    let sandbox: SandboxDir;
    try {
      sandbox = await createSandboxDir(this.#sandboxRoot, { traversable: this.#runAs !== undefined });
    } catch (e) {
      if (isFailureError(e)) throw e; // an unsafe sandbox root says why itself
      throw new FailureError(
        failure('environment', 'sandbox-create-failed', `cannot create a sandbox under ${this.#sandboxRoot}: ${e instanceof Error ? e.message : String(e)}`, {
          hints: ['check that the directory is writable and its disk has space'],
        }),
      );
    }
    let keep = false;
    let farms: readonly FarmUse[] = [];
    try {
      const workDir = proc.workingDirectory === '' ? sandbox.root : join(sandbox.root, proc.workingDirectory);
      const fetchStart = Date.now();
      const strict = this.#strict(proc);
      // Before anything is materialized: a machine without bubblewrap fails at once.
      const hostPath = proc.hostSearchPath?.join(':') ?? this.#hostPath;
      const bwrap = strict ? await findBwrap(hostPath) : undefined;
      const strace = strict && this.#explain ? await findStrace(hostPath) : undefined;
      const shared = await this.#sharedTrees(proc, signal);
      const inputs = await materializeTree(this.#store, proc.inputRoot, sandbox.root, { mode: 'hardlink', signal, shared: shared.map((s) => s.link) });
      farms = inputs.farms;
      await linkLocalCaches(proc, sandbox.root);
      // REAPI: the worker creates the working directory and the parents of
      // every output (not output directories themselves), so tools need not.
      const parents = new Set<string>([workDir]);
      for (const f of proc.outputFiles) parents.add(dirname(join(workDir, f)));
      for (const d of proc.outputDirectories) if (d !== '') parents.add(dirname(join(workDir, d)));
      for (const p of parents) await makeDirIn(p, sandbox.root, proc);
      if (this.#runAs !== undefined) await handOver(sandbox, this.#runAs);
      const fetchDone = Date.now();
      if (signal.aborted) throw abortError();

      let exec: Execution;
      try {
        const program = await resolveProgram(proc.argv[0] ?? '', proc.env['PATH'], workDir);
        if (!program.ok) throw new FailureError(program.failure);
        const tokens = shared.map((s) => s.use.begin());
        try {
          const inWorker = bwrap === undefined ? await this.#inWorker(ctx, proc, workDir, sandbox, shared.map((s) => s.use.dir)) : undefined;
          exec = inWorker ?? (await this.#execute(ctx, proc, program.value, workDir, sandbox, bwrap === undefined ? undefined : { bwrap, strace, sharedDirs: shared.map((s) => s.use.dir) }));
        } finally {
          // Every process on a shared tree checks it, even one that failed or was cancelled: a write must discard the tree.
          const modified = await Promise.all(shared.map((s, i) => s.use.modifiedSince(tokens[i]!)));
          const at = shared.find((_, i) => modified[i]);
          if (at !== undefined && !signal.aborted) {
            if (this.#keep !== 'never') keep = await this.#keepSandbox(ctx, proc, sandbox, workDir);
            // eslint-disable-next-line no-unsafe-finally -- the tree's modification outranks whatever the process did
            throw sharedTreeModified(proc, at.use.dir);
          }
        }
      } catch (e) {
        // A process that could not start is a failure worth a kept sandbox (its
        // layout is often why); a cancelled one is not.
        if (!isAbortError(e) && isFailureError(e) && this.#keep !== 'never') keep = await this.#keepSandbox(ctx, proc, sandbox, workDir);
        throw e;
      }

      // Inputs are hard links into the store: a process that wrote to one
      // (or ran while another wrote to a blob it shares) has no result worth
      // keeping, and the damaged blob must leave the store (input-check.ts).
      const modified = await checkLinkedInputs(this.#store, sandbox.root, inputs.linked, signal);
      if (modified.length > 0) {
        if (this.#keep !== 'never') keep = await this.#keepSandbox(ctx, proc, sandbox, workDir);
        throw inputModified(proc, modified);
      }

      if (bwrap !== undefined && exec.exitCode !== 0 && !exec.timedOut) {
        // A failed strict process may have failed for want of a file its sandbox hides: say which, rather than a bare exit code.
        const hidden = await this.#hiddenInputs(proc, sandbox, workDir, strace !== undefined);
        if (hidden.paths.length > 0) {
          if (this.#keep !== 'never') keep = await this.#keepSandbox(ctx, proc, sandbox, workDir);
          throw undeclaredInputFailure(proc, hidden.paths, strace !== undefined, hidden.stderrTail);
        }
      }

      const uploadStart = Date.now();
      // At once: each is a few file-system round trips, independent of the others.
      const [stdout, stderr, outputs] = await Promise.all([
        this.#storeStream(sandbox.stdoutPath, signal),
        this.#storeStream(sandbox.stderrPath, signal),
        captureOutputs(this.#store, workDir, proc.outputFiles, proc.outputDirectories, { signal }),
      ]);
      const uploadDone = Date.now();
      if (signal.aborted) throw abortError();

      const actionResult: ActionResult = create(ActionResultSchema, {
        outputFiles: outputs.outputFiles,
        outputDirectories: outputs.outputDirectories,
        outputSymlinks: outputs.outputSymlinks,
        exitCode: exec.exitCode,
        stdoutDigest: toProtoDigest(stdout),
        stderrDigest: toProtoDigest(stderr),
        executionMetadata: create(ExecutedActionMetadataSchema, {
          worker: 'local',
          workerStartTimestamp: timestampFromMs(workerStart),
          inputFetchStartTimestamp: timestampFromMs(fetchStart),
          inputFetchCompletedTimestamp: timestampFromMs(fetchDone),
          executionStartTimestamp: timestampFromMs(exec.startMs),
          executionCompletedTimestamp: timestampFromMs(exec.endMs),
          outputUploadStartTimestamp: timestampFromMs(uploadStart),
          outputUploadCompletedTimestamp: timestampFromMs(uploadDone),
          workerCompletedTimestamp: timestampFromMs(Date.now()),
        }),
      });
      const failed = exec.exitCode !== 0 || exec.timedOut;
      if (this.#keep === 'always' || (this.#keep === 'on_failure' && failed)) {
        keep = await this.#keepSandbox(ctx, proc, sandbox, workDir);
      }
      return {
        exitCode: exec.exitCode,
        timedOut: exec.timedOut,
        stdout,
        stderr,
        outputRoot: outputs.outputRoot,
        actionDigest,
        source: 'ran locally',
        durationMs: performance.now() - t0,
        executionMs: exec.endMs - exec.startMs,
        actionResult,
      };
    } finally {
      // After the shared trees' barrier (above): every event of the process on a farm has arrived.
      for (const f of farms) {
        if (keep) f.abandon();
        else await f.release();
      }
      if (!keep) {
        const cannot = (e: unknown): void => this.#logger.warn(`local runner: cannot remove sandbox ${sandbox.dir}: ${e instanceof Error ? e.message : String(e)}`);
        await discardSandboxDir(sandbox.dir, this.#sandboxRoot, cannot).catch(cannot);
      } else keepSandboxDir(sandbox.dir);
    }
  }

  /**
   * Spawns the process and waits for it and its whole group. Resolves with
   * the exit (a timeout is a result); rejects with an AbortError when
   * cancelled, only once every process of the group is gone.
   */
  async #execute(
    ctx: ExecContext,
    proc: Process,
    program: string,
    workDir: string,
    sandbox: SandboxDir,
    strict: { readonly bwrap: string; readonly strace: string | undefined; readonly sharedDirs: readonly string[] } | undefined,
  ): Promise<Execution> {
    const { signal } = ctx;
    let file = program;
    let args = proc.argv.slice(1);
    let argv0 = proc.argv[0] ?? program;
    if (strict !== undefined) {
      // bwrap leads the process group, so timeouts and cancellation kill it
      // as before; its PID namespace then takes everything inside with it.
      const traceFile = strict.strace === undefined ? undefined : join(sandbox.dir, 'strace');
      if (traceFile !== undefined) {
        await writeFile(traceFile, '');
        if (this.#runAs !== undefined) await lchown(traceFile, this.#runAs.uid, this.#runAs.gid);
      }
      // bwrap exports PWD (the directory it enters) to what it runs; the process must get exactly its own env.
      const inner = [ENV_PROGRAM, ...(proc.env['PWD'] === undefined ? ['-u', 'PWD'] : [`PWD=${proc.env['PWD']}`]), '--', program, ...args];
      const traced = strict.strace === undefined ? inner : [strict.strace, '-f', '-qq', '-e', 'trace=file', '-o', TRACE_PATH, '--', ...inner];
      args = [...(await bwrapArgs(proc, { root: sandbox.root, workDir, sharedDirs: strict.sharedDirs, ...(traceFile !== undefined ? { traceFile } : {}) })), ...traced];
      file = strict.bwrap;
      argv0 = strict.bwrap;
    }
    if (signal.aborted) throw abortError();
    const startMs = Date.now();
    // Files rather than pipes: a background grandchild holding them open
    // cannot keep us waiting for EOF, and nothing is buffered in memory.
    // Its own session and process group (setsid), killed as one; stdin /dev/null.
    const child = spawnProcess(this.#spawner, {
      file,
      args,
      argv0,
      cwd: workDir,
      env: proc.env,
      stdoutPath: sandbox.stdoutPath,
      stderrPath: sandbox.stderrPath,
      ...(this.#runAs !== undefined ? { uid: this.#runAs.uid, gid: this.#runAs.gid } : {}),
    });
    return this.#supervise(ctx, proc, child, startMs);
  }

  /**
   * Runs the process in a persistent worker when it names one and one can
   * run it exactly: no strict isolation, no other user, nothing in the way
   * of the tool (`absent`), the tool's real path in one of the shared
   * read-only copies (a stable, content-addressed path the worker may load
   * and cache), and the worker program accepts the arguments. Undefined:
   * spawn it. The sandbox, the barrier on shared copies and the capture of
   * outputs around it are the spawned process's.
   */
  async #inWorker(ctx: ExecContext, proc: Process, workDir: string, sandbox: SandboxDir, sharedDirs: readonly string[]): Promise<Execution | undefined> {
    const hint = proc.worker;
    if (hint === undefined || this.#workers === undefined || this.#runAs !== undefined || this.#strict(proc) || sharedDirs.length === 0) return undefined;
    for (const a of hint.absent ?? []) if (await exists(join(workDir, a))) return undefined;
    let tool: string | undefined;
    for (const c of hint.tool) {
      tool = await realpath(join(workDir, c)).catch(() => undefined);
      if (tool !== undefined) break;
    }
    if (tool === undefined) return undefined;
    const cacheable = await Promise.all(sharedDirs.map((d) => realpath(d)));
    if (!cacheable.some((d) => tool.startsWith(`${d}/`))) return undefined;
    const startMs = Date.now();
    const outcome = await this.#workers.run(
      { interpreter: hint.interpreter, program: hint.program, tool },
      { cwd: workDir, args: hint.args, env: proc.env, cacheable },
      { signal: ctx.signal, timeoutMs: proc.timeoutMs, graceMs: this.#graceMs, logger: ctx.logger, description: proc.description },
    );
    if (outcome.kind === 'declined') {
      ctx.logger.debug(`local runner: ${proc.description}: the persistent worker declined (${outcome.reason}); spawning it`);
      return undefined;
    }
    await Promise.all([writeFile(sandbox.stdoutPath, outcome.stdout), writeFile(sandbox.stderrPath, outcome.stderr)]);
    const endMs = Date.now();
    ctx.logger.debug(`local runner: ${proc.description} ran in a persistent worker (${endMs - startMs} ms, exit ${outcome.exitCode}${outcome.note !== undefined ? `, ${outcome.note}` : ''})`);
    return { exitCode: outcome.exitCode, timedOut: outcome.timedOut, startMs, endMs };
  }

  #supervise(ctx: ExecContext, proc: Process, child: SpawnedProcess, startMs: number): Promise<Execution> {
    const { signal } = ctx;
    return new Promise<Execution>((resolve, reject) => {
      let timedOut = false;
      let cancelled = false;
      let graceTimer: NodeJS.Timeout | undefined;
      let timeoutTimer: NodeJS.Timeout | undefined;
      // Known once the spawner has started it: a timeout or cancellation before then is acted on at 'spawn'.
      let pgid: number | undefined;
      let terminating = false;

      const terminate = (): void => {
        terminating = true;
        const group = pgid;
        if (group === undefined || graceTimer !== undefined) return;
        signalGroup(group, 'SIGTERM');
        graceTimer = setTimeout(() => signalGroup(group, 'SIGKILL'), this.#graceMs);
      };
      const onAbort = (): void => {
        cancelled = true;
        terminate();
      };
      const cleanupTimers = (): void => {
        if (timeoutTimer !== undefined) clearTimeout(timeoutTimer);
        if (graceTimer !== undefined) clearTimeout(graceTimer);
        signal.removeEventListener('abort', onAbort);
      };

      child.once('spawn', () => {
        pgid = child.pid;
        if (pgid === undefined) return;
        trackGroup(pgid);
        if (terminating) terminate();
      });

      child.once('error', (e: NodeJS.ErrnoException) => {
        // Reached when the spawn itself fails (the program vanished or is not
        // executable after all, E2BIG, EMFILE, ...): nothing is running; or
        // when the spawner died under it, which SIGKILLed its group.
        cleanupTimers();
        if (pgid !== undefined) untrackGroup(pgid);
        if (cancelled) {
          reject(abortError());
          return;
        }
        if (e.code === 'ESPAWNER') {
          reject(
            new FailureError(
              failure('environment', 'spawner-died', `\`${proc.argv[0] ?? ''}\` (${proc.description}) did not finish: ${e.message}`, {
                hints: ['run it again; trews starts a new spawner'],
              }),
            ),
          );
          return;
        }
        reject(
          new FailureError(
            failure('environment', 'spawn-failed', `cannot start \`${proc.argv[0] ?? ''}\` (${proc.description}): ${e.message}`, {
              hints: ['check that the program exists, is executable and that the machine has free process and file slots'],
            }),
          ),
        );
      });

      child.once('exit', (code: number | null, sig: NodeJS.Signals | null) => {
        const endMs = Date.now();
        cleanupTimers();
        // The leader is gone; anything it left behind in its group goes too,
        // at once: the process's result is decided, stragglers only race the
        // output capture.
        const finish = async (): Promise<void> => {
          if (pgid !== undefined) {
            const stragglers = signalGroup(pgid, 'SIGKILL');
            // SIGKILL is sent: nothing is left for the exit hook to do, and
            // forgetting the id now means it can never hit a reused one.
            untrackGroup(pgid);
            if (stragglers && !(await waitGroupGone(pgid, GROUP_EXIT_WAIT_MS))) {
              ctx.logger.warn(`local runner: processes of group ${pgid} (${proc.description}) survived SIGKILL for ${GROUP_EXIT_WAIT_MS} ms`);
            }
          }
          if (cancelled) {
            reject(abortError());
            return;
          }
          const exitCode = code ?? 128 + (sig === null ? 0 : (osConstants.signals[sig] ?? 0));
          resolve({ exitCode, timedOut, startMs, endMs });
        };
        finish().catch(reject);
      });

      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      if (proc.timeoutMs !== null) {
        timeoutTimer = setTimeout(() => {
          timedOut = true;
          ctx.logger.debug(`local runner: ${proc.description} timed out after ${proc.timeoutMs} ms; killing its process group`);
          terminate();
        }, proc.timeoutMs);
      }
    });
  }

  /**
   * Stores a captured stdout or stderr. Most are empty or small: those skip
   * putFile's streaming copy (a few file-system round trips fewer per process).
   */
  async #storeStream(path: string, signal: AbortSignal): Promise<Digest> {
    const { size } = await stat(path);
    if (size === 0) return EMPTY_DIGEST;
    if (size > SMALL_STREAM_BYTES) return this.#store.putFile(path, signal);
    const bytes = await readFile(path);
    const digest = digestOf(bytes);
    await this.#store.put(digest, bytes, signal);
    return digest;
  }

  /** The files a failed strict process reported missing (stderr; strace's log when explaining) that its sandbox hid. */
  async #hiddenInputs(proc: Process, sandbox: SandboxDir, workDir: string, explained: boolean): Promise<{ paths: string[]; stderrTail: string }> {
    const stderr = await readTail(sandbox.stderrPath, 64 * 1024);
    // node names a path as it was given: a relative one is from the process's working directory (not trews').
    const reported = enoentPaths(stderr).map((p) => resolve(workDir, p));
    const traced = explained ? tracedMissingPaths(await readTail(join(sandbox.dir, 'strace'), 4 * 1024 * 1024)) : [];
    // What it reported missing inside its sandbox (`../../secret.txt`) but the workspace has: an input it did not declare.
    // From stderr only: a trace's probes (module resolution) would name files it never needed.
    const undeclared = proc.sourceRoot === undefined ? [] : await mirroredPaths(reported, sandbox.root, proc.sourceRoot);
    const paths = [...undeclared, ...(await hiddenPaths([...new Set([...reported, ...traced])], sandbox.root))];
    const lines = stderr.trimEnd().split('\n');
    return { paths, stderrTail: stderr.trim() === '' ? '' : lines.slice(-5).join('\n') };
  }

  /** The shared materializations of the process's shared inputs (none where they cannot be watched: those are made file by file). */
  async #sharedTrees(proc: Process, signal: AbortSignal): Promise<Array<{ link: SharedTreeLink; use: SharedTreeUse }>> {
    if (proc.sharedInputs === undefined || this.#runAs !== undefined) return [];
    const trees = sharedTreesFor(this.#store, this.#logger);
    const out: Array<{ link: SharedTreeLink; use: SharedTreeUse }> = [];
    for (const s of proc.sharedInputs) {
      const use = await trees.acquire(s.tree, signal);
      if (use !== undefined) out.push({ use, link: { tree: s.tree, dir: use.dir, realDirs: new Set(s.realDirs), farms: farmsFor(this.#store, this.#sandboxRoot) } });
    }
    return out;
  }

  async #keepSandbox(ctx: ExecContext, proc: Process, sandbox: SandboxDir, workDir: string): Promise<boolean> {
    try {
      await writeFile(sandbox.runScriptPath, runScript(proc, workDir), { mode: 0o755 });
    } catch (e) {
      ctx.logger.warn(`local runner: cannot write ${sandbox.runScriptPath}: ${e instanceof Error ? e.message : String(e)}`);
    }
    ctx.logger.info(`local runner: kept the sandbox of ${proc.description} at ${sandbox.dir}`);
    ctx.observation?.sandboxKept(sandbox.dir);
    return true;
  }
}

function inputModified(proc: Process, modified: readonly ModifiedInput[]): FailureError {
  const first = modified[0]!;
  const more = modified.length > 1 ? ` (and ${modified.length - 1} more input${modified.length > 2 ? 's' : ''})` : '';
  return new FailureError(
    failure(
      'environment',
      'input-modified',
      `process \`${proc.description}\` modified its input \`${first.path}\`${more}, or another process sharing that file did while it ran: its result is discarded and the file was removed from the local store`,
      {
        hints: [
          'inputs are read-only hard links into the local store, shared with other processes: a process must not write to them (not even after chmod); copy the file and change the copy, or write an output instead',
          'the next run stores the file again from its source',
        ],
        notes: modified.slice(1, 10).map((m) => `also modified: \`${m.path}\``),
      },
    ),
  );
}

function sharedTreeModified(proc: Process, dir: string): FailureError {
  return new FailureError(
    failure(
      'environment',
      'input-modified',
      `process \`${proc.description}\` modified its shared read-only inputs (node_modules, linked from ${dir}), or another process using them did while it ran: its result is discarded, and the shared copy is removed and will be made again`,
      {
        hints: [
          'a script must not write into node_modules packages; write to its outputs, or to a directory of its own (node_modules/.cache is writable)',
          'the next run makes the shared copy again from the store',
        ],
      },
    ),
  );
}

/** Links the process's local caches (the package manager's download cache) into its sandbox. */
async function linkLocalCaches(proc: Process, root: string): Promise<void> {
  for (const c of proc.localCaches ?? []) {
    await mkdir(c.hostDir, { recursive: true });
    const at = join(root, c.path);
    await mkdir(dirname(at), { recursive: true });
    try {
      await symlink(c.hostDir, at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      throw new FailureError(
        failure('internal', 'local-cache-conflict', `process \`${proc.description}\`: its local cache \`${c.path}\` is also in its input root`, {
          hints: ['this is a bug in the rule that made the process'],
        }),
      );
    }
  }
}

/**
 * Gives the sandbox to the user processes run as: its top directory
 * becomes searchable (not listable: it holds our stdout/stderr files), and
 * every directory of the input root becomes that user's, so the process
 * can create outputs. Files are left alone: most are hard links to store
 * blobs, whose owner must stay the store's.
 */
async function handOver(sandbox: SandboxDir, to: { readonly uid: number; readonly gid: number }): Promise<void> {
  await chmod(sandbox.dir, 0o711);
  const walk = async (dir: string): Promise<void> => {
    await lchown(dir, to.uid, to.gid);
    for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await walk(join(dir, e.name));
  };
  await walk(sandbox.root);
}

/**
 * Creates a directory the process needs (its working directory, an output's
 * parent). It fails when the input root has a file where a directory must
 * be: the rule's inputs and outputs contradict each other.
 */
async function makeDirIn(abs: string, root: string, proc: Process): Promise<void> {
  try {
    await mkdir(abs, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw e;
    const rel = abs.slice(root.length + 1);
    throw new FailureError(
      failure('input', 'output-parent-conflict', `process \`${proc.description}\`: cannot create the directory \`${rel}\`: the input root has a file in its way`, {
        hints: ['the working directory and the parents of declared outputs must be directories (or absent) in the input root'],
      }),
    );
  }
}

const farmPools = new WeakMap<LocalStore, Map<string, LinkFarms>>();

/**
 * The farms of a store's shared trees for one sandbox root, in this process
 * (link-farms.ts). Idle farms wait in a directory made like a sandbox, so
 * an exit removes it, and a daemon's successor if the daemon was killed.
 */
function farmsFor(store: LocalStore, sandboxRoot: string): LinkFarms {
  let byRoot = farmPools.get(store);
  if (byRoot === undefined) farmPools.set(store, (byRoot = new Map()));
  let farms = byRoot.get(sandboxRoot);
  if (farms === undefined) {
    let pool: Promise<string> | undefined;
    farms = new LinkFarms(store, () => (pool ??= createSandboxDir(sandboxRoot).then((s) => s.dir)));
    byRoot.set(sandboxRoot, farms);
  }
  return farms;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** The last `max` bytes of a file, as text ('' when it is missing). */
async function readTail(path: string, max: number): Promise<string> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    const len = Math.min(size, max);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    await fh?.close();
  }
}
