/*
 * Replaying a proven no-op (see replay.h, and src/cli/replay-record.ts for
 * what a record holds and when one is written). Everything in the record is
 * checked before a byte of output is written: the format, the user and
 * group, the working directory, the command line, every environment
 * variable, which `node` PATH finds, and the stamp of every path. Anything
 * that differs, or a record that is damaged, truncated or foreign, returns
 * to the caller, which runs the command as it would have.
 *
 * A stamp is what src/fs/path-stamps.ts makes of lstat (a path in the build
 * root) or stat (a path outside it, through its links): its kind, size,
 * mtime and ctime to the nanosecond, inode, device and mode, or `absent`.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "replay.h"
#include "replay-fields.h"
#include "replay-restore.h"
#include "write-all.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

extern char **environ;

/* Keep in step with src/cli/replay-record.ts (test/native-replay.test.ts writes records with it). */
#define REPLAY_DIR "/.trews.d/replay/"
#define REPLAY_FORMAT "trews-replay 2\n"
#define REPLAY_LOG "/.trews.d/trews.log"
/* A record is far smaller (its output is at most 1 MiB); anything larger is not one. */
#define REPLAY_MAX_BYTES (256u * 1024u * 1024u)


/* The real path of the `node` execvp would run for the Node client: the first executable file on PATH. */
static int node_on_path(char *out) {
  const char *path = getenv("PATH");
  if (path == NULL) return -1;
  const char *p = path;
  for (;;) {
    const char *colon = strchr(p, ':');
    size_t n = colon == NULL ? strlen(p) : (size_t)(colon - p);
    char candidate[PATH_MAX];
    if (n == 0) snprintf(candidate, sizeof candidate, "node");
    else if (n + 6 < sizeof candidate) {
      memcpy(candidate, p, n);
      memcpy(candidate + n, "/node", 6);
    } else candidate[0] = '\0';
    struct stat st;
    if (candidate[0] != '\0' && stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0) {
      return realpath(candidate, out) == NULL ? -1 : 0;
    }
    if (colon == NULL) return -1;
    p = colon + 1;
  }
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the whole file; NULL when it cannot, or it is too large to be a record. */
static char *read_record(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (unsigned long long)st.st_size > REPLAY_MAX_BYTES) {
    close(fd);
    return NULL;
  }
  size_t want = (size_t)st.st_size, got = 0;
  char *data = malloc(want);
  if (data == NULL) {
    close(fd);
    return NULL;
  }
  while (got < want) {
    ssize_t n = read(fd, data + got, want - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (got != want) {
    free(data);
    return NULL;
  }
  *len = want;
  return data;
}

/* `0.42s`, `4.2s`, `1m03s`, as src/ui/summary.ts formatElapsed. */
static int format_elapsed(long long ms, char *buf, size_t cap) {
  if (ms < 1000) return snprintf(buf, cap, "%.2fs", (double)ms / 1000.0);
  if (ms < 60000) return snprintf(buf, cap, "%.1fs", (double)ms / 1000.0);
  return snprintf(buf, cap, "%lldm%02llds", ms / 60000, ((ms % 60000) + 500) / 1000);
}

static long long monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The FNV-1a (64-bit) record name of src/cli/replay-record.ts replayFileName. */
static unsigned long long record_name(const char *cwd, char **argv) {
  unsigned long long h = 0xcbf29ce484222325ull;
  const unsigned long long prime = 0x100000001b3ull;
  for (const unsigned char *c = (const unsigned char *)cwd; *c != '\0'; c++) h = (h ^ *c) * prime;
  h *= prime;
  for (int i = 1; argv[i] != NULL; i++) {
    for (const unsigned char *c = (const unsigned char *)argv[i]; *c != '\0'; c++) h = (h ^ *c) * prime;
    h *= prime;
  }
  return h;
}

/*
 * Appends what the Node client's log would have said, so trews.log still tells every run; made if
 * absent (a build root whose runs all went to the daemon has only the daemon's log).
 */
static void log_replay(const char *root, const char *cwd, char **argv, const char *record, size_t stamps, size_t restored) {
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s" REPLAY_LOG, strcmp(root, "/") == 0 ? "" : root);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char line[8192];
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ INFO  run: trews", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, (int)(tv.tv_usec / 1000));
  for (int i = 1; argv[i] != NULL && n > 0 && (size_t)n < sizeof line; i++) n += snprintf(line + n, sizeof line - (size_t)n, " %s", argv[i]);
  if (n > 0 && (size_t)n < sizeof line) {
    n += snprintf(line + n, sizeof line - (size_t)n, " (cwd %s): replayed by the native client from %s, %zu stamps unchanged, %zu outputs restored\n", cwd, record, stamps,
                  restored);
  }
  if (n > 0 && (size_t)n < sizeof line) (void)write_all(fd, line, (size_t)n);
  close(fd);
}

void try_replay(const char *root, const char *cwd, char **argv, long long started_ms) {
  /* Recorded only without a terminal: colours, progress and widths are then out of the answer. */
  if (isatty(1) || isatty(2)) return;
  struct restore_plan *plan = NULL;
  const char *r = strcmp(root, "/") == 0 ? "" : root;
  char file[PATH_MAX + 64];
  snprintf(file, sizeof file, "%s" REPLAY_DIR "%016llx", r, record_name(cwd, argv));
  size_t len = 0;
  char *data = read_record(file, &len);
  if (data == NULL) return;
  const char *cur = data, *end = data + len;
  size_t magic = strlen(REPLAY_FORMAT);
  if (len < magic || memcmp(data, REPLAY_FORMAT, magic) != 0) goto miss;
  cur += magic;

  int argc_seen = 1, env_seen = 0, env_count = 0, have_node = 0, ended = 0;
  long long exit_code = -1, uid = -1, gid = -1;
  size_t stamps = 0;
  while (environ[env_count] != NULL) env_count++;
  char **env = malloc(sizeof *env * ((size_t)env_count + 1));
  if (env == NULL) goto miss;
  memcpy(env, environ, sizeof *env * (size_t)env_count);
  qsort(env, (size_t)env_count, sizeof *env, cmp_cstr);

  plan = restore_plan_new();
  if (plan == NULL) goto miss_env;
  struct field f, s;
  char path[PATH_MAX * 2], now[256], want[256];
  int rc;
  while ((rc = next_field(&cur, end, &f)) == 1) {
    switch (f.tag) {
      case 'u':
        if (field_ll(&f, &uid) < 0 || uid != (long long)geteuid()) goto miss_env;
        break;
      case 'g':
        if (field_ll(&f, &gid) < 0 || gid != (long long)getegid()) goto miss_env;
        break;
      case 'c':
        if (!field_is(&f, cwd)) goto miss_env;
        break;
      case 'a':
        if (argv[argc_seen] == NULL || !field_is(&f, argv[argc_seen])) goto miss_env;
        argc_seen++;
        break;
      case 'e':
        if (env_seen >= env_count || !field_is(&f, env[env_seen])) goto miss_env;
        env_seen++;
        break;
      case 'n': {
        char node[PATH_MAX];
        if (node_on_path(node) < 0 || !field_is(&f, node)) goto miss_env;
        have_node = 1;
        break;
      }
      case 'p':
      case 'q': {
        /* A path, then its stamp. */
        if (next_field(&cur, end, &s) != 1 || s.tag != 's' || field_str(&s, want, sizeof want) < 0) goto miss_env;
        if (f.tag == 'p') {
          if (!relative_ok(&f) || join_root(root, &f, path, sizeof path) < 0) goto miss_env;
        } else if (field_str(&f, path, sizeof path) < 0 || path[0] != '/') {
          goto miss_env;
        }
        if (stamp_of(path, f.tag == 'q', now, sizeof now) < 0 || strcmp(now, want) != 0) goto miss_env;
        stamps++;
        break;
      }
      case 'P':
      case 'B':
      case 'D':
      case 'F':
      case 'Y':
      case 'm':
        /* The restore plan: checked once the whole record is read. */
        if (restore_plan_take(plan, &f, &cur, end) < 0) goto miss_env;
        break;
      case 'o':
      case 'r':
      case 't':
      case 'w':
      case 'v':
        /* The output: written once everything above held. */
        if (f.tag == 't' && !field_is(&f, "1") && !field_is(&f, "2")) goto miss_env;
        break;
      case 'x':
        if (field_ll(&f, &exit_code) < 0 || exit_code < 0 || exit_code > 255) goto miss_env;
        break;
      case 'z':
        ended = 1;
        break;
      default:
        goto miss_env;
    }
    if (ended) break;
  }
  /* Every fact there, nothing missing: all arguments and variables matched, and the record is whole. */
  if (rc < 0 || !ended || cur != end || argv[argc_seen] != NULL || env_seen != env_count || !have_node || uid < 0 || gid < 0 || exit_code < 0) goto miss_env;
  /* The outputs: each as recorded, or absent or different with its blob as recorded; every count names a build. */
  if (restore_plan_check(plan, root) < 0) goto miss_env;
  char counts[128];
  cur = data + magic;
  while (next_field(&cur, end, &f) == 1 && f.tag != 'z') {
    if ((f.tag == 'w' || f.tag == 'v') && restore_plan_counts(plan, &f, counts, sizeof counts) < 0) goto miss_env;
  }
  free(env);
  env = NULL;
  /* Every stamp held: the recorded answer is this run's, once the outputs are back. */
  if (restore_plan_write(plan, root) < 0) goto miss;

  signal(SIGPIPE, SIG_IGN);
  char elapsed[32];
  int elapsed_len = format_elapsed(monotonic_ms() - started_ms, elapsed, sizeof elapsed);
  cur = data + magic;
  while (next_field(&cur, end, &f) == 1 && f.tag != 'z') {
    if (f.tag == 'o') (void)write_all(1, f.p, f.len);
    else if (f.tag == 'r') (void)write_all(2, f.p, f.len);
    else if (f.tag == 't' && elapsed_len > 0) (void)write_all(field_is(&f, "1") ? 1 : 2, elapsed, (size_t)elapsed_len);
    else if (f.tag == 'w' || f.tag == 'v') {
      int n = restore_plan_counts(plan, &f, counts, sizeof counts);
      if (n > 0 && (size_t)n < sizeof counts) (void)write_all(f.tag == 'w' ? 1 : 2, counts, (size_t)n);
    }
  }
  log_replay(root, cwd, argv, file + strlen(r) + 1, stamps, restore_plan_writes(plan));
  restore_plan_free(plan);
  free(data);
  exit((int)exit_code);

miss_env:
  free(env);
miss:
  restore_plan_free(plan);
  free(data);
}
