/*
 * Reading a working-set file, shared by every load of it in flight in this process. Several VMs
 * restored from one snapshot at once prefetch the same file; with one O_DIRECT stream each, the
 * disk would read it once per VM. Instead the first load starts a fetch (the file read front to
 * back in VHUF_WS_CHUNK pieces, VHUF_WS_DEPTH of them in flight with Linux AIO) and later loads
 * of the same file (same device, inode, size and mtime) join it and take the chunks already read.
 * Chunks stay in memory until the last load leaves; then the fetch is gone, so a load that
 * starts after that reads from disk again (nothing is cached across loads).
 *
 * The checksum is computed once per fetch, not once per load: whichever load reaches a chunk first
 * hashes it (in file order, under the fetch's lock), and every load compares the one result.
 *
 * There is no reader thread: whichever subscribed fault thread sees the AIO eventfd readable
 * collects the completions, queues the next reads and writes every subscriber's notify eventfd.
 * Without AIO (io_setup refused) a chunk is read synchronously by the first thread that needs it.
 */
#define _GNU_SOURCE
#include "handler.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WS_ALIGN 4096

enum chunk_state { CHUNK_QUEUED = 0, CHUNK_READING = 1, CHUNK_READ = 2 };

struct vhuf_ws_fetch {
  struct vhuf_ws_fetch *next; /* registry */
  dev_t dev;
  ino_t ino;
  uint64_t size;
  struct timespec mtime;
  int refs; /* under registry_lock */

  pthread_mutex_t lock; /* everything below */
  int fd;
  int efd;           /* AIO completions; -1 when reads are synchronous */
  aio_context_t ctx; /* 0 when reads are synchronous */
  uint64_t chunks;
  uint8_t **buf;
  _Atomic int *state; /* enum chunk_state, or -errno once a read failed */
  uint64_t *got;
  struct iocb *cb;
  uint64_t next_submit;
  int in_flight;
  int *notify;
  int notify_count, notify_cap;
  struct vhuf_hash64_state hash;
  uint64_t hashed_chunks; /* chunks 0 .. hashed_chunks-1 are in `hash` */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vhuf_ws_fetch *registry = NULL;

static uint64_t chunk_len(const struct vhuf_ws_fetch *f, uint64_t k) {
  uint64_t start = k * VHUF_WS_CHUNK;
  return f->size - start < VHUF_WS_CHUNK ? f->size - start : VHUF_WS_CHUNK;
}

static int submit(struct vhuf_ws_fetch *f, uint64_t k) {
  if (!f->buf[k] && !(f->buf[k] = vhuf_pool_get())) return -ENOMEM;
  struct iocb *cb = &f->cb[k];
  memset(cb, 0, sizeof *cb);
  cb->aio_data = k;
  cb->aio_lio_opcode = IOCB_CMD_PREAD;
  cb->aio_fildes = (uint32_t)f->fd;
  cb->aio_buf = (uint64_t)(uintptr_t)(f->buf[k] + f->got[k]);
  cb->aio_nbytes = VHUF_WS_CHUNK - f->got[k]; /* whole aligned chunk: O_DIRECT needs it; EOF shortens it */
  cb->aio_offset = (int64_t)(k * VHUF_WS_CHUNK + f->got[k]);
  cb->aio_flags = IOCB_FLAG_RESFD;
  cb->aio_resfd = (uint32_t)f->efd;
  struct iocb *list[1] = {cb};
  long rc;
  do rc = syscall(SYS_io_submit, f->ctx, 1, list);
  while (rc < 0 && errno == EINTR);
  if (rc != 1) return rc < 0 ? -errno : -EIO;
  atomic_store_explicit(&f->state[k], CHUNK_READING, memory_order_relaxed);
  f->in_flight++;
  return 0;
}

/* Keeps VHUF_WS_DEPTH reads in flight. Caller holds f->lock. */
static void fill(struct vhuf_ws_fetch *f) {
  while (f->in_flight < VHUF_WS_DEPTH && f->next_submit < f->chunks) {
    uint64_t k = f->next_submit++;
    int rc = submit(f, k);
    if (rc != 0) atomic_store_explicit(&f->state[k], rc, memory_order_release);
  }
}

static void notify_all(struct vhuf_ws_fetch *f) {
  uint64_t one = 1;
  for (int i = 0; i < f->notify_count; i++)
    if (write(f->notify[i], &one, sizeof one) < 0) { /* eventfd write cannot fail short of overflow */ }
}

void vhuf_fetch_poll(struct vhuf_ws_fetch *f) {
  if (!f->ctx) return;
  pthread_mutex_lock(&f->lock);
  uint64_t n;
  if (read(f->efd, &n, sizeof n) < 0) { /* EAGAIN: another subscriber collected them already */ }
  struct io_event ev[VHUF_WS_DEPTH];
  struct timespec zero = {0, 0};
  long got = 0;
  if (f->in_flight > 0) {
    do got = syscall(SYS_io_getevents, f->ctx, 0, VHUF_WS_DEPTH, ev, &zero);
    while (got < 0 && errno == EINTR);
  }
  for (long i = 0; i < got; i++) {
    uint64_t k = ev[i].data;
    f->in_flight--;
    if (ev[i].res < 0) {
      atomic_store_explicit(&f->state[k], (int)ev[i].res, memory_order_release);
      continue;
    }
    f->got[k] += (uint64_t)ev[i].res;
    if (f->got[k] >= chunk_len(f, k)) {
      atomic_store_explicit(&f->state[k], CHUNK_READ, memory_order_release);
    } else if (ev[i].res == 0 || f->got[k] % WS_ALIGN != 0) {
      atomic_store_explicit(&f->state[k], -EIO, memory_order_release); /* file shrank, or unaligned short read */
    } else {
      int rc = submit(f, k); /* short read: the rest of the chunk */
      if (rc != 0) atomic_store_explicit(&f->state[k], rc, memory_order_release);
    }
  }
  fill(f);
  if (got > 0) notify_all(f);
  pthread_mutex_unlock(&f->lock);
}

const uint8_t *vhuf_fetch_chunk(struct vhuf_ws_fetch *f, uint64_t k, uint64_t *len, int *error) {
  *error = 0;
  *len = chunk_len(f, k);
  int st = atomic_load_explicit(&f->state[k], memory_order_acquire);
  if (st == CHUNK_READ) return f->buf[k];
  if (st < 0) {
    *error = -st;
    return NULL;
  }
  if (f->ctx) return NULL; /* still reading */
  pthread_mutex_lock(&f->lock);
  if (atomic_load_explicit(&f->state[k], memory_order_relaxed) == CHUNK_QUEUED) {
    int rc = 0;
    if (!f->buf[k] && !(f->buf[k] = vhuf_pool_get())) rc = -ENOMEM;
    while (rc == 0 && f->got[k] < *len) {
      ssize_t r = pread(f->fd, f->buf[k] + f->got[k], VHUF_WS_CHUNK - f->got[k], (off_t)(k * VHUF_WS_CHUNK + f->got[k]));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) rc = r < 0 ? -errno : -EIO;
      else f->got[k] += (uint64_t)r;
    }
    atomic_store_explicit(&f->state[k], rc == 0 ? CHUNK_READ : rc, memory_order_release);
  }
  pthread_mutex_unlock(&f->lock);
  return vhuf_fetch_chunk(f, k, len, error);
}

void vhuf_fetch_hash_chunk(struct vhuf_ws_fetch *f, uint64_t k, uint64_t from, const uint8_t *buf, uint64_t len) {
  pthread_mutex_lock(&f->lock);
  if (f->hashed_chunks == k) { /* otherwise another load hashed it already */
    if (k == 0) vhuf_hash64_init(&f->hash);
    uint64_t start = k * VHUF_WS_CHUNK;
    if (start + len > from) {
      uint64_t skip = from > start ? from - start : 0;
      vhuf_hash64_update(&f->hash, buf + skip, len - skip);
    }
    f->hashed_chunks = k + 1;
  }
  pthread_mutex_unlock(&f->lock);
}

uint64_t vhuf_fetch_hash(struct vhuf_ws_fetch *f) {
  pthread_mutex_lock(&f->lock);
  uint64_t h = vhuf_hash64_final(&f->hash);
  pthread_mutex_unlock(&f->lock);
  return h;
}

int vhuf_fetch_fd(const struct vhuf_ws_fetch *f) { return f->efd; }
uint64_t vhuf_fetch_size(const struct vhuf_ws_fetch *f) { return f->size; }
uint64_t vhuf_fetch_chunks(const struct vhuf_ws_fetch *f) { return f->chunks; }

static void destroy(struct vhuf_ws_fetch *f) {
  if (f->ctx) syscall(SYS_io_destroy, f->ctx); /* waits for reads in flight: the buffers are free after */
  if (f->efd >= 0) close(f->efd);
  if (f->fd >= 0) close(f->fd);
  if (f->buf)
    for (uint64_t k = 0; k < f->chunks; k++) vhuf_pool_put(f->buf[k]);
  free(f->buf);
  free((void *)f->state);
  free(f->got);
  free(f->cb);
  free(f->notify);
  pthread_mutex_destroy(&f->lock);
  free(f);
}

static int add_subscriber(struct vhuf_ws_fetch *f, int notify_fd) {
  pthread_mutex_lock(&f->lock);
  int rc = 0;
  if (f->notify_count == f->notify_cap) {
    int cap = f->notify_cap ? f->notify_cap * 2 : 8;
    int *n = realloc(f->notify, (size_t)cap * sizeof *n);
    if (n) {
      f->notify = n;
      f->notify_cap = cap;
    } else {
      rc = -1;
    }
  }
  if (rc == 0) f->notify[f->notify_count++] = notify_fd;
  pthread_mutex_unlock(&f->lock);
  return rc;
}

struct vhuf_ws_fetch *vhuf_fetch_join(const char *path, int notify_fd, int *joined, char *err, size_t errlen) {
  *joined = 0;
  int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0 && errno == EINVAL) fd = open(path, O_RDONLY | O_CLOEXEC); /* fs without O_DIRECT */
  struct stat st;
  if (fd < 0) {
    snprintf(err, errlen, "open %s: %s", path, strerror(errno));
    return NULL;
  }
  if (fstat(fd, &st) != 0 || st.st_size < WS_ALIGN) {
    snprintf(err, errlen, "%s: too short for a working-set file", path);
    close(fd);
    return NULL;
  }
  pthread_mutex_lock(&registry_lock);
  struct vhuf_ws_fetch *f = registry;
  while (f && !(f->dev == st.st_dev && f->ino == st.st_ino && f->size == (uint64_t)st.st_size &&
                f->mtime.tv_sec == st.st_mtim.tv_sec && f->mtime.tv_nsec == st.st_mtim.tv_nsec))
    f = f->next;
  if (f) {
    close(fd);
    *joined = 1;
  } else if ((f = calloc(1, sizeof *f))) {
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->size = (uint64_t)st.st_size;
    f->mtime = st.st_mtim;
    f->fd = fd;
    f->efd = -1;
    pthread_mutex_init(&f->lock, NULL);
    f->chunks = (f->size + VHUF_WS_CHUNK - 1) / VHUF_WS_CHUNK;
    f->buf = calloc(f->chunks, sizeof *f->buf);
    f->state = calloc(f->chunks, sizeof *f->state);
    f->got = calloc(f->chunks, sizeof *f->got);
    f->cb = calloc(f->chunks, sizeof *f->cb);
    if (!f->buf || !f->state || !f->got || !f->cb) {
      destroy(f);
      f = NULL;
    } else {
      /* Asynchronous reads when the kernel gives us an AIO context; synchronous ones otherwise. */
      f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (f->efd < 0 || syscall(SYS_io_setup, VHUF_WS_DEPTH, &f->ctx) != 0) f->ctx = 0;
      if (f->ctx) {
        pthread_mutex_lock(&f->lock);
        fill(f);
        pthread_mutex_unlock(&f->lock);
      } else if (f->efd >= 0) {
        close(f->efd);
        f->efd = -1;
      }
      f->next = registry;
      registry = f;
    }
  } else {
    close(fd);
  }
  if (!f) {
    pthread_mutex_unlock(&registry_lock);
    snprintf(err, errlen, "out of memory for reading %s", path);
    return NULL;
  }
  f->refs++;
  pthread_mutex_unlock(&registry_lock);
  if (add_subscriber(f, notify_fd) != 0) {
    vhuf_fetch_leave(f, -1);
    snprintf(err, errlen, "out of memory for reading %s", path);
    return NULL;
  }
  /* Chunks that arrived before this subscriber joined: let it look at once. */
  uint64_t one = 1;
  if (write(notify_fd, &one, sizeof one) < 0) { /* eventfd write cannot fail short of overflow */ }
  return f;
}

void vhuf_fetch_leave(struct vhuf_ws_fetch *f, int notify_fd) {
  pthread_mutex_lock(&f->lock);
  for (int i = 0; i < f->notify_count; i++) {
    if (f->notify[i] == notify_fd) {
      f->notify[i] = f->notify[--f->notify_count];
      break;
    }
  }
  pthread_mutex_unlock(&f->lock);
  pthread_mutex_lock(&registry_lock);
  int last = --f->refs == 0;
  if (last) {
    struct vhuf_ws_fetch **p = &registry;
    while (*p && *p != f) p = &(*p)->next;
    if (*p) *p = f->next;
  }
  pthread_mutex_unlock(&registry_lock);
  if (last) destroy(f);
}
