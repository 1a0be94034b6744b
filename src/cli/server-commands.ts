/**
 * Commands that are long-lived servers rather than builds: they have no use for
 * a warm graph, and inside the daemon they would keep it busy for as long as
 * they serve.
 */
const SERVER_COMMANDS: ReadonlySet<string> = new Set(['remote-server']);

/** Whether `argv` runs a server command, which never goes through the daemon. */
export function runsOnItsOwn(argv: readonly string[]): boolean {
  const first = argv.find((a) => !a.startsWith('-'));
  return first !== undefined && SERVER_COMMANDS.has(first);
}
