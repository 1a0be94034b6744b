import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidExists } from '../core/index.js';
import { ensureWorkDir } from '../fs/index.js';
import { DaemonUnavailableError } from './errors.js';
import { daemonDir } from './layout.js';

/** A lock file older than this is taken to be left over, whoever wrote it. */
const STALE_AFTER_MS = 120_000;
const POLL_MS = 20;

export interface LaunchLockOptions {
  readonly timeoutMs: number;
  /** Written into the lock so others can tell a dead holder. */
  readonly pid: number;
}

/**
 * Serializes starting and stopping the daemon of one root between clients, so
 * eight clients that find no daemon start one, not eight. An O_EXCL lock file
 * holding the holder's pid; a holder that died (or a file older than two
 * minutes) is stolen from. Returns the release function; rejects with
 * DaemonUnavailableError after `timeoutMs`.
 */
export async function acquireLaunchLock(root: string, options: LaunchLockOptions): Promise<() => void> {
  const dir = daemonDir(root);
  const path = join(dir, 'launch.lock');
  try {
    ensureWorkDir(root);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new DaemonUnavailableError('work-dir', `cannot create ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, String(options.pid));
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        // Only our own lock: a stolen-and-retaken file belongs to someone else now.
        if (holder(path) === options.pid) rmSync(path, { force: true });
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new DaemonUnavailableError('work-dir', `cannot create ${path}: ${(e as Error).message}`, { cause: e });
    }
    if (isStale(path)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new DaemonUnavailableError('lock-timeout', `another trews (pid ${holder(path) ?? '?'}) has been starting the daemon for over ${Math.round(options.timeoutMs / 1000)} s`);
    }
    await sleep(POLL_MS);
  }
}

function holder(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

function isStale(path: string): boolean {
  let age: number;
  try {
    age = Date.now() - statSync(path).mtimeMs;
  } catch {
    return false; // gone already: the next open decides
  }
  const pid = holder(path);
  // An empty file is a holder between its open and its write: give it a moment.
  if (pid === undefined) return age > 2000;
  return !pidExists(pid) || age > STALE_AFTER_MS;
}
