/*
 * Process-wide pool of the prefetcher's read buffers (VHUF_WS_CHUNK bytes, page-aligned).
 * Fresh anonymous memory is expensive to touch in a VM (the hypervisor backs each page on first
 * use, and with free-page reporting again after it was freed), so buffers are kept for the next
 * load instead of being allocated and freed around every restore. Idle buffers beyond
 * VHUF_POOL_IDLE_MAX are freed, which bounds what the daemon holds between loads.
 */
#define _GNU_SOURCE
#include "handler.h"

#include <pthread.h>
#include <stdlib.h>

#define VHUF_POOL_IDLE_MAX 64

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void *idle[VHUF_POOL_IDLE_MAX];
static int idle_count = 0;

void *vhuf_pool_get(void) {
  void *b = NULL;
  pthread_mutex_lock(&pool_lock);
  if (idle_count > 0) b = idle[--idle_count];
  pthread_mutex_unlock(&pool_lock);
  if (b) return b;
  if (posix_memalign(&b, 4096, VHUF_WS_CHUNK) != 0) return NULL;
  return b;
}

void vhuf_pool_put(void *b) {
  if (!b) return;
  pthread_mutex_lock(&pool_lock);
  if (idle_count < VHUF_POOL_IDLE_MAX) {
    idle[idle_count++] = b;
    b = NULL;
  }
  pthread_mutex_unlock(&pool_lock);
  free(b);
}
