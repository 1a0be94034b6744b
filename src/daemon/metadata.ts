import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonDir } from './layout.js';

/**
 * What a running daemon publishes in `<root>/.trews.d/daemon/`, one file each
 * (as Pants' pantsd does), so a client can read any of them with no parser:
 *
 * - `pid`: written last, so its presence means the others are complete;
 * - `socket`: the Unix socket path (see layout.socketPathFor);
 * - `fingerprint`: hex SHA-256 of the version and the daemon options;
 * - `process_name`: the title a live daemon has (`trewsd [<root>]`);
 * - `options.json`: the version and option values the fingerprint hashes, so a
 *   client can say which option changed when it restarts the daemon.
 */
export interface DaemonMetadata {
  readonly pid: number;
  readonly socket: string;
  readonly fingerprint: string;
  readonly processName: string;
  readonly options?: DaemonOptionsRecord;
}

export interface DaemonOptionsRecord {
  readonly version: string;
  readonly options: Readonly<Record<string, unknown>>;
}

const FILES = ['socket', 'fingerprint', 'process_name', 'options.json'] as const;

/** The metadata of `root`'s daemon, or undefined when any required file is missing or unreadable. */
export function readMetadata(root: string): DaemonMetadata | undefined {
  const dir = daemonDir(root);
  const read = (name: string): string | undefined => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      return undefined;
    }
  };
  const pidText = read('pid');
  if (pidText === undefined || !/^\d+\s*$/.test(pidText)) return undefined;
  const pid = Number(pidText.trim());
  const socket = read('socket');
  const fingerprint = read('fingerprint');
  const processName = read('process_name');
  if (!Number.isSafeInteger(pid) || pid <= 0 || !socket || fingerprint === undefined || processName === undefined) return undefined;
  const options = parseOptions(read('options.json'));
  return { pid, socket, fingerprint: fingerprint.trim(), processName, ...(options ? { options } : {}) };
}

/** Just the pid file, for a daemon that must tell whether another one owns the metadata. */
export function readPid(root: string): number | undefined {
  try {
    const text = readFileSync(join(daemonDir(root), 'pid'), 'utf8');
    return /^\d+\s*$/.test(text) ? Number(text.trim()) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Publishes `m`. Each file is written to a temp name and renamed, and `pid` goes
 * last, so a reader never sees a half-written file or a pid whose socket is not
 * yet known.
 */
export function writeMetadata(root: string, m: DaemonMetadata): void {
  const dir = daemonDir(root);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const put = (name: string, text: string): void => {
    const tmp = join(dir, `.${name}.${m.pid}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, join(dir, name));
  };
  put('socket', m.socket);
  put('fingerprint', m.fingerprint);
  put('process_name', m.processName);
  if (m.options) put('options.json', `${JSON.stringify(m.options)}\n`);
  put('pid', String(m.pid));
}

/**
 * Removes the metadata, but only while it is still `ownerPid`'s (when given): a
 * daemon on its way out must not erase the files of the one that replaced it.
 * `pid` goes first, so readers stop trusting the rest at once.
 */
export function removeMetadata(root: string, ownerPid?: number): boolean {
  if (ownerPid !== undefined && readPid(root) !== ownerPid) return false;
  const dir = daemonDir(root);
  for (const name of ['pid', ...FILES]) rmSync(join(dir, name), { force: true });
  return true;
}

function parseOptions(text: string | undefined): DaemonOptionsRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const { version, options } = v as { version?: unknown; options?: unknown };
    if (typeof version !== 'string' || typeof options !== 'object' || options === null || Array.isArray(options)) return undefined;
    return { version, options: options as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/**
 * A daemon that cannot start says why here (the watch limit, a socket it cannot
 * bind), so the client that spawned it can print the reason instead of pointing
 * at the log.
 */
export function writeStartError(root: string, pid: number, message: string): void {
  try {
    const dir = daemonDir(root);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'start_error'), `${JSON.stringify({ pid, message })}\n`, { mode: 0o600 });
  } catch {
    // The log has it too.
  }
}

/** The reason daemon `pid` gave for not starting, if it gave one. */
export function readStartError(root: string, pid: number): string | undefined {
  try {
    const v = JSON.parse(readFileSync(join(daemonDir(root), 'start_error'), 'utf8')) as { pid?: unknown; message?: unknown };
    return v.pid === pid && typeof v.message === 'string' ? v.message : undefined;
  } catch {
    return undefined;
  }
}
