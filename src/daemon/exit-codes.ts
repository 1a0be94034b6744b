/**
 * The exit code a `--loop` run served by the daemon ends with when the daemon is
 * going away (its `trews.toml` changed, it hit its memory limit): EX_TEMPFAIL,
 * "try again". trews' client then starts the next daemon and sends the same
 * command again, so the loop goes on. A loop has no other way to end but Ctrl-C
 * or a usage error before it starts, so the code cannot be mistaken for a
 * command's own.
 */
export const LOOP_RESTART_EXIT_CODE = 75;

/**
 * The Nailgun command the native thin client (src/native-client/) sends instead
 * of `trews`: the daemon checks such a request before serving it, since that
 * client cannot read trews.toml to pick a daemon (src/cli/native-fallback.ts).
 */
export const NATIVE_CLIENT_COMMAND = 'trews-native';

/**
 * The daemon's whole answer to a native client's request that is not its to
 * serve (other options, `daemon = false`, an options error, a command that runs
 * in the client): the client then execs the Node client with the same command
 * line. Outside 0–255, so no run's exit code can be mistaken for it; cut to a
 * byte it would read 75, EX_TEMPFAIL.
 */
export const NATIVE_FALLBACK_EXIT_CODE = 331;
