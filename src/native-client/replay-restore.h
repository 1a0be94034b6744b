/*
 * A replay's restore plan (replay-restore.c): the outputs of `build` the
 * native client checks, and writes back from the local store where they are
 * absent or differ. The record's fields are src/cli/replay-format.ts's.
 */
#ifndef TREWS_REPLAY_RESTORE_H
#define TREWS_REPLAY_RESTORE_H

#include <stddef.h>

#include "replay-fields.h"

struct restore_plan;

struct restore_plan *restore_plan_new(void);
void restore_plan_free(struct restore_plan *plan);

/*
 * Takes one of the plan's fields (P, B, D, F, Y or m, already read as `f`)
 * with the fields that belong to it, read from *cur. -1 when the record is
 * damaged there.
 */
int restore_plan_take(struct restore_plan *plan, const struct field *f, const char **cur, const char *end);

/*
 * Checks every path of the plan under `root` and decides what to write,
 * writing nothing. 0 when the replay may go on; -1 when the run must be
 * Node's (a directory's listing differs, a stale file is there, a blob the
 * plan would copy is not as recorded, ...).
 */
int restore_plan_check(struct restore_plan *plan, const char *root);

/*
 * Writes what check decided: absent output directories made in place and
 * filled, other files written to a temporary name beside them and renamed
 * over. 0 when all is written; -1 when something failed (what it wrote is
 * the right content; a temporary file is removed): the run is then Node's.
 */
int restore_plan_write(struct restore_plan *plan, const char *root);

/* The result line's counts for the group a `w`/`v` field names, as src/goals/build.ts prints them; -1 for no such group. */
int restore_plan_counts(const struct restore_plan *plan, const struct field *group, char *buf, size_t cap);

/* How many outputs the plan writes (for the log). */
size_t restore_plan_writes(const struct restore_plan *plan);

#endif
