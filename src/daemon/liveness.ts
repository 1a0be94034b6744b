import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pidExists } from '../core/index.js';

/**
 * The command line a process shows, as `ps` would print it: on Linux
 * /proc/<pid>/cmdline with its NUL separators turned into spaces (a title set by
 * the process replaces its arguments there); elsewhere `ps -o command=`.
 * Undefined when the process is gone or cannot be inspected.
 */
export function processCommandLine(pid: number, platform: NodeJS.Platform = process.platform): string | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (platform === 'linux') {
    try {
      const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return raw.replace(/\0+$/, '').replace(/\0/g, ' ');
    } catch {
      return undefined;
    }
  }
  // Required here, not imported: the client on Linux never needs child_process, and loading it costs start-up time.
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const r = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 });
  if (r.status !== 0 || typeof r.stdout !== 'string') return undefined;
  const line = r.stdout.trim();
  return line === '' ? undefined : line;
}

/**
 * True when `pid` is alive and carries `title`. The title, not the pid alone, is
 * what makes it the daemon: after a reboot or a crash the recorded pid may belong
 * to any process, which must be neither trusted nor signalled.
 */
export function isProcessTitled(pid: number, title: string, platform: NodeJS.Platform = process.platform): boolean {
  if (!pidExists(pid)) return false;
  const cmd = processCommandLine(pid, platform);
  // A title is written over the argument area, which may be followed by padding.
  return cmd !== undefined && (cmd === title || cmd.startsWith(`${title} `) || cmd.trimEnd() === title);
}
