import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { failure, WORK_DIR } from '../core/index.js';
import {
  connectToDaemon,
  daemonLogPath,
  isDaemonLost,
  isDaemonUnavailable,
  LOOP_RESTART_EXIT_CODE,
  runOnDaemon,
} from '../daemon/index.js';
import { terminalEnv } from '../daemon/protocol/index.js';
import { GLOBAL } from '../options/index.js';
import { renderFailure } from '../ui/index.js';
import { daemonOffByFlagOrEnv, readBootstrap } from './bootstrap.js';
import { findBuildRoot } from './build-root.js';
import { lazyStdin, lazyWritable, ttys } from './lazy-stdio.js';
import { daemonCommand, daemonSubcommand } from './daemon-command.js';
import { reachDaemon } from './reach-daemon.js';
import { replayProven } from './replay-check.js';
import { runsOnItsOwn } from './server-commands.js';

/** How the bundled client reaches the rest of trews, which it does not bundle. */
export interface ClientEntry {
  /** Runs the command in this process, exactly as `trews --no-daemon` does (src/cli/main.ts). */
  readonly inProcess: () => Promise<void>;
  /** The daemon's entry script (bin/trewsd.cjs). */
  readonly daemonScript: string;
  /** The native client checked this command line's replay record already, and it did not hold (bin/trews.cjs). */
  readonly replayChecked?: boolean;
}

/**
 * `trews`: the thin client. It resolves the options to decide whether to use the
 * daemon and which one (its fingerprint), starts or restarts it when needed,
 * and streams the command through it. Without a build root, with
 * `--no-daemon`/`daemon = false`, or with options that have an error, it runs
 * the command in this process instead, which prints exactly what it always did.
 */
export async function clientMain(entry: ClientEntry): Promise<void> {
  const startedAt = performance.now();
  const argv = process.argv.slice(2);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const cwd = process.cwd();
  const homeDir = env.HOME ?? homedir();

  const sub = daemonSubcommand(argv);
  if (sub !== undefined) {
    process.stdout.on('error', () => {});
    const code = await daemonCommand(sub, { cwd, env, homeDir, daemonScript: entry.daemonScript, stdout: process.stdout, stderr: process.stderr });
    return exit(code);
  }
  const root = findBuildRoot(cwd);
  if (root === undefined || runsOnItsOwn(argv)) return entry.inProcess();
  if (daemonOffByFlagOrEnv(argv, env)) {
    // A proven no-op is answered from its record (replay-check.ts), as the native client would.
    const replayed = entry.replayChecked === true || process.stdout.isTTY || process.stderr.isTTY ? undefined : replayProven({ root, workDir: join(root, WORK_DIR), cwd, argv, env, startedAt });
    if (replayed === undefined) return entry.inProcess();
    process.stdout.on('error', () => {}); // EPIPE when the reader went away
    for (const c of replayed.chunks) (c.fd === 1 ? process.stdout : stderr.stream).write(c.bytes);
    return exit(replayed.exitCode);
  }
  const boot = readBootstrap({ argv, env, root, homeDir });
  if (!boot.ok || !boot.value.options.bool(GLOBAL, 'daemon')) return entry.inProcess();

  const interrupt = new AbortController();
  let serving = false;
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    // Nothing runs yet, or a second Ctrl-C: leave at once. The first one during a
    // run cancels it in the daemon, which stops what the run started and reports.
    if (!serving || interrupts > 1) process.exit(130);
    interrupt.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  process.stdout.on('error', () => {}); // EPIPE when the reader went away

  const loop = boot.value.options.bool(GLOBAL, 'loop');
  const stdin = lazyStdin();
  const tty = ttys();
  // A daemon that was exiting as we found it (trews.toml changed, idle timeout)
  // refuses the connection; the next attempt starts its successor.
  let retries = 1;
  for (;;) {
    let code: number;
    try {
      const metadata = await reachDaemon(root, boot.value, {
        argv,
        env,
        script: entry.daemonScript,
        notice: (line) => void stderr.stream.write(`${line}\n`),
      });
      const socket = await connectToDaemon(metadata.socket);
      serving = true;
      code = await runOnDaemon(socket, {
        request: { command: 'trews', args: argv, env: { ...env, ...terminalEnv(terminalOf(tty)) }, cwd },
        stdin,
        stdout: process.stdout,
        stderr: stderr.stream,
        cancel: interrupt.signal,
      });
      serving = false;
    } catch (e) {
      if (interrupt.signal.aborted) {
        stderr.stream.write('trews: cancelled\n');
        return exit(130);
      }
      if (isDaemonUnavailable(e) && (e.reason === 'connect-failed' || e.reason === 'no-answer') && retries-- > 0) continue;
      if (isDaemonUnavailable(e)) {
        stderr.stream.write(`trews: cannot use the daemon (${e.message}); running without it\n`);
        process.off('SIGINT', onSigint);
        await finished(stderr.stream);
        return entry.inProcess();
      }
      if (isDaemonLost(e)) {
        stderr.stream.write(
          renderFailure(
            failure('environment', 'daemon-lost', `the trews daemon went away during the run: ${e.message}`, {
              notes: [`what it logged is in ${daemonLogPath(root)}`],
              hints: ['run the command again: the next run starts a new daemon (or use --no-daemon)'],
            }),
          ),
        );
        return exit(1);
      }
      throw e;
    }
    // The daemon is going away under a --loop: follow it to the next one.
    if (loop && code === LOOP_RESTART_EXIT_CODE) continue;
    return exit(code);
  }
}

function terminalOf(isTTY: ReturnType<typeof ttys>): Parameters<typeof terminalEnv>[0] {
  // Only a terminal has a size; asking builds the stream, which is worth it then.
  const term = isTTY.stdout ? process.stdout : isTTY.stderr ? process.stderr : undefined;
  return {
    isTTY,
    ...(term?.columns ? { columns: term.columns } : {}),
    ...(term?.rows ? { lines: term.rows } : {}),
  };
}

/** The client's stderr, built only if something is written to it. */
const stderr = lazyWritable(() => process.stderr);

/** Leaves with `code` once stdout and stderr are flushed, so piped output is never cut short. */
async function exit(code: number): Promise<never> {
  await finished(stderr.stream);
  await Promise.all([flush(process.stdout), stderr.used() ? flush(process.stderr) : undefined]);
  process.exit(code);
}

/** Ends `stream` and waits until what was written to it has been handed on. */
function finished(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableFinished) resolve();
    else stream.end(() => resolve());
  });
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0 || stream.destroyed) resolve();
    else stream.write('', () => resolve());
  });
}
