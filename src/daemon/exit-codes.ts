/**
 * The exit code a `--loop` run served by the daemon ends with when the daemon is
 * going away (its `trews.toml` changed, it hit its memory limit): EX_TEMPFAIL,
 * "try again". trews' client then starts the next daemon and sends the same
 * command again, so the loop goes on. A loop has no other way to end but Ctrl-C
 * or a usage error before it starts, so the code cannot be mistaken for a
 * command's own.
 */
export const LOOP_RESTART_EXIT_CODE = 75;
