/**
 * Whether a process with this pid exists on this machine (ours or not): the
 * one check behind every "is its owner still alive" of trews' own files (a
 * daemon's metadata, store leases, shared trees, a remote server's work
 * directories, temporary graph files). Not a pid of a process group: zero and
 * negative numbers (which `kill` reads as groups) are no process.
 */
export function pidExists(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
