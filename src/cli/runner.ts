import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { allBackends, buildInputs, platformOfHost, type Backend } from '../backends/index.js';
import {
  closest,
  createFileLogger,
  failure,
  FailureError,
  isAbortError,
  isFailureError,
  nullLogger,
  type Failure,
  type LogLevel,
  type Logger,
  type RunContext,
  TREWS_VERSION,
} from '../core/index.js';
import { allGoals, CommandSession, resolveAddresses, resolveTargets, targetsAt, type Goal, type GoalContext } from '../goals/index.js';
import { GLOBAL, parseCommandLine, resolveOptions, type CommandLine, type Options } from '../options/index.js';
import type { Target } from '../targets/index.js';
import { LOOP_RESTART_EXIT_CODE, type ChangeFeed } from '../daemon/index.js';
import type { Run } from '../engine/index.js';
import { EXEC_RUN } from '../exec/index.js';
import { ensureWorkDir, workDirOf } from '../fs/index.js';
import type { RemoteConfig } from '../remote/client/index.js';
import { consoleColors, localStoreDirOf, RunExec, type ExecServices } from '../runtime/index.js';
import { loadRemoteClient, remoteEnabled } from './remote-client-loader.js';
import { startRunWhenFree } from './start-run.js';
import { colorEnabled, palette, recordRun, renderFailure, runsDirIn, TraceRecorder, type Palette } from '../ui/index.js';
import { beginStoreUse, storeGenerationFile, type StoreUse } from '../store/index.js';
import { GraphFile } from './graph-file.js';
import { AppCache, createApp, fsRulesFrom, type App } from './app.js';
import { CONFIG_FILE, findBuildRoot } from './build-root.js';
import { LoopWatch } from './loop.js';
import { ReplayRecorder, type ReplaySetup } from './replay-record.js';
import { buildRegistry } from './registry.js';

export { buildRegistry };

async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (text === '') return;
  await new Promise<void>((res) => {
    // A closed pipe (`trews list :: | head`) is not an error of the run.
    stream.write(text, () => res());
  });
}

function report(ctx: RunContext, f: Failure, logPath: string | undefined, colors: Palette): Promise<void> {
  return write(ctx.stderr, renderFailure(f, { colors, ...(logPath ? { logPath } : {}) }));
}

/** Colours before the options are known (a usage error): the terminal and NO_COLOR/FORCE_COLOR decide. */
function colorsWithoutOptions(ctx: RunContext): Palette {
  return palette(colorEnabled({ option: true, optionSet: false, env: ctx.env, isTTY: ctx.isTTY.stderr }));
}

export interface RunnerDeps {
  /** Reused across runs by the daemon; a fresh cache per run otherwise. */
  readonly apps: AppCache;
  readonly goals?: readonly Goal[];
  readonly backends?: readonly Backend[];
  /** Overrides the per-root log file (the daemon logs to its own). */
  readonly logger?: Logger;
  /** Where `logger` writes, named with internal errors. */
  readonly logPath?: string;
  /** For `--loop` under the daemon: its watcher, which already invalidates the engines. */
  readonly changes?: ChangeFeed;
  /** For `--loop` under the daemon: aborted when the daemon is about to exit. */
  readonly restarting?: AbortSignal;
  /** A process without a daemon whose no-op runs may be recorded for replay (replay-record.ts, set by main.ts). */
  readonly replay?: ReplaySetup;
}

/**
 * Runs one command line to completion in this process and returns its exit code:
 * 0 success, 1 failure, 2 usage error, 130 cancelled. Never throws; every failure
 * is rendered on the run's stderr. With `--loop` it runs the goals again after
 * each change to what they read, until the run is cancelled.
 */
export async function runCommand(ctx: RunContext, deps: RunnerDeps): Promise<number> {
  const loop = new LoopWatch({ changes: deps.changes, restarting: deps.restarting, logger: deps.logger ?? nullLogger, pid: process.pid });
  const session = new CommandSession();
  try {
    let iteration = 0;
    let code = await runOnce(ctx, deps, loop, session, iteration);
    while (loop.active && !ctx.signal.aborted) {
      // A goal that follows the repository (a served page) has said how to stop it and says itself what changed.
      const quiet = loop.following;
      if (!quiet) await write(ctx.stderr, 'trews: waiting for changes (Ctrl-C to stop)\n');
      const wake = await loop.wait(ctx.signal);
      if (wake.kind === 'cancelled') {
        if (quiet) return code;
        await write(ctx.stderr, 'trews: cancelled\n');
        return 130;
      }
      if (wake.kind === 'restarting') {
        await write(ctx.stderr, `trews: the daemon is restarting (${wake.reason}); the loop goes on with the next one\n`);
        return LOOP_RESTART_EXIT_CODE;
      }
      if (!quiet) await write(ctx.stderr, `trews: ${wake.description}; running again\n`);
      code = await runOnce(ctx, deps, loop, session, ++iteration);
    }
    return code;
  } finally {
    await session.dispose();
    await loop.close();
  }
}

/** What a command line resolves to before any work: its goals, the build root, its options and remote configuration. */
interface Prepared {
  readonly selected: readonly Goal[];
  readonly root: string | undefined;
  readonly options: Options;
  /** Validated once per run (certificates and token files read once), then passed down. */
  readonly remoteConfig: RemoteConfig | null;
}

/** A failure of the command line itself: exit code 2 unless it says otherwise. */
function usageFailure(f: Failure): FailureError {
  return new FailureError({ ...f, exitCode: f.exitCode ?? 2 });
}

/**
 * Parses the command line, finds the build root, reads trews.toml, resolves
 * options and validates the remote ones: everything that can fail before any
 * work, each failure thrown as the FailureError it is.
 */
async function prepare(ctx: RunContext, goals: readonly Goal[], backends: readonly Backend[]): Promise<Prepared> {
  const registry = buildRegistry(goals, backends);
  const cl = parseCommandLine(ctx.argv, registry);
  if (!cl.ok) throw usageFailure(cl.failure);
  if (cl.value.goals.length === 0 && cl.value.specs.length > 0) throw usageFailure(noGoal(cl.value.specs, goals));
  const commandLine = helpFirst(cl.value);
  const wanted = commandLine.goals.length > 0 ? commandLine.goals : ['help'];
  const selected = wanted.map((name) => goals.find((g) => g.name === name)!);
  const needsRoot = selected.some((g) => g.needsBuildRoot);
  const root = findBuildRoot(ctx.cwd);
  if (root === undefined && needsRoot) {
    throw usageFailure(
      failure('input', 'no-build-root', `no ${CONFIG_FILE} found in ${ctx.cwd} or any directory above it`, {
        hints: [`create an empty ${CONFIG_FILE} at the root of your repository; it marks the build root`],
      }),
    );
  }
  let config: { path: string; text: string } | null = null;
  if (root !== undefined) {
    try {
      config = { path: CONFIG_FILE, text: readFileSync(join(root, CONFIG_FILE), 'utf8') };
    } catch (e) {
      throw new FailureError(failure('environment', 'config-unreadable', `cannot read ${join(root, CONFIG_FILE)}: ${(e as Error).message}`));
    }
  }
  const resolved = resolveOptions({ registry, commandLine, env: ctx.env, config, buildRoot: root ?? ctx.cwd, homeDir: ctx.env.HOME ?? homedir() });
  if (!resolved.ok) throw usageFailure(resolved.failure);
  const options = resolved.value;
  // Remote misconfigurations (missing server, unreadable certificate, bad token file) stop a run
  // before any work; `help` and `version` must still explain them.
  const remote = needsRoot && remoteEnabled(options) ? (await loadRemoteClient()).validateRemoteOptions(options) : undefined;
  if (remote !== undefined && !remote.ok) throw usageFailure(remote.failure);
  return { selected, root, options, remoteConfig: remote?.value ?? null };
}

/**
 * `trews help gc`, `trews test --help`: asking for help about goals is help,
 * never a run of them. The other goals become help's topics, before its own.
 */
function helpFirst(cl: CommandLine): CommandLine {
  const help = cl.goals.find((g) => g === 'help-advanced') ?? cl.goals.find((g) => g === 'help');
  if (help === undefined) return cl;
  const others = cl.goals.filter((g) => g !== 'help' && g !== 'help-advanced');
  // `trews test --help ::`: the specs were for the goal, not topics of help.
  return { ...cl, goals: [help], specs: others.length > 0 ? others : cl.specs };
}

/** `trews tset ::`: a first word that is no goal is a misspelt goal far more often than a spec. */
function noGoal(specs: readonly string[], goals: readonly Goal[]): Failure {
  const first = specs[0]!;
  if (/^[A-Za-z][\w-]*$/.test(first)) {
    const guess = closest(first, goals.map((g) => g.name));
    return failure('input', 'unknown-goal', `unknown goal \`${first}\``, {
      hints: [guess !== undefined ? `did you mean \`${guess}\`?` : '`trews help goals` lists the goals'],
    });
  }
  return failure('input', 'no-goal', `no goal given for ${specs.join(' ')}`, { hints: ['for example `trews list ::`; `trews help goals` lists the goals'] });
}

/** How a run that threw ends: the failure rendered on its stderr, and its exit code. */
async function reportThrown(ctx: RunContext, e: unknown, log: { logger: Logger; logPath: string | undefined; stacktraces: boolean; colors: Palette }): Promise<number> {
  if (isFailureError(e)) {
    await report(ctx, e.failure, log.logPath, log.colors);
    return e.failure.exitCode ?? 1;
  }
  if (isAbortError(e) || ctx.signal.aborted) {
    await write(ctx.stderr, 'trews: cancelled\n');
    return 130;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  log.logger.error(`internal error: ${err.stack ?? err.message}`);
  await report(ctx, failure('internal', 'internal', `internal error: ${err.message}`), log.logPath, log.colors);
  if (log.stacktraces && err.stack) await write(ctx.stderr, `${err.stack}\n`);
  return 1;
}

async function runOnce(ctx: RunContext, deps: RunnerDeps, loop: LoopWatch, session: CommandSession, iteration: number): Promise<number> {
  const startedAt = performance.now();
  const startedAtMs = Date.now();
  const goals = deps.goals ?? allGoals();
  const backends = deps.backends ?? allBackends();
  const log = { logger: deps.logger ?? nullLogger, logPath: deps.logger ? deps.logPath : undefined, stacktraces: false, colors: colorsWithoutOptions(ctx) };
  let run: Run | undefined;
  let storeUse: StoreUse | undefined;
  // path: where --trace writes; history: the run's file under .trews.d/runs (run_history).
  let trace: { recorder: TraceRecorder; path: string | undefined; history: { dir: string; keep: number } | undefined } | undefined;
  const runId = randomUUID();
  /** Set once the build root is known, when this run may be recorded for replay. */
  let replay: { recorder: ReplayRecorder; root: string } | undefined;
  let code: number | undefined;
  try {
    const { selected, root, options, remoteConfig } = await prepare(ctx, goals, backends);
    log.stacktraces = options.bool(GLOBAL, 'print_stacktrace');
    log.colors = consoleColors(ctx, options);
    const tracePath = traceFileOf(options, ctx.cwd, root);
    const keepRuns = root !== undefined ? options.int(GLOBAL, 'run_history') : 0;
    if (tracePath !== undefined || keepRuns > 0) {
      const recorder = new TraceRecorder({ origin: startedAt, metadata: { argv: ctx.argv, cwd: ctx.cwd, root: root ?? null, version: TREWS_VERSION, iteration, runId: shortRunId(runId) } });
      recorder.recordPhase('read options', startedAt, performance.now());
      trace = { recorder, path: tracePath, history: root !== undefined && keepRuns > 0 ? { dir: runsDirOf(root), keep: keepRuns } : undefined };
    }
    if (root !== undefined) ensureWorkDir(root);
    if (!deps.logger && root !== undefined) {
      log.logPath = join(workDirOf(root), 'trews.log');
      log.logger = createFileLogger(log.logPath, options.enum<LogLevel>(GLOBAL, 'level'));
    }
    const logger = log.logger;
    logger.info(`run: trews ${ctx.argv.join(' ')} (cwd ${ctx.cwd})`);
    if (deps.replay !== undefined && root !== undefined && iteration === 0) {
      replay = { recorder: new ReplayRecorder(deps.replay, logger), root };
      if (!options.bool(GLOBAL, 'replay_no_ops')) replay.recorder.refuse('replay_no_ops = false');
      const notReplayable = selected.find((goal) => goal.replayable?.(options) !== true);
      if (notReplayable !== undefined) replay.recorder.refuse(`\`${notReplayable.name}\` is not replayable with these options`);
      if (tracePath !== undefined) replay.recorder.refuse('the run writes a trace');
    }
    const rules = fsRulesFrom(options);
    const storeDir = localStoreDirOf(options, root ?? ctx.cwd, ctx.env, ctx.env['HOME'] ?? homedir());
    let app: App;
    let graphFile: GraphFile | undefined;
    let graphLoaded = false;
    if (root !== undefined) {
      // A lease on the store for the whole run, taken before its first use: a
      // concurrent GC keeps what the run (or the kept graph) relies on.
      storeUse = await beginStoreUse(storeDir, { sinceMs: deps.apps.peek(root)?.createdAt ?? Date.now(), signal: ctx.signal }).catch((e: unknown) => {
        logger.warn(`cannot register this run with the local store at ${storeDir}: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
      app = deps.apps.get(root, rules, storeDir, backends, logger, storeUse);
      // A goal that needs no build root (version, help, gc) asks nothing the kept
      // graph remembers: loading it would cost such a run tens of ms at 200 packages.
      const wantsGraph = selected.some((goal) => goal.needsBuildRoot);
      const kept = deps.apps.keptGraphs;
      const daemonGraph = deps.apps.keptGraphOf(app);
      if (daemonGraph !== undefined) {
        // Another run is this daemon App's first: it must not start before the graph is in.
        await daemonGraph.loading;
      } else if (kept !== undefined && wantsGraph && options.bool(GLOBAL, 'persist_graph') && app.engine.stats().runs === 0) {
        const endLoad = trace?.recorder.phase('load the kept graph');
        const file = new GraphFile(app, storeDir, logger, kept.code);
        // A daemon's run is proven from its live graph, not from the kept one (daemon-replay.ts).
        const loading = file.load(options, deps.replay !== undefined && deps.replay.live === undefined).then((n) => n > 0);
        if (kept.saveAfterEachRun) graphFile = file;
        else deps.apps.keepGraph(app, file, loading.catch(() => false));
        graphLoaded = await loading;
        endLoad?.();
      }
    } else {
      app = createApp(ctx.cwd, rules, storeDir, backends, logger);
    }
    // Watching starts before the run, so nothing it reads can change unseen.
    const loops = options.bool(GLOBAL, 'loop');
    const follows = !loops && selected.some((goal) => goal.follows?.(options) === true);
    if (root !== undefined && (loops || follows)) await loop.watch(root, rules, app, follows);
    if (loops || follows) replay?.recorder.refuse('the run goes on after its answer');
    let services: ExecServices | undefined;
    const exec = new RunExec({
      services: () => (services ??= app.execution(options, remoteConfig)),
      runId,
      logger,
      warn: (message) => void write(ctx.stderr, `warning: ${message}\n`),
    });
    const evictedBefore = app.engine.stats().evicted;
    const endStart = trace?.recorder.phase('start the run (waits for runs with other options)');
    const started = await startRunWhenFree(app.engine, { signal: ctx.signal, inputs: buildInputs(options, ctx.env, platformOfHost(process.platform, process.arch)), slots: [EXEC_RUN.with(exec)] }, {
      timeoutS: options.float(GLOBAL, 'daemon_timeout_when_multiple_invocations'),
      say: (line) => {
        // Waiting for another run is not part of this command's answer: a replay would say it again.
        replay?.recorder.refuse('it waited for another run');
        return write(ctx.stderr, `${line}\n`);
      },
    });
    endStart?.();
    run = started;
    const statsBefore = app.engine.stats();
    if (statsBefore.evicted > evictedBefore) {
      // Starting a run with none live sweeps the graph (daemon_graph_idle_runs, daemon_graph_max_nodes).
      logger.info(`graph: evicted ${statsBefore.evicted - evictedBefore} nodes no recent run used (${statsBefore.evicted} in all); ${statsBefore.nodes} kept`);
    }
    const cwdRel = root !== undefined ? relative(root, ctx.cwd).split('\\').join('/') : '';
    code = 0;
    let goalsEnded = false;
    let flushed: { readonly e: unknown } | undefined;
    try {
      for (const goal of selected) {
        const g = goalContext(ctx, app, options, goal, exec, {
          run: started,
          logger,
          goals,
          cwdRel: cwdRel.startsWith('..') ? '' : cwdRel,
          iteration,
          session,
          trace: trace?.recorder,
          ...(replay !== undefined ? { replay: replay.recorder } : {}),
        });
        const endGoal = trace?.recorder.phase(`goal ${goal.name}`);
        try {
          code = Math.max(code, await goal.execute(g));
        } finally {
          endGoal?.();
        }
      }
      goalsEnded = true;
    } finally {
      started.end();
      app.saveIndexes();
      if (graphFile !== undefined) {
        const endSave = trace?.recorder.phase('keep the graph');
        await graphFile.save(graphLoaded, services?.store);
        endSave?.();
      } else if (services !== undefined) {
        const daemonGraph = deps.apps.keptGraphOf(app);
        if (daemonGraph !== undefined) daemonGraph.blobs = services.store;
      }
      const endFlush = trace?.recorder.phase('flush remote cache writes');
      // Outputs of remote actions still downloading are waited for here; a
      // download that failed fails the run (after the rest of this cleanup).
      flushed = await app.flushRemote().then(
        () => undefined,
        (e: unknown) => ({ e }),
      );
      endFlush?.();
      // Not under the run's signal: a run cut short still ends a period of the memos.
      const endSweep = trace?.recorder.phase('sweep store memos');
      const swept = await app.sweepMemos().catch((e: unknown) => {
        logger.warn(`store memos: the sweep failed (kept for the next one): ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
      endSweep?.();
      if (swept !== undefined) {
        const k = swept.sizes;
        logger.info(
          `store memos: forgot ${swept.forgotten} entries no recent run used, wrote ${swept.flushed} staged; kept ${k.directories} directories, ${k.known} known blobs, ${k.results} tree results, ${k.stagedDirs + k.stagedFiles} staged`,
        );
        trace?.recorder.note('memos', { ...k, forgotten: swept.forgotten, flushed: swept.flushed });
      }
      if (trace !== undefined) {
        const after = app.engine.stats();
        trace.recorder.note('engine', { nodes: after.nodes, computes: after.computes - statsBefore.computes, revalidated: after.revalidated - statsBefore.revalidated, evicted: after.evicted - evictedBefore });
      }
      // A goal's own failure is the one to report; this one is logged with it.
      if (flushed !== undefined && !goalsEnded) logger.warn(`remote: ${flushed.e instanceof Error ? flushed.e.message : String(flushed.e)}`);
    }
    if (flushed !== undefined) throw flushed.e;
    if (replay !== undefined) {
      const { recorder, root: replayRoot } = replay;
      const finished = { root: replayRoot, cwd: ctx.cwd, argv: ctx.argv, env: ctx.env, exitCode: code, startedAtMs, storeFiles: [storeGenerationFile(storeDir)], storeDir, configFile: CONFIG_FILE };
      // Proven only when it can matter: a refused or failed run records nothing anyway.
      const provable = code === 0 && recorder.refusal === undefined;
      const live = deps.replay?.live;
      if (live !== undefined) {
        // A daemon's run: proven once its answer is out and no run is in progress (daemon-replay.ts).
        const liveRun = { app, listed: recorder.listedDirs(), bases: recorder.bases(), runsAtStart: statsBefore.runs, liveAtStart: statsBefore.liveRuns };
        live.afterRun(async (proof) => recorder.record({ ...finished, graph: provable ? await live.prove(liveRun, await proof) : undefined }));
      } else {
        await recorder.record({ ...finished, graph: graphLoaded && provable ? await graphFile?.replayProof(recorder.listedDirs()) : undefined });
      }
      replay = undefined;
    }
    return code;
  } catch (e) {
    code = await reportThrown(ctx, e, log);
    return code;
  } finally {
    // A run that failed is no answer to replay, and an older record of this command line must not stand for it.
    if (replay !== undefined) await replay.recorder.discard(replay.root, ctx.cwd, ctx.argv, `the run ended with ${code ?? 'an error'}`);
    await storeUse?.release();
    if (loop.active) loop.ran(run);
    if (trace?.path !== undefined) await writeTrace(ctx, trace.recorder, trace.path, log.logger);
    if (trace?.history !== undefined) await keepInHistory(ctx, trace.recorder, trace.history, shortRunId(runId), log.logger);
  }
}

/** `.trews.d/runs`: the traces `run_history` keeps, which `trews graph --runs` reads. */
function runsDirOf(root: string): string {
  return runsDirIn(workDirOf(root));
}

/** The first 8 hex digits of the run's UUID: unique enough among 20 runs, short enough to type in `--run=`. */
function shortRunId(runId: string): string {
  return runId.replace(/-/g, '').slice(0, 8);
}

/** Only runs that ran (or were served) processes have a timeline; `list` or `help` leave the history alone. A failure to keep it is a warning, never the run's failure. */
async function keepInHistory(ctx: RunContext, recorder: TraceRecorder, history: { dir: string; keep: number }, id: string, logger: Logger): Promise<void> {
  if (recorder.processCount === 0) return;
  try {
    await recordRun(history.dir, recorder, id, history.keep);
  } catch (e) {
    const message = `cannot keep this run's trace in ${history.dir}: ${e instanceof Error ? e.message : String(e)} (run_history = 0 stops keeping them)`;
    logger.warn(message);
    await write(ctx.stderr, `warning: ${message}\n`);
  }
}

/** Where `--trace` writes, or undefined when the run is not traced. */
function traceFileOf(options: Options, cwd: string, root: string | undefined): string | undefined {
  const file = options.maybePath(GLOBAL, 'trace_file');
  if (file !== null) return resolve(cwd, file);
  if (!options.bool(GLOBAL, 'trace')) return undefined;
  return root !== undefined ? join(workDirOf(root), 'trace.json') : resolve(cwd, 'trews-trace.json');
}

async function writeTrace(ctx: RunContext, recorder: TraceRecorder, path: string, logger: Logger): Promise<void> {
  try {
    await recorder.write(path);
    await write(ctx.stderr, `trews: wrote the trace of this run to ${path} (open it in https://ui.perfetto.dev)\n`);
  } catch (e) {
    logger.warn(`cannot write the trace to ${path}: ${e instanceof Error ? e.message : String(e)}`);
    await write(ctx.stderr, `warning: cannot write the trace to ${path}: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

function goalContext(
  ctx: RunContext,
  app: App,
  options: Options,
  goal: Goal,
  exec: RunExec,
  rest: Pick<GoalContext, 'run' | 'logger' | 'goals' | 'cwdRel' | 'iteration' | 'session' | 'trace' | 'replay'>,
): GoalContext {
  let selected: Promise<readonly Target[]> | undefined;
  const selecting = <T>(select: () => Promise<T>): Promise<T> => (rest.trace ? rest.trace.during('select targets', select) : select());
  return {
    ctx,
    options,
    project: app.project,
    renv: app.renv,
    exec,
    root: app.root,
    ...rest,
    targets() {
      selected ??= selecting(() => resolveTargets(ctx, rest.run, app.project, options, rest.cwdRel, goal.name));
      return selected;
    },
    addresses() {
      if (selected !== undefined) return selected.then((ts) => ts.map((t) => t.address));
      return selecting(() => resolveAddresses(ctx, rest.run, app.project, options, rest.cwdRel, goal.name));
    },
    targetsAt(addrs) {
      return targetsAt(rest.run, app.project, addrs);
    },
    services() {
      return exec.services;
    },
    async emit(lines) {
      const text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
      const file = options.registry.option(goal.name, 'output_file') ? options.maybePath(goal.name, 'output_file') : null;
      if (file === null) return write(ctx.stdout, text);
      const dest = resolve(ctx.cwd, file);
      const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
      try {
        await writeFile(tmp, text);
        await rename(tmp, dest);
      } catch (e) {
        throw new FailureError(
          failure('environment', 'output-file', `cannot write --output-file ${file}: ${(e as Error).message}`, { hints: ['check that its directory exists and is writable'] }),
        );
      }
    },
  };
}
