import { homedir } from 'node:os';
import type { RunContext } from '../core/index.js';
import { GLOBAL } from '../options/index.js';
import { readBootstrap } from './bootstrap.js';
import { findBuildRoot } from './build-root.js';
import { daemonSubcommand } from './daemon-command.js';
import { runsOnItsOwn } from './server-commands.js';

/** The daemon that checks a request: its root and the fingerprint it was started with. */
export interface ServingDaemon {
  readonly root: string;
  readonly fingerprint: string;
}

/**
 * Why a request from the native client (src/native-client/) is not this
 * daemon's to serve, or undefined when it is. The native client cannot read
 * trews.toml, so the daemon decides for it, exactly as the Node client
 * (client.ts) decides which daemon, if any, runs a command line: a `trews
 * daemon …` command, no build root (or another one), a server command, options
 * with an error, `daemon = false`, `--loop` (which follows the daemon across
 * restarts, which only the Node client does), or options with another
 * fingerprint. The native client then execs the Node client, which acts on it.
 * Reads trews.toml and nothing else; reads no stdin.
 */
export function nativeFallbackReason(ctx: Pick<RunContext, 'argv' | 'env' | 'cwd'>, daemon: ServingDaemon): string | undefined {
  const argv = ctx.argv;
  if (daemonSubcommand(argv) !== undefined) return '`trews daemon` runs in the client';
  const root = findBuildRoot(ctx.cwd);
  if (root === undefined) return 'no build root';
  if (root !== daemon.root) return `another build root (${root})`;
  if (runsOnItsOwn(argv)) return 'a server command runs in its own process';
  const boot = readBootstrap({ argv, env: ctx.env, root, homeDir: ctx.env.HOME ?? homedir() });
  if (!boot.ok) return 'the options have an error';
  if (!boot.value.options.bool(GLOBAL, 'daemon')) return 'daemon = false';
  if (boot.value.options.bool(GLOBAL, 'loop')) return '--loop';
  if (boot.value.fingerprint !== daemon.fingerprint) return 'other daemon options';
  return undefined;
}
