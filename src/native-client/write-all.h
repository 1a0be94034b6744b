/* Writing a whole buffer to a descriptor (defined in trews-native.c, used by replay.c and replay-restore.c too). */
#ifndef TREWS_WRITE_ALL_H
#define TREWS_WRITE_ALL_H

#include <stddef.h>

/* Writes all of buf to fd; -1 on an error other than EINTR/EAGAIN (a closed pipe, a gone peer). */
int write_all(int fd, const void *buf, size_t len);

#endif
