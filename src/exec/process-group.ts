import { readFile, readdir } from 'node:fs/promises';

/**
 * Process-group helpers. Every sandboxed process is spawned as the leader of
 * its own group (`detached: true` → setsid), so one kill(-pgid) reaches
 * everything it started that did not itself leave the group (a daemonizing
 * grandchild that calls setsid escapes; only a cgroup or PID namespace would
 * catch that).
 */

/** Groups started by this trews process and not yet known to be gone. */
const live = new Set<number>();
let exitHookInstalled = false;

/**
 * Records a group we started, so that if trews exits while it runs (an
 * uncaught error, process.exit from a signal handler) the group is killed on
 * the way out rather than left running. 'exit' listeners must be synchronous,
 * which kill() is. Nothing can be done when trews itself is SIGKILLed.
 */
export function trackGroup(pgid: number): void {
  live.add(pgid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const g of live) signalGroup(g, 'SIGKILL');
    });
  }
}

export function untrackGroup(pgid: number): void {
  live.delete(pgid);
}

/** Sends `signal` to every process in the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: a member changed its credentials (setuid); nothing more we can do.
    return false;
  }
}

/**
 * True while the group has a member that is not a zombie. kill(-pgid, 0)
 * alone is not enough: an orphaned member is re-parented to init, and until
 * init reaps it (some container inits never do) it stays in the group as a
 * zombie, dead but countable. On Linux we look the survivors up in /proc.
 */
export async function groupIsAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  let pids: string[];
  try {
    pids = await readdir('/proc');
  } catch {
    return true; // no /proc: trust kill()
  }
  for (const name of pids) {
    if (!/^\d+$/.test(name)) continue;
    const st = await procStat(Number(name));
    if (st !== undefined && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') return true;
  }
  return false;
}

/**
 * Polls until the group has no live member, up to `timeoutMs`. Returns false
 * on timeout (a member stuck in uninterruptible sleep, say).
 */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    if (!(await groupIsAlive(pgid))) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** Whether `pid` is a live (non-zombie) process. For tests and diagnostics. */
export async function isProcessAlive(pid: number): Promise<boolean> {
  const st = await procStat(pid);
  if (st !== undefined) return st.state !== 'Z' && st.state !== 'X';
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // Present to kill() but not in /proc: either no /proc at all (trust kill) or it just exited.
  try {
    await readdir('/proc/self');
    return false;
  } catch {
    return true;
  }
}

async function procStat(pid: number): Promise<{ state: string; pgrp: number } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid pgrp ...`; comm may contain spaces and parentheses, so parse after the last ')'.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  const state = fields[0];
  const pgrp = Number(fields[2]);
  return state === undefined || !Number.isFinite(pgrp) ? undefined : { state, pgrp };
}
