import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/index.js';
import { endRecordedGroup, processStartTime, removeLeftSandboxDir, type ChildJournal } from '../exec/index.js';
import { childrenDir, processTitle } from './layout.js';
import { isProcessTitled } from './liveness.js';

/**
 * A daemon's record of the process groups and sandboxes it has running, one
 * small file each under `.trews.d/daemon/children/<pid>/`, so that when it is
 * SIGKILLed (or the OOM killer takes it) the next daemon can end the groups
 * and remove the sandboxes, which no exit hook of the dead one did:
 *
 * - `owner`: the daemon's start time (with its pid, it names that process for good);
 * - `g<pgid>`: a group it started, holding the leader's start time;
 * - `s<n>`: a sandbox it made, holding its path.
 *
 * Writes are synchronous: a group is recorded before anything can kill the
 * daemon between the spawn and the record. A daemon that exits normally has
 * cleaned up after itself and removes its directory.
 */
export interface DaemonChildJournal extends ChildJournal {
  /** Removes the journal: everything it recorded is gone (the daemon is exiting normally). */
  close(): void;
}

export function openChildJournal(root: string, pid: number, logger: Logger): DaemonChildJournal {
  const dir = join(childrenDir(root), String(pid));
  const sandboxes = new Map<string, string>();
  let seq = 0;
  let failed = false;
  // Best effort: a full disk must not fail runs, only the cleanup after a crash.
  const attempt = (what: string, f: () => void): void => {
    try {
      f();
    } catch (e) {
      if (!failed) logger.warn(`cannot record ${what} in ${dir} (a daemon killed now would leave it behind): ${(e as Error).message}`);
      failed = true;
    }
  };
  attempt('the daemon', () => {
    // A directory of this pid left by an earlier daemon that died: the successor has reaped it already.
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'owner'), processStartTime(pid) ?? '');
  });
  return {
    groupStarted(pgid) {
      attempt(`process group ${pgid}`, () => writeFileSync(join(dir, `g${pgid}`), processStartTime(pgid) ?? ''));
    },
    groupEnded(pgid) {
      attempt(`the end of process group ${pgid}`, () => rmSync(join(dir, `g${pgid}`), { force: true }));
    },
    sandboxCreated(path) {
      const name = `s${++seq}`;
      sandboxes.set(path, name);
      attempt(`sandbox ${path}`, () => writeFileSync(join(dir, name), path));
    },
    sandboxDone(path) {
      const name = sandboxes.get(path);
      if (name === undefined) return;
      sandboxes.delete(path);
      attempt(`the removal of sandbox ${path}`, () => rmSync(join(dir, name), { force: true }));
    },
    close() {
      attempt('the daemon’s exit', () => rmSync(dir, { recursive: true, force: true }));
    },
  };
}

/** What the daemons that died before us left, and what became of it. */
export interface Leftovers {
  /** Groups still running, now ended. */
  readonly groupsEnded: number;
  /** Removes the sandboxes (which may be large, so the daemon need not wait for it to serve) and then their records. */
  readonly removeSandboxes: () => Promise<void>;
}

/**
 * Ends the process groups that dead daemons of `root` recorded as running,
 * and returns the removal of their sandboxes. A journal whose owner is alive
 * (a daemon finishing its runs while a successor serves other options) is
 * left alone.
 */
export async function endLeftovers(root: string, logger: Logger): Promise<Leftovers> {
  const base = childrenDir(root);
  let owners: string[];
  try {
    owners = readdirSync(base).filter((n) => /^\d+$/.test(n));
  } catch {
    return { groupsEnded: 0, removeSandboxes: async () => {} };
  }
  let groupsEnded = 0;
  const later: (() => Promise<void>)[] = [];
  for (const owner of owners) {
    const dir = join(base, owner);
    const pid = Number(owner);
    const entries = safeReaddir(dir);
    const ownerStart = readText(join(dir, 'owner'));
    if (isProcessTitled(pid, processTitle(root)) && (ownerStart === undefined || ownerStart === '' || processStartTime(pid) === ownerStart)) continue;
    const groups = entries.filter((n) => /^g\d+$/.test(n));
    const outcomes = await Promise.all(groups.map((g) => endRecordedGroup(Number(g.slice(1)), readText(join(dir, g)) || undefined)));
    const ended = groups.filter((_, i) => outcomes[i] === 'ended');
    const survived = groups.filter((_, i) => outcomes[i] === 'survived');
    groupsEnded += ended.length;
    if (ended.length > 0) {
      logger.warn(
        `ended ${ended.length} process group${ended.length === 1 ? '' : 's'} (${ended.map((g) => g.slice(1)).join(', ')}) left running by daemon pid ${pid}, which died without stopping them`,
      );
    }
    if (survived.length > 0) logger.warn(`process groups ${survived.map((g) => g.slice(1)).join(', ')} of dead daemon pid ${pid} survived SIGKILL`);
    const sandboxes = entries.filter((n) => /^s\d+$/.test(n)).map((s) => readText(join(dir, s)) ?? '').filter((p) => p !== '');
    later.push(async () => {
      let removed = 0;
      for (const s of sandboxes) {
        try {
          if (await removeLeftSandboxDir(s)) removed++;
        } catch (e) {
          logger.warn(`cannot remove sandbox ${s} left by daemon pid ${pid}: ${(e as Error).message}`);
        }
      }
      if (removed > 0) logger.info(`removed ${removed} sandbox${removed === 1 ? '' : 'es'} left by daemon pid ${pid}`);
      rmSync(dir, { recursive: true, force: true });
    });
  }
  return {
    groupsEnded,
    removeSandboxes: async () => {
      for (const f of later) await f().catch((e: unknown) => logger.warn(`cannot clean up after a dead daemon: ${(e as Error).message}`));
    },
  };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}
