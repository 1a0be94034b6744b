// `trewsd`: the daemon's process. The client starts it as
//   node bin/trewsd.cjs --root=ROOT --title-room=... -- <the client's argv>
// which runs daemonMain from the bundle dist/trews-main.cjs (or from this module)
// detached, with stdout and stderr appended to <root>/.trews.d/daemon.log.
import { homedir } from 'node:os';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createFileLogger, isFailureError, TREWS_VERSION, type Failure, type LogLevel, type Logger } from '../core/index.js';
import {
  daemonLogPath,
  endLeftovers,
  NATIVE_CLIENT_COMMAND,
  NATIVE_FALLBACK_EXIT_CODE,
  openChildJournal,
  processCommandLine,
  processTitle,
  removeMetadata,
  startDaemon,
  writeStartError,
  type RunningDaemon,
} from '../daemon/index.js';
import { setChildJournal } from '../exec/index.js';
import { GLOBAL, parseByteSize } from '../options/index.js';
import { AppCache, fsRulesFrom, graphBoundFrom } from './app.js';
import { bundleCodeDigest, moduleTreeDigest } from './code-identity.js';
import { readBootstrap } from './bootstrap.js';
import { findBuildRoot } from './build-root.js';
import { nativeFallbackReason } from './native-fallback.js';
import { renderFailure } from '../ui/index.js';
import { daemonReplaySetup } from './daemon-replay.js';
import { runCommand } from './runner.js';

/** How long runs may take to finish when the daemon is told to stop (`trews daemon stop`, SIGTERM). */
const STOP_GRACE_MS = 3000;

export interface TrewsdArgs {
  readonly root: string;
  /** The client's command line, from which the daemon resolves its own options as the client did. */
  readonly args: readonly string[];
}

export function parseTrewsdArgs(argv: readonly string[]): TrewsdArgs | undefined {
  const sep = argv.indexOf('--');
  const own = sep < 0 ? argv : argv.slice(0, sep);
  const root = own.find((a) => a.startsWith('--root='))?.slice('--root='.length);
  if (root === undefined || !isAbsolute(root)) return undefined;
  return { root, args: sep < 0 ? [] : argv.slice(sep + 1) };
}

export async function daemonMain(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const parsed = parseTrewsdArgs(argv);
  if (parsed === undefined) {
    process.stderr.write('usage: trewsd --root=ABSOLUTE_BUILD_ROOT [--title-room=...] -- [CLIENT ARGS...]\n');
    process.exit(2);
  }
  const { root, args } = parsed;
  const title = processTitle(root);
  // Liveness is checked by this title, so a recycled pid is never taken for the daemon.
  process.title = title;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const logPath = daemonLogPath(root);

  const boot = readBootstrap({ argv: args, env, root, homeDir: env.HOME ?? homedir() });
  if (!boot.ok) {
    // The client resolved the same options without error, so something changed in between.
    const text = renderFailure(boot.failure);
    process.stderr.write(`trewsd: cannot read the options: ${text}`);
    writeStartError(root, process.pid, boot.failure.message);
    process.exit(1);
  }
  const options = boot.value.options;
  const logger = createFileLogger(logPath, options.enum<LogLevel>(GLOBAL, 'level'), `[${process.pid}] `);
  logger.info(`trewsd ${TREWS_VERSION} starting for ${root} (node ${process.version})`);
  if (processCommandLine(process.pid) !== title) {
    logger.warn(`the process title shows as ${JSON.stringify(processCommandLine(process.pid))}, not ${JSON.stringify(title)}: clients will not recognise this daemon`);
  }

  // A daemon that was SIGKILLed left its process groups running and its sandboxes in place; end
  // the groups before serving, and record our own so that our successor can do the same for us.
  const leftovers = await endLeftovers(root, logger);
  const journal = openChildJournal(root, process.pid, logger);
  setChildJournal(journal);

  const bound = graphBoundFrom(options);
  logger.info(`graph bound: evict what the last ${bound.evictAfterIdleRuns} runs did not use (0: never); at most ${bound.maxNodes} nodes (0: no bound)`);
  // Each build root's graph starts from .trews.d/graph and is kept there as the daemon stops,
  // so that its successor (after an option change, `daemon stop`, the idle timeout) need not start cold.
  // Its code: the bundle's digest, as a run without a daemon has it (so either starts from the
  // other's graph), or the digest of dist/src's modules when run from them.
  const apps = new AppCache(bound, { keptGraphs: { code: bundleCodeDigest() ?? moduleTreeDigest(), saveAfterEachRun: false } });
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon({
      root,
      pid: process.pid,
      fingerprint: boot.value.fingerprint,
      options: boot.value.record,
      rules: fsRulesFrom(options),
      maxMemoryBytes: parseByteSize(options.string(GLOBAL, 'daemon_max_memory_usage')) ?? 2 ** 30,
      idleTimeoutMs: options.int(GLOBAL, 'daemon_idle_timeout') * 1000,
      invalidationGlobs: options.list(GLOBAL, 'daemon_invalidation_globs'),
      logger,
      logPath,
      socketPlace: { platform: process.platform, runtimeDir: env.XDG_RUNTIME_DIR, uid: process.getuid?.() ?? 0 },
      serve: async (ctx, extras) => {
        // The native client cannot pick a daemon by options (it reads no trews.toml): this daemon
        // decides, before it runs anything or reads stdin, and hands back what is not its to serve.
        if (extras.command === NATIVE_CLIENT_COMMAND) {
          const reason = nativeFallbackReason(ctx, { root, fingerprint: boot.value.fingerprint });
          if (reason !== undefined) {
            logger.info(`handed a native client's run back to the Node client: ${reason}`);
            return NATIVE_FALLBACK_EXIT_CODE;
          }
        }
        // Only trews' own client picks the daemon by root; any other Nailgun client
        // could send a command for a root this daemon does not watch.
        const other = findBuildRoot(ctx.cwd);
        if (other !== undefined && other !== root) {
          ctx.stderr.write(`trews: this daemon serves ${root}, not ${other}; run trews there (or with --no-daemon)\n`);
          return 2;
        }
        // A run printing to no terminal may be recorded for the native client to replay (daemon-replay.ts).
        const replay = daemonReplaySetup(ctx);
        const code = await runCommand(ctx, { apps, logger, logPath, changes: extras.changes, restarting: extras.restarting, ...(replay ? { replay: replay.setup } : {}) });
        // Asked before the daemon counts the run as ended: the proof its end starts is the one.
        replay?.finish(extras.nextProof, logger);
        return code;
      },
      readPaths: function* () {
        for (const app of apps.all()) yield* app.engine.readPaths();
      },
      readsOtherwise: async (paths) => {
        const otherwise = new Set<string>();
        for (const app of apps.all()) for (const p of await app.engine.pathsReadingOtherwise(paths)) otherwise.add(p);
        return otherwise;
      },
      keepGraphs: (cutoffMs) => apps.saveGraphs(cutoffMs),
      invalidate: {
        paths: (paths) => {
          for (const app of apps.all()) app.engine.invalidatePaths(paths);
        },
        exactly: (paths) => {
          for (const app of apps.all()) app.engine.invalidatePaths(paths, { exact: true });
        },
        all: () => {
          for (const app of apps.all()) app.engine.invalidateAll();
        },
      },
    });
  } catch (e) {
    const message = isFailureError(e) ? oneLine(e.failure) : (e as Error).message;
    logger.error(`cannot start: ${e instanceof Error && e.stack ? e.stack : message}`);
    writeStartError(root, process.pid, message);
    journal.close();
    process.exit(1);
  }

  installProcessHandlers(daemon, logger, root);
  void leftovers.removeSandboxes();
  await daemon.stopped;
  // Every run has ended, and with it what it started; what a cancelled run still has is ended by the exit hook.
  setChildJournal(undefined);
  journal.close();
  process.exit(0);
}

/** A failure with its hints, on one line: the client prints it in its fallback warning. */
function oneLine(f: Failure): string {
  return [f.message, ...(f.hints ?? [])].join('; ');
}

function installProcessHandlers(daemon: RunningDaemon, logger: Logger, root: string): void {
  const stop = (sig: string) => (): void => void daemon.shutdown(`${sig} received`, STOP_GRACE_MS);
  process.on('SIGTERM', stop('SIGTERM'));
  process.on('SIGINT', stop('SIGINT'));
  // Detached from any terminal, but a hang-up must not end it mid-run either.
  process.on('SIGHUP', () => logger.info('SIGHUP ignored'));
  process.on('uncaughtException', (e) => {
    // State may be inconsistent now; a fresh daemon is safer than serving from it.
    logger.error(`uncaught exception, exiting: ${e.stack ?? String(e)}`);
    removeMetadata(root, process.pid);
    process.exit(1);
  });
  process.on('unhandledRejection', (e) => {
    logger.error(`unhandled rejection, exiting: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    removeMetadata(root, process.pid);
    process.exit(1);
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void daemonMain();
