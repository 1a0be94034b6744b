/*
 * A replay record's fields and stamps, for replay.c and replay-restore.c
 * (the format is src/cli/replay-format.ts's).
 */
#ifndef TREWS_REPLAY_FIELDS_H
#define TREWS_REPLAY_FIELDS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#if defined(__APPLE__)
#define MTIME_NS(st) ((unsigned long long)(st).st_mtimespec.tv_sec * 1000000000ull + (unsigned long long)(st).st_mtimespec.tv_nsec)
#define CTIME_NS(st) ((unsigned long long)(st).st_ctimespec.tv_sec * 1000000000ull + (unsigned long long)(st).st_ctimespec.tv_nsec)
#else
#define MTIME_NS(st) ((unsigned long long)(st).st_mtim.tv_sec * 1000000000ull + (unsigned long long)(st).st_mtim.tv_nsec)
#define CTIME_NS(st) ((unsigned long long)(st).st_ctim.tv_sec * 1000000000ull + (unsigned long long)(st).st_ctim.tv_nsec)
#endif

/* One `<tag><length>:<bytes>\n` field. */
struct field {
  char tag;
  const char *p;
  size_t len;
};

/* The next field at *cur: 1, 0 at the end, -1 when the record is damaged. */
static inline int next_field(const char **cur, const char *end, struct field *f) {
  const char *c = *cur;
  if (c >= end) return 0;
  f->tag = *c++;
  size_t len = 0;
  int digits = 0;
  while (c < end && *c >= '0' && *c <= '9') {
    if (++digits > 10) return -1;
    len = len * 10 + (size_t)(*c - '0');
    c++;
  }
  if (digits == 0 || c >= end || *c != ':') return -1;
  c++;
  if ((size_t)(end - c) < len + 1 || c[len] != '\n') return -1;
  f->p = c;
  f->len = len;
  *cur = c + len + 1;
  return 1;
}

static inline int field_is(const struct field *f, const char *s) {
  size_t n = strlen(s);
  return f->len == n && memcmp(f->p, s, n) == 0;
}

/* A field's bytes as a C string in buf (cap bytes); -1 when it does not fit or holds a NUL. */
static inline int field_str(const struct field *f, char *buf, size_t cap) {
  if (f->len >= cap || memchr(f->p, '\0', f->len) != NULL) return -1;
  memcpy(buf, f->p, f->len);
  buf[f->len] = '\0';
  return 0;
}

/* The field as a decimal number (an optional leading '-'); -1 when it is none. */
static inline int field_ll(const struct field *f, long long *out) {
  char buf[32];
  if (field_str(f, buf, sizeof buf) < 0 || buf[0] == '\0') return -1;
  char *endp;
  errno = 0;
  long long v = strtoll(buf, &endp, 10);
  if (errno != 0 || *endp != '\0') return -1;
  *out = v;
  return 0;
}

/* A stamp of what (l)stat said, as src/fs/path-stamps.ts writes it. */
static inline void format_stamp(const struct stat *st, char *out, size_t cap) {
  char kind = S_ISREG(st->st_mode) ? 'f' : S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : 'o';
  snprintf(out, cap, "%c:%lld:%llu:%llu:%llu:%llu:%u", kind, (long long)st->st_size, MTIME_NS(*st), CTIME_NS(*st), (unsigned long long)st->st_ino,
           (unsigned long long)st->st_dev, (unsigned)st->st_mode);
}

/*
 * The stamp of `path` as src/fs/path-stamps.ts writes it, through links when
 * `follow`; -1 when it cannot be taken as the recorder would have (an error
 * other than "no such file": a record never holds one).
 */
static inline int stamp_of(const char *path, int follow, char *out, size_t cap) {
  struct stat st;
  if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) {
    if (errno != ENOENT) return -1;
    snprintf(out, cap, "absent");
    return 0;
  }
  format_stamp(&st, out, cap);
  return 0;
}

/* A root-relative path as the record may hold one: no leading '/', no '..' segment, no NUL ('' is the root). */
static inline int relative_ok(const struct field *f) {
  if (f->len >= PATH_MAX || memchr(f->p, '\0', f->len) != NULL) return 0;
  if (f->len > 0 && f->p[0] == '/') return 0;
  for (size_t at = 0; at <= f->len;) {
    size_t end = at;
    while (end < f->len && f->p[end] != '/') end++;
    if (end - at == 2 && f->p[at] == '.' && f->p[at + 1] == '.') return 0;
    if (f->len > 0 && end == at) return 0; /* an empty segment */
    at = end + 1;
  }
  return 1;
}

/* root + '/' + rel into buf ('' is the root itself); -1 when it does not fit. */
static inline int join_root(const char *root, const struct field *rel, char *buf, size_t cap) {
  const char *r = strcmp(root, "/") == 0 ? "" : root;
  int n = rel->len == 0 ? snprintf(buf, cap, "%s", root) : snprintf(buf, cap, "%s/%.*s", r, (int)rel->len, rel->p);
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

#endif
