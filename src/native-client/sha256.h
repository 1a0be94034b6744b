/*
 * SHA-256 (FIPS 180-4), for the replay to check a local store blob against
 * the digest its name claims before it copies it (replay-restore.c).
 */
#ifndef TREWS_SHA256_H
#define TREWS_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
  uint32_t h[8];
  uint64_t bytes;
  unsigned char block[64];
  size_t used;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL. */
void sha256_hex(struct sha256 *s, char out[65]);

#endif
