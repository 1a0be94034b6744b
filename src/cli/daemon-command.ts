import type { Writable } from 'node:stream';
import { failure, type Failure } from '../core/index.js';
import { daemonLogPath, daemonStatus, isDaemonUnavailable, stopDaemon } from '../daemon/index.js';
import { renderFailure } from '../ui/index.js';
import { readBootstrap } from './bootstrap.js';
import { CONFIG_FILE, findBuildRoot } from './build-root.js';
import { reachDaemon } from './reach-daemon.js';

export type DaemonSubcommand = 'status' | 'start' | 'stop' | 'restart' | { readonly unknown: string };

/**
 * `trews daemon status|start|stop|restart`: recognised when `daemon` is the
 * first argument that is not a flag. No goal or target is called `daemon` at
 * that position (a spec there would be an error: specs need a goal first).
 */
export function daemonSubcommand(argv: readonly string[]): { sub: DaemonSubcommand; rest: string[] } | undefined {
  const i = argv.findIndex((a) => !a.startsWith('-'));
  if (i < 0 || argv[i] !== 'daemon') return undefined;
  const word = argv[i + 1];
  const rest = [...argv.slice(0, i), ...argv.slice(i + 2)];
  if (word === 'status' || word === 'start' || word === 'stop' || word === 'restart') return { sub: word, rest };
  return { sub: { unknown: word ?? '' }, rest };
}

export interface DaemonCommandContext {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly homeDir: string;
  readonly daemonScript: string;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** Runs a `trews daemon …` command; returns the exit code (status: 0 running, 1 not running). */
export async function daemonCommand(parsed: { sub: DaemonSubcommand; rest: string[] }, c: DaemonCommandContext): Promise<number> {
  const fail = (f: Failure): number => {
    c.stderr.write(renderFailure(f));
    return f.exitCode ?? 1;
  };
  const { sub, rest } = parsed;
  if (typeof sub === 'object') {
    return fail(
      failure('input', 'daemon-usage', sub.unknown === '' ? '`trews daemon` needs a command' : `unknown daemon command \`${sub.unknown}\``, {
        hints: ['use `trews daemon status`, `trews daemon start`, `trews daemon stop` or `trews daemon restart`'],
        exitCode: 2,
      }),
    );
  }
  const root = findBuildRoot(c.cwd);
  if (root === undefined) {
    return fail(
      failure('input', 'no-build-root', `no ${CONFIG_FILE} found in ${c.cwd} or any directory above it`, {
        hints: ['the daemon serves one build root: run this inside one'],
        exitCode: 2,
      }),
    );
  }
  const out = (line: string): void => void c.stdout.write(`${line}\n`);
  if (sub === 'status') {
    const s = daemonStatus(root);
    if (s.state !== 'running') {
      out(`trewsd is not running for ${root}`);
      return 1;
    }
    const m = s.metadata;
    out(`trewsd is running for ${root}`);
    out(`  pid:         ${m.pid}`);
    out(`  socket:      ${m.socket}`);
    out(`  fingerprint: ${m.fingerprint}`);
    const boot = readBootstrap({ argv: rest, env: c.env, root, homeDir: c.homeDir });
    if (boot.ok && boot.value.fingerprint !== m.fingerprint) out('               (differs from these options: the next run restarts the daemon)');
    out(`  log:         ${daemonLogPath(root)}`);
    return 0;
  }
  try {
    if (sub === 'stop' || sub === 'restart') {
      const r = await stopDaemon(root);
      if (sub === 'stop') {
        out(r.stopped ? `trewsd stopped (pid ${r.pid}${r.killed ? ', killed after not exiting on SIGTERM' : ''})` : `trewsd is not running for ${root}`);
        return 0;
      }
    }
    const boot = readBootstrap({ argv: rest, env: c.env, root, homeDir: c.homeDir });
    if (!boot.ok) return fail(boot.failure);
    const before = daemonStatus(root);
    const m = await reachDaemon(root, boot.value, {
      argv: rest,
      env: c.env,
      script: c.daemonScript,
      notice: (line) => void c.stderr.write(`${line}\n`),
    });
    const already = before.state === 'running' && before.metadata.pid === m.pid;
    out(already ? `trewsd is already running for ${root} (pid ${m.pid})` : `trewsd ${sub === 'restart' ? 'restarted' : 'started'} for ${root} (pid ${m.pid})`);
    return 0;
  } catch (e) {
    if (isDaemonUnavailable(e)) return fail(failure('environment', 'daemon-unavailable', e.message, { hints: [`see ${daemonLogPath(root)}`] }));
    throw e;
  }
}
