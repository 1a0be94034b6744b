import { readFileSync, rmSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';

/**
 * Process-group helpers. Every sandboxed process is spawned as the leader of
 * its own group (`detached: true` → setsid), so one kill(-pgid) reaches
 * everything it started that did not itself leave the group (a daemonizing
 * grandchild that calls setsid escapes; only a cgroup or PID namespace would
 * catch that).
 *
 * What this trews process started and has not yet cleaned up — its groups and
 * its sandboxes — is tracked here, for two ways of dying before the cleanup:
 * - exiting early (a second Ctrl-C, an uncaught error, process.exit from a
 *   signal handler): the 'exit' hook kills the groups and removes the
 *   sandboxes on the way out;
 * - being SIGKILLed, when no hook runs: a long-lived process (the daemon)
 *   sets a ChildJournal that records both on disk, so that its successor can
 *   end the groups and remove the sandboxes it left.
 */

/** Groups started by this trews process and not yet known to be gone. */
const live = new Set<number>();
/** Sandboxes made by this trews process and neither removed nor kept for the user. */
const liveSandboxes = new Set<string>();
let exitHookInstalled = false;
let journal: ChildJournal | undefined;

/** Where a long-lived trews process records what it starts, for a successor to clean up if it is killed. */
export interface ChildJournal {
  groupStarted(pgid: number): void;
  groupEnded(pgid: number): void;
  sandboxCreated(dir: string): void;
  /** Removed, or kept for the user (`keep_sandboxes`): either way no longer for anyone to clean up. */
  sandboxDone(dir: string): void;
}

/** Sets (or, with undefined, clears) the journal; what is already tracked is recorded in it at once. */
export function setChildJournal(j: ChildJournal | undefined): void {
  journal = j;
  if (j === undefined) return;
  for (const g of live) j.groupStarted(g);
  for (const d of liveSandboxes) j.sandboxCreated(d);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' listeners must be synchronous, which kill() and rmSync() are.
  process.once('exit', () => {
    for (const g of live) signalGroup(g, 'SIGKILL');
    for (const d of liveSandboxes) {
      try {
        // A process just SIGKILLed may still create a file as the traversal passes: retried on ENOTEMPTY.
        rmSync(d, { recursive: true, force: true, maxRetries: 3, retryDelay: 10 });
      } catch {
        // Read-only directories a process made; nothing more can be done on the way out.
      }
    }
  });
}

/**
 * Records a group we started, so that if trews exits while it runs (an
 * uncaught error, process.exit from a signal handler) the group is killed on
 * the way out rather than left running, and a journal (the daemon's) has it.
 */
export function trackGroup(pgid: number): void {
  live.add(pgid);
  installExitHook();
  journal?.groupStarted(pgid);
}

export function untrackGroup(pgid: number): void {
  if (live.delete(pgid)) journal?.groupEnded(pgid);
}

/** Records a sandbox we made, until it is removed or kept (see untrackSandbox). */
export function trackSandbox(dir: string): void {
  liveSandboxes.add(dir);
  installExitHook();
  journal?.sandboxCreated(dir);
}

export function untrackSandbox(dir: string): void {
  if (liveSandboxes.delete(dir)) journal?.sandboxDone(dir);
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

/**
 * The start time of `pid` (field 22 of /proc/<pid>/stat, in clock ticks since
 * boot): with the pid, it names one process for good, where a pid alone may
 * have been reused. Undefined when the process is gone or there is no /proc.
 */
export function processStartTime(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const start = text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}

/**
 * Ends a process group that a trews process now dead recorded as running
 * (its journal): SIGKILL, then waits for it. Only on Linux, where it can be
 * told apart from a stranger: a leader still alive must have the start time
 * recorded with it (else its pid went to another process, which can only
 * happen once the group was empty); a group whose leader is gone is ours if
 * any process is still in it, since Linux reuses no id a group still has.
 */
export async function endRecordedGroup(pgid: number, startTime: string | undefined): Promise<'ended' | 'gone' | 'survived' | 'unknown'> {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) return 'gone';
  const leaderStart = processStartTime(pgid);
  if (leaderStart === undefined) {
    try {
      await readdir('/proc/self');
    } catch {
      return 'unknown'; // no /proc: nothing tells our group from another with the same id
    }
    if (!(await groupIsAlive(pgid))) return 'gone';
  } else if (startTime === undefined || leaderStart !== startTime) {
    return 'gone';
  }
  if (!signalGroup(pgid, 'SIGKILL')) return 'gone';
  return (await waitGroupGone(pgid, 5000)) ? 'ended' : 'survived';
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
