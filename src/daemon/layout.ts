import { createHash } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { CONFIG_FILE, WORK_DIR } from '../core/index.js';

// The config file marks the build root (a change to it makes the daemon exit); the work dir holds the daemon's files.
export { CONFIG_FILE, WORK_DIR };

/** `<root>/.trews.d/daemon/`: the running daemon's metadata files. */
export function daemonDir(root: string): string {
  return join(root, WORK_DIR, 'daemon');
}

/** `<root>/.trews.d/daemon/children/`: each daemon's record of its process groups and sandboxes (child-journal.ts). */
export function childrenDir(root: string): string {
  return join(daemonDir(root), 'children');
}

/** `<root>/.trews.d/daemon.log`: everything the daemon has to say, including its stdio. */
export function daemonLogPath(root: string): string {
  return join(root, WORK_DIR, 'daemon.log');
}

/**
 * `.trews.d/cookies/`, build-root-relative: the one place inside the work dir the
 * watcher sees, so that a file the daemon creates there proves every earlier
 * event has been delivered (see watcher.ts).
 */
export const COOKIES_REL = `${WORK_DIR}/cookies`;

export function cookiesDir(root: string): string {
  return join(root, COOKIES_REL);
}

/**
 * Longest Unix socket path the OS takes, in bytes, without the terminating NUL:
 * sun_path is 108 bytes on Linux and 104 on macOS and the BSDs.
 */
export function maxSocketPathBytes(platform: NodeJS.Platform): number {
  return platform === 'linux' ? 107 : 103;
}

export interface SocketPlace {
  readonly platform: NodeJS.Platform;
  /** `$XDG_RUNTIME_DIR`, when set: per-user, private, cleaned at logout. */
  readonly runtimeDir?: string | undefined;
  /** Used in the /tmp fallback's directory name, so users never share one. */
  readonly uid: number;
}

/**
 * Where the daemon of `root` listens: `.trews.d/daemon/trewsd.sock` when that path
 * fits the OS limit, else a short path derived from a hash of the root under
 * `$XDG_RUNTIME_DIR/trews/` or `/tmp/trews-<uid>/`. Deterministic, so a client can
 * compute it, though clients read it from the `socket` metadata file.
 */
export function socketPathFor(root: string, place: SocketPlace): string {
  const preferred = join(daemonDir(root), 'trewsd.sock');
  const max = maxSocketPathBytes(place.platform);
  if (Buffer.byteLength(preferred) <= max) return preferred;
  const name = `${createHash('sha256').update(root).digest('hex').slice(0, 20)}.sock`;
  const runtime = place.runtimeDir;
  if (runtime !== undefined && runtime !== '' && isAbsolute(runtime)) {
    const p = join(runtime, 'trews', name);
    if (Buffer.byteLength(p) <= max) return p;
  }
  return join('/tmp', `trews-${place.uid}`, name);
}

/** The daemon's process title, which is also how a live pid is recognised as this root's daemon. */
export function processTitle(root: string): string {
  return `trewsd [${root}]`;
}
