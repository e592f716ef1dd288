/*
 * Working-set integrity check: a fast non-cryptographic 64-bit hash (four independent
 * multiply-rotate lanes over 32-byte blocks, folded at the end). It guards against torn or
 * corrupted files, not against tampering; the working set lives beside the snapshot it
 * belongs to, with the snapshot's own permissions.
 */
#include "handler.h"

#include <string.h>

#define K1 0x9E3779B185EBCA87ull
#define K2 0xC2B2AE3D27D4EB4Full
#define K3 0x165667B19E3779F9ull

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t mix(uint64_t acc, uint64_t w) { return rotl(acc ^ (w * K2), 29) * K1; }

uint64_t vhuf_hash64(const uint8_t *p, size_t n) {
  uint64_t a = K1, b = K2, c = K3, d = K1 ^ K3;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    memcpy(w, p + i, 32);
    a = mix(a, w[0]);
    b = mix(b, w[1]);
    c = mix(c, w[2]);
    d = mix(d, w[3]);
  }
  uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + (uint64_t)n;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = mix(h, w);
  }
  for (; i < n; i++) h = mix(h, p[i]);
  h ^= h >> 33;
  h *= K2;
  h ^= h >> 29;
  return h;
}
