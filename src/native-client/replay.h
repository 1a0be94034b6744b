/*
 * Replaying a proven no-op run without a daemon (replay.c; the record is
 * written by src/cli/replay-record.ts, which says what it holds and why).
 */
#ifndef TREWS_REPLAY_H
#define TREWS_REPLAY_H

/*
 * When `root` holds a record for this command line (argv from index 1, cwd)
 * and every fact and stamp in it still holds, writes the recorded output and
 * exits with the recorded code; returns otherwise, having written nothing.
 * `started_ms` is CLOCK_MONOTONIC at the client's start, for the summaries'
 * time.
 */
void try_replay(const char *root, const char *cwd, char **argv, long long started_ms);

#endif
