import { ensureDaemon, type DaemonMetadata } from '../daemon/index.js';
import type { Bootstrap } from './bootstrap.js';

export interface DaemonCommandLine {
  /** The client's arguments: the daemon reads its own options from them, as the client did. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The daemon's entry script. */
  readonly script: string;
  /** Where the one-line restart notice goes. */
  readonly notice: (line: string) => void;
}

/** The daemon for `root` with this command line's fingerprint, started (or restarted) if need be. */
export function reachDaemon(root: string, boot: Bootstrap, cmd: DaemonCommandLine): Promise<DaemonMetadata> {
  return ensureDaemon({
    root,
    fingerprint: boot.fingerprint,
    options: boot.record,
    spawn: { nodePath: process.execPath, script: cmd.script, args: cmd.argv, env: cmd.env },
    notice: cmd.notice,
    pid: process.pid,
  });
}
