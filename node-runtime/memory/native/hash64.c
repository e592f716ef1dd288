/*
 * Working-set integrity check: a fast non-cryptographic 64-bit hash (four independent
 * multiply-rotate lanes over 32-byte blocks, folded at the end). It guards against torn or
 * corrupted files, not against tampering; the working set lives beside the snapshot it
 * belongs to, with the snapshot's own permissions.
 *
 * Streaming form (init/update/final) so the prefetcher can hash each chunk as it arrives from
 * disk; vhuf_hash64 over a whole buffer gives the same value as any split into updates.
 */
#include "handler.h"

#include <string.h>

#define K1 0x9E3779B185EBCA87ull
#define K2 0xC2B2AE3D27D4EB4Full
#define K3 0x165667B19E3779F9ull

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t mix(uint64_t acc, uint64_t w) { return rotl(acc ^ (w * K2), 29) * K1; }

void vhuf_hash64_init(struct vhuf_hash64_state *s) {
  *s = (struct vhuf_hash64_state){.lane = {K1, K2, K3, K1 ^ K3}};
}

static inline void block(struct vhuf_hash64_state *s, const uint8_t *p) {
  uint64_t w[4];
  memcpy(w, p, 32);
  s->lane[0] = mix(s->lane[0], w[0]);
  s->lane[1] = mix(s->lane[1], w[1]);
  s->lane[2] = mix(s->lane[2], w[2]);
  s->lane[3] = mix(s->lane[3], w[3]);
}

void vhuf_hash64_update(struct vhuf_hash64_state *s, const uint8_t *p, size_t n) {
  s->total += n;
  if (s->carry_len) { /* finish the block a previous update left open */
    size_t take = 32 - s->carry_len < n ? 32 - s->carry_len : n;
    memcpy(s->carry + s->carry_len, p, take);
    s->carry_len += take;
    p += take;
    n -= take;
    if (s->carry_len < 32) return;
    block(s, s->carry);
    s->carry_len = 0;
  }
  for (; n >= 32; p += 32, n -= 32) block(s, p);
  memcpy(s->carry, p, n);
  s->carry_len = n;
}

uint64_t vhuf_hash64_final(const struct vhuf_hash64_state *s) {
  uint64_t h = rotl(s->lane[0], 1) + rotl(s->lane[1], 7) + rotl(s->lane[2], 12) + rotl(s->lane[3], 18) + s->total;
  size_t i = 0;
  for (; i + 8 <= s->carry_len; i += 8) {
    uint64_t w;
    memcpy(&w, s->carry + i, 8);
    h = mix(h, w);
  }
  for (; i < s->carry_len; i++) h = mix(h, s->carry[i]);
  h ^= h >> 33;
  h *= K2;
  h ^= h >> 29;
  return h;
}

uint64_t vhuf_hash64(const uint8_t *p, size_t n) {
  struct vhuf_hash64_state s;
  vhuf_hash64_init(&s);
  vhuf_hash64_update(&s, p, n);
  return vhuf_hash64_final(&s);
}
