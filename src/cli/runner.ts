import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { allBackends, localStoreDirOf, type Backend } from '../backends/index.js';
import {
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
} from '../core/index.js';
import { allGoals, resolveTargets, targetsAt, type Goal, type GoalContext } from '../goals/index.js';
import { GLOBAL, parseCommandLine, resolveOptions, type Options } from '../options/index.js';
import type { Target } from '../targets/index.js';
import { LOOP_RESTART_EXIT_CODE, type ChangeFeed } from '../daemon/index.js';
import type { Run } from '../engine/index.js';
import { loadRemoteClient, remoteEnabled } from './remote-client-loader.js';
import { renderFailure } from '../ui/index.js';
import { beginStoreUse, type StoreUse } from '../store/index.js';
import { AppCache, createApp, fsRulesFrom, type App } from './app.js';
import { CONFIG_FILE, findBuildRoot } from './build-root.js';
import { LoopWatch } from './loop.js';
import { buildRegistry } from './registry.js';

export { buildRegistry };

async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (text === '') return;
  await new Promise<void>((res) => {
    // A closed pipe (`trews list :: | head`) is not an error of the run.
    stream.write(text, () => res());
  });
}

function report(ctx: RunContext, f: Failure, logPath?: string): Promise<void> {
  return write(ctx.stderr, renderFailure(f, logPath ? { logPath } : {}));
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
}

/**
 * Runs one command line to completion in this process and returns its exit code:
 * 0 success, 1 failure, 2 usage error, 130 cancelled. Never throws; every failure
 * is rendered on the run's stderr. With `--loop` it runs the goals again after
 * each change to what they read, until the run is cancelled.
 */
export async function runCommand(ctx: RunContext, deps: RunnerDeps): Promise<number> {
  const loop = new LoopWatch({ changes: deps.changes, restarting: deps.restarting, logger: deps.logger ?? nullLogger, pid: process.pid });
  try {
    let code = await runOnce(ctx, deps, loop);
    while (loop.active && !ctx.signal.aborted) {
      await write(ctx.stderr, 'trews: waiting for changes (Ctrl-C to stop)\n');
      const wake = await loop.wait(ctx.signal);
      if (wake.kind === 'cancelled') {
        await write(ctx.stderr, 'trews: cancelled\n');
        return 130;
      }
      if (wake.kind === 'restarting') {
        await write(ctx.stderr, `trews: the daemon is restarting (${wake.reason}); the loop goes on with the next one\n`);
        return LOOP_RESTART_EXIT_CODE;
      }
      await write(ctx.stderr, `trews: ${wake.description}; running again\n`);
      code = await runOnce(ctx, deps, loop);
    }
    return code;
  } finally {
    await loop.close();
  }
}

async function runOnce(ctx: RunContext, deps: RunnerDeps, loop: LoopWatch): Promise<number> {
  const goals = deps.goals ?? allGoals();
  const backends = deps.backends ?? allBackends();
  let logger: Logger = deps.logger ?? nullLogger;
  let logPath: string | undefined = deps.logger ? deps.logPath : undefined;
  let stacktraces = false;
  let run: Run | undefined;
  let storeUse: StoreUse | undefined;
  try {
    const registry = buildRegistry(goals, backends);
    const cl = parseCommandLine(ctx.argv, registry);
    if (!cl.ok) {
      await report(ctx, cl.failure);
      return cl.failure.exitCode ?? 2;
    }
    const wanted = cl.value.goals.length > 0 ? cl.value.goals : ['help'];
    if (cl.value.goals.length === 0 && cl.value.specs.length > 0) {
      await report(ctx, failure('input', 'no-goal', `no goal given for ${cl.value.specs.join(' ')}`, { exitCode: 2, hints: ['for example `trews list ::`; `trews help goals` lists the goals'] }));
      return 2;
    }
    const selected = wanted.map((name) => goals.find((g) => g.name === name)!);
    const root = findBuildRoot(ctx.cwd);
    if (root === undefined && selected.some((g) => g.needsBuildRoot)) {
      await report(
        ctx,
        failure('input', 'no-build-root', `no ${CONFIG_FILE} found in ${ctx.cwd} or any directory above it`, {
          exitCode: 2,
          hints: [`create an empty ${CONFIG_FILE} at the root of your repository; it marks the build root`],
        }),
      );
      return 2;
    }
    let config: { path: string; text: string } | null = null;
    if (root !== undefined) {
      try {
        config = { path: CONFIG_FILE, text: readFileSync(join(root, CONFIG_FILE), 'utf8') };
      } catch (e) {
        await report(ctx, failure('environment', 'config-unreadable', `cannot read ${join(root, CONFIG_FILE)}: ${(e as Error).message}`));
        return 1;
      }
    }
    const resolved = resolveOptions({
      registry,
      commandLine: cl.value,
      env: ctx.env,
      config,
      buildRoot: root ?? ctx.cwd,
      homeDir: ctx.env.HOME ?? homedir(),
    });
    if (!resolved.ok) {
      await report(ctx, resolved.failure);
      return resolved.failure.exitCode ?? 2;
    }
    const options = resolved.value;
    // Remote misconfigurations (missing server, unreadable certificate, bad token file) stop a run
    // before any work; `help` and `version` must still explain them.
    const remote = selected.some((g) => g.needsBuildRoot) && remoteEnabled(options) ? (await loadRemoteClient()).validateRemoteOptions(options) : undefined;
    if (remote !== undefined && !remote.ok) {
      await report(ctx, remote.failure);
      return remote.failure.exitCode ?? 2;
    }
    stacktraces = options.bool(GLOBAL, 'print_stacktrace');
    if (!deps.logger && root !== undefined) {
      logPath = join(root, '.trews.d', 'trews.log');
      logger = createFileLogger(logPath, options.enum<LogLevel>(GLOBAL, 'level'));
    }
    logger.info(`run: trews ${ctx.argv.join(' ')} (cwd ${ctx.cwd})`);
    const rules = fsRulesFrom(options);
    let app: App;
    if (root !== undefined) {
      // A lease on the store for the whole run, taken before its first use: a
      // concurrent GC keeps what the run (or the kept graph) relies on.
      const storeDir = localStoreDirOf(options, root, ctx.env, ctx.env.HOME ?? homedir());
      storeUse = await beginStoreUse(storeDir, { sinceMs: deps.apps.peek(root)?.createdAt ?? Date.now(), signal: ctx.signal }).catch((e: unknown) => {
        logger.warn(`cannot register this run with the local store at ${storeDir}: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
      app = deps.apps.get(root, rules, backends, logger, storeUse && { dir: storeDir, use: storeUse });
    } else {
      app = createApp(ctx.cwd, rules, backends, logger);
    }
    // Watching starts before the run, so nothing it reads can change unseen.
    if (root !== undefined && options.bool(GLOBAL, 'loop')) await loop.watch(root, rules, app);
    run = app.engine.startRun(ctx.signal);
    const cwdRel = root !== undefined ? relative(root, ctx.cwd).split('\\').join('/') : '';
    let code = 0;
    try {
      for (const goal of selected) {
        const g = goalContext(ctx, app, options, goal, { run, logger, backends, goals, cwdRel: cwdRel.startsWith('..') ? '' : cwdRel });
        code = Math.max(code, await goal.execute(g));
      }
    } finally {
      await app.flushRemote();
    }
    return code;
  } catch (e) {
    if (isFailureError(e)) {
      await report(ctx, e.failure, logPath);
      return e.failure.exitCode ?? 1;
    }
    if (isAbortError(e) || ctx.signal.aborted) {
      await write(ctx.stderr, 'trews: cancelled\n');
      return 130;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    logger.error(`internal error: ${err.stack ?? err.message}`);
    await report(ctx, failure('internal', 'internal', `internal error: ${err.message}`), logPath);
    if (stacktraces && err.stack) await write(ctx.stderr, `${err.stack}\n`);
    return 1;
  } finally {
    await storeUse?.release();
    if (loop.active) loop.ran(run);
  }
}

function goalContext(
  ctx: RunContext,
  app: App,
  options: Options,
  goal: Goal,
  rest: Pick<GoalContext, 'run' | 'logger' | 'backends' | 'goals' | 'cwdRel'>,
): GoalContext {
  let selected: Promise<readonly Target[]> | undefined;
  return {
    ctx,
    options,
    env: app.env,
    root: app.root,
    ...rest,
    targets() {
      selected ??= resolveTargets(ctx, rest.run, app.env, options, rest.cwdRel, goal.name);
      return selected;
    },
    targetsAt(addrs) {
      return targetsAt(rest.run, app.env, addrs);
    },
    execution() {
      return app.execution(options, ctx.env, (message) => void write(ctx.stderr, `warning: ${message}\n`));
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
