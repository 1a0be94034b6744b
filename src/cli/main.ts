import type { RunContext } from '../core/index.js';
import { AppCache } from './app.js';
import { realpathSync } from 'node:fs';
import { daemonOffByFlagOrEnv } from './bootstrap.js';
import { bundleCodeDigest, bundleCodeFiles } from './code-identity.js';
import { makeReplaySetup, type ReplaySetup } from './replay-record.js';
import { runCommand } from './runner.js';

// bin/trewsd.cjs starts the daemon from this bundle too (scripts/bundle.mjs).
export { daemonMain } from './trewsd.js';

/** Flushes a standard stream before the process exits, so piped output is never cut short. */
function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}

/**
 * A run that may be recorded for the native client to replay
 * (replay-record.ts): one without a daemon by the command line or the
 * environment, as the native client sees them, printing to no terminal
 * (colours, progress and the terminal's width are then out of the
 * answer), from the bundle whose files can be stamped.
 */
function replaySetup(ctx: RunContext): { replay?: ReplaySetup } {
  if (!daemonOffByFlagOrEnv(ctx.argv, ctx.env) || ctx.isTTY.stdout || ctx.isTTY.stderr) return {};
  // bin/trews.cjs, which loaded the bundles from ../dist.
  const codeFiles = bundleCodeFiles();
  if (codeFiles === undefined) return {};
  let execPath: string;
  try {
    execPath = realpathSync(process.execPath);
  } catch {
    return {};
  }
  return { replay: makeReplaySetup({ codeFiles, execPath, stdout: process.stdout, stderr: process.stderr }) };
}

/** `trews` run in this process: wires the real process into a RunContext. */
export async function main(): Promise<void> {
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    // First Ctrl-C cancels the run cleanly; a second one leaves at once.
    if (interrupts > 1) process.exit(130);
    controller.abort();
  });
  process.stdout.on('error', () => {}); // EPIPE when the reader went away
  if (process.argv[2] === 'remote-server') {
    // A long-running server, not a run: no build root, no options; SIGTERM stops it like Ctrl-C.
    process.on('SIGTERM', () => controller.abort());
    const { runRemoteServer } = await import('./remote-server.js');
    const io = { stdout: process.stdout, stderr: process.stderr, signal: controller.signal, cwd: process.cwd(), env: process.env };
    const serverCode = await runRemoteServer(process.argv.slice(3), io);
    await Promise.all([flush(process.stdout), flush(process.stderr)]);
    process.exit(serverCode);
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const ctx: RunContext = {
    argv: process.argv.slice(2),
    env,
    cwd: process.cwd(),
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: { stdin: !!process.stdin.isTTY, stdout: !!process.stdout.isTTY, stderr: !!process.stderr.isTTY },
    terminalWidth: process.stdout.columns ?? 80,
    terminalHeight: process.stdout.rows ?? 24,
    signal: controller.signal,
  };
  // One run per process: its graph may come from, and go back to, .trews.d/graph (persist_graph).
  const code = await runCommand(ctx, {
    apps: new AppCache(undefined, { keptGraphs: { code: bundleCodeDigest(), saveAfterEachRun: true } }),
    ...replaySetup(ctx),
  });
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code);
}
