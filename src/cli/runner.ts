import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { allBackends, type Backend } from '../backends/index.js';
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
import { allGoals, registerChangedOptions, resolveTargets, targetsAt, type Goal, type GoalContext } from '../goals/index.js';
import { GLOBAL, OptionRegistry, parseCommandLine, registerGlobalOptions, resolveOptions, type Options } from '../options/index.js';
import type { Target } from '../targets/index.js';
import { renderFailure } from '../ui/index.js';
import { AppCache, createApp, fsRulesFrom, type App } from './app.js';
import { CONFIG_FILE, findBuildRoot } from './build-root.js';

/** The registry every run starts from: global options, goals, and what backends add. */
export function buildRegistry(goals: readonly Goal[], backends: readonly Backend[]): OptionRegistry {
  const registry = new OptionRegistry();
  registerGlobalOptions(registry);
  registerChangedOptions(registry);
  for (const g of goals) g.registerOptions(registry);
  for (const b of backends) b.registerOptions?.(registry);
  return registry;
}

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
}

/**
 * Runs one command line to completion in this process and returns its exit code:
 * 0 success, 1 failure, 2 usage error, 130 cancelled. Never throws; every failure
 * is rendered on the run's stderr.
 */
export async function runCommand(ctx: RunContext, deps: RunnerDeps): Promise<number> {
  const goals = deps.goals ?? allGoals();
  const backends = deps.backends ?? allBackends();
  let logger: Logger = deps.logger ?? nullLogger;
  let logPath: string | undefined;
  let stacktraces = false;
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
    stacktraces = options.bool(GLOBAL, 'print_stacktrace');
    if (!deps.logger && root !== undefined) {
      logPath = join(root, '.trews.d', 'trews.log');
      logger = createFileLogger(logPath, options.enum<LogLevel>(GLOBAL, 'level'));
    }
    logger.info(`run: trews ${ctx.argv.join(' ')} (cwd ${ctx.cwd})`);
    const rules = fsRulesFrom(options);
    const app: App = root !== undefined ? deps.apps.get(root, rules, backends, logger) : createApp(ctx.cwd, rules, backends, logger);
    const run = app.engine.startRun(ctx.signal);
    const cwdRel = root !== undefined ? relative(root, ctx.cwd).split('\\').join('/') : '';
    let code = 0;
    for (const goal of selected) {
      const g = goalContext(ctx, app, options, goal, { run, logger, backends, goals, cwdRel: cwdRel.startsWith('..') ? '' : cwdRel });
      code = Math.max(code, await goal.execute(g));
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
      return app.execution(options, ctx.env);
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
