import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTrews, type CliResult } from './cli.js';

/** The pid the daemon of `root` published, if any. */
export function daemonPid(root: string): number | undefined {
  try {
    const text = readFileSync(join(root, '.trews.d', 'daemon', 'pid'), 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The daemon's log so far ('' if there is none). */
export function daemonLog(root: string): string {
  try {
    return readFileSync(join(root, '.trews.d', 'daemon.log'), 'utf8');
  } catch {
    return '';
  }
}

/** Whether `pid` is a live trews daemon of `root` (its title, as /proc shows it). */
export function isDaemonOf(pid: number, root: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '');
    return cmd === `trewsd [${root}]`;
  } catch {
    return false;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls `cond` every 25 ms; fails with `what` after `timeoutMs` (generous: this is not a timing assertion). */
export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Remembers every daemon a test file starts, by root and pid, and stops them
 * all: `trews daemon stop` first (the orderly way), then SIGKILL for any
 * recorded pid that is still that root's daemon. Never by name.
 */
export class DaemonJanitor {
  readonly #roots = new Set<string>();
  readonly #pids = new Map<number, string>();

  /** Runs trews through the daemon of `root` (starting it if need be) and remembers that daemon. */
  async run(root: string, args: readonly string[], extra: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<CliResult> {
    const r = await runTrews(args, { cwd: extra.cwd ?? root, daemon: true, ...(extra.env ? { env: extra.env } : {}), ...(extra.input !== undefined ? { input: extra.input } : {}) });
    this.note(root);
    return r;
  }

  /** Call after each run that may have started a daemon for `root`. */
  note(root: string): void {
    this.#roots.add(root);
    const pid = daemonPid(root);
    if (pid !== undefined) this.#pids.set(pid, root);
  }

  async stopAll(): Promise<void> {
    for (const root of this.#roots) {
      this.note(root);
      if (existsSync(join(root, 'trews.toml'))) {
        await runTrews(['daemon', 'stop'], { cwd: root, daemon: true, timeoutMs: 30_000 }).catch(() => undefined);
      }
    }
    for (const [pid, root] of this.#pids) {
      if (isDaemonOf(pid, root)) process.kill(pid, 'SIGKILL');
    }
    for (const [pid, root] of this.#pids) await waitUntil(() => !isDaemonOf(pid, root), `daemon ${pid} to exit`, 10_000);
    this.#roots.clear();
    this.#pids.clear();
  }
}
