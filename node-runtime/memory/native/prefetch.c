/*
 * REAP prefetch, streamed: the working-set file is read front to back in VHUF_WS_CHUNK pieces with
 * O_DIRECT, VHUF_WS_DEPTH reads in flight (Linux AIO, completions signalled on an eventfd the
 * fault thread polls beside the uffd), and each chunk is hashed and installed as soon as it and
 * every chunk before it have arrived. The VMM is not held back meanwhile: the fault thread
 * answers faults first and installs chunks between them (FaaSnap's concurrent paging, in file
 * order), so reading, checksumming and installing overlap each other and the guest.
 *
 * Pages go in with UFFDIO_COPY without DONTWAKE: a vCPU already waiting on a page of the set is
 * woken by the copy that installs it, so the fault thread simply leaves such faults to the stream
 * (serve.c). Faults that arrive before the index is known are held until it is.
 *
 * The checksum covers the index and data (the file layout is defined in working-set-file.ts):
 *   0 magic "VHUFWS1\0" | 8 u32 version=1 | 12 u32 page size | 16 u64 page count
 *   24 u64 memory-file size | 32 u64 index offset | 40 u64 data offset | 48 u64 checksum
 * index: u32 file-page numbers, strictly ascending; data: the pages in index order.
 * Header and index are checked before anything is installed (an unusable file leaves the load
 * lazy); the checksum can only be compared once the last chunk is in, by which time the guest may
 * have seen installed pages, so a mismatch then is fatal: the VMM is killed, never left running
 * on memory that did not verify.
 */
#define _GNU_SOURCE
#include "handler.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WS_ALIGN 4096
#define HEADER_BYTES 64

enum slot_state { SLOT_IDLE = 0, SLOT_READING = 1, SLOT_READ = 2 };

struct vhuf_stream {
  int fd;
  int efd;              /* AIO completions; -1 when reads are synchronous */
  aio_context_t ctx;    /* 0 when reads are synchronous */
  uint64_t file_size;
  uint64_t chunks;      /* ceil(file_size / VHUF_WS_CHUNK) */
  uint64_t next_submit; /* next chunk to read */
  uint64_t next_process;
  uint8_t *buf[VHUF_WS_DEPTH];
  enum slot_state state[VHUF_WS_DEPTH];
  uint64_t got[VHUF_WS_DEPTH]; /* bytes read into the slot so far */
  struct iocb cb[VHUF_WS_DEPTH];
  int in_flight;
  int read_error; /* errno of a failed read */

  /* header */
  uint64_t count, index_off, data_off, checksum;
  uint32_t *index;
  struct vhuf_hash64_state hash;

  uint64_t t_start_ns, t_read_done_ns, install_ns, stream_ns;
  uint64_t installed_any;
};

static uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static uint64_t chunk_bytes(const struct vhuf_stream *s, uint64_t k) {
  uint64_t start = k * VHUF_WS_CHUNK;
  return s->file_size - start < VHUF_WS_CHUNK ? s->file_size - start : VHUF_WS_CHUNK;
}

/* Queues the read of what is still missing of chunk k into its slot. */
static int submit(struct vhuf_stream *s, uint64_t k) {
  int slot = (int)(k % VHUF_WS_DEPTH);
  uint64_t done = s->got[slot];
  struct iocb *cb = &s->cb[slot];
  memset(cb, 0, sizeof *cb);
  cb->aio_data = k;
  cb->aio_lio_opcode = IOCB_CMD_PREAD;
  cb->aio_fildes = (uint32_t)s->fd;
  cb->aio_buf = (uint64_t)(uintptr_t)(s->buf[slot] + done);
  cb->aio_nbytes = VHUF_WS_CHUNK - done; /* whole aligned chunk: O_DIRECT needs it; EOF shortens it */
  cb->aio_offset = (int64_t)(k * VHUF_WS_CHUNK + done);
  cb->aio_flags = IOCB_FLAG_RESFD;
  cb->aio_resfd = (uint32_t)s->efd;
  struct iocb *list[1] = {cb};
  long rc;
  do rc = syscall(SYS_io_submit, s->ctx, 1, list);
  while (rc < 0 && errno == EINTR);
  if (rc != 1) return -1;
  s->state[slot] = SLOT_READING;
  s->in_flight++;
  return 0;
}

static int fill_window(struct vhuf_stream *s) {
  while (s->next_submit < s->chunks && s->next_submit < s->next_process + VHUF_WS_DEPTH) {
    uint64_t k = s->next_submit;
    s->got[k % VHUF_WS_DEPTH] = 0;
    if (submit(s, k) != 0) {
      s->read_error = errno ? errno : EIO;
      return -1;
    }
    s->next_submit++;
  }
  return 0;
}

/* Collects finished reads; a short one (not at end of file) is resubmitted for the rest. */
static int harvest(struct vhuf_stream *s) {
  if (s->in_flight == 0) return 0;
  uint64_t n;
  if (read(s->efd, &n, sizeof n) < 0 && errno != EAGAIN) return -1;
  struct io_event ev[VHUF_WS_DEPTH];
  struct timespec zero = {0, 0};
  long got;
  do got = syscall(SYS_io_getevents, s->ctx, 0, VHUF_WS_DEPTH, ev, &zero);
  while (got < 0 && errno == EINTR);
  if (got < 0) return -1;
  for (long i = 0; i < got; i++) {
    uint64_t k = ev[i].data;
    int slot = (int)(k % VHUF_WS_DEPTH);
    s->in_flight--;
    if (ev[i].res < 0) {
      s->read_error = (int)-ev[i].res;
      return -1;
    }
    s->got[slot] += (uint64_t)ev[i].res;
    uint64_t want = chunk_bytes(s, k);
    if (s->got[slot] >= want) {
      s->state[slot] = SLOT_READ;
    } else if (ev[i].res == 0 || s->got[slot] % WS_ALIGN != 0 || submit(s, k) != 0) {
      s->read_error = s->read_error ? s->read_error : EIO; /* file shrank, or unaligned short read */
      return -1;
    }
  }
  return 0;
}

/* Without AIO: one blocking read of the next chunk. */
static int read_sync(struct vhuf_stream *s) {
  uint64_t k = s->next_process;
  int slot = (int)(k % VHUF_WS_DEPTH);
  uint64_t want = chunk_bytes(s, k), got = 0;
  while (got < want) {
    ssize_t r = pread(s->fd, s->buf[slot] + got, VHUF_WS_CHUNK - got, (off_t)(k * VHUF_WS_CHUNK + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      s->read_error = r < 0 ? errno : EIO;
      return -1;
    }
    got += (uint64_t)r;
  }
  s->state[slot] = SLOT_READ;
  return 0;
}

int vhuf_stream_fd(const struct vhuf_handler *h) { return h->stream ? h->stream->efd : -1; }

void vhuf_stream_end(struct vhuf_handler *h) {
  struct vhuf_stream *s = h->stream;
  if (!s) return;
  h->stream = NULL;
  /* io_destroy waits for reads in flight, so the buffers are ours again afterwards. */
  if (s->ctx) syscall(SYS_io_destroy, s->ctx);
  if (s->efd >= 0) close(s->efd);
  if (s->fd >= 0) close(s->fd);
  for (int i = 0; i < VHUF_WS_DEPTH; i++) vhuf_pool_put(s->buf[i]);
  free(s->index);
  free(s);
}

int vhuf_stream_start(struct vhuf_handler *h, char *err, size_t errlen) {
  struct vhuf_stream *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory for the working-set stream");
    return -1;
  }
  s->efd = -1;
  s->t_start_ns = vhuf_now_ns();
  h->stream = s;
  h->ws_installed_through = -1;
  s->fd = open(h->ws_path, O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (s->fd < 0 && errno == EINVAL) s->fd = open(h->ws_path, O_RDONLY | O_CLOEXEC); /* fs without O_DIRECT */
  struct stat st;
  if (s->fd < 0) {
    snprintf(err, errlen, "open %s: %s", h->ws_path, strerror(errno));
    goto fail;
  }
  if (fstat(s->fd, &st) != 0 || st.st_size < WS_ALIGN) {
    snprintf(err, errlen, "%s: too short for a working-set file", h->ws_path);
    goto fail;
  }
  s->file_size = (uint64_t)st.st_size;
  s->chunks = (s->file_size + VHUF_WS_CHUNK - 1) / VHUF_WS_CHUNK;
  for (int i = 0; i < VHUF_WS_DEPTH && (uint64_t)i < s->chunks; i++) {
    if (!(s->buf[i] = vhuf_pool_get())) {
      snprintf(err, errlen, "out of memory for working-set read buffers");
      goto fail;
    }
  }
  /* Asynchronous reads when the kernel gives us an AIO context; blocking ones otherwise. */
  s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->efd < 0 || syscall(SYS_io_setup, VHUF_WS_DEPTH, &s->ctx) != 0) {
    s->ctx = 0;
    if (s->efd >= 0) close(s->efd);
    s->efd = -1;
  } else if (fill_window(s) != 0) {
    snprintf(err, errlen, "%s: cannot queue reads: %s", h->ws_path, strerror(s->read_error));
    goto fail;
  }
  h->ws_installing = 1;
  return 0;
fail:
  vhuf_stream_end(h);
  return -1;
}

/* Copies `pages` pages to dst; skips pages already present; absorbs queued events on EAGAIN.
   Returns 0, -2 if the VMM is gone, or -1 with h->fatal_msg set. */
static int install_run(struct vhuf_handler *h, uint64_t dst, const uint8_t *src, uint64_t pages) {
  uint64_t ps = h->page_size;
  uint64_t done = 0;
  while (done < pages) {
    /* No DONTWAKE: a vCPU already waiting on one of these pages resumes with this copy. */
    struct uffdio_copy c = {.dst = dst + done * ps, .src = (uint64_t)(uintptr_t)(src + done * ps),
                            .len = (pages - done) * ps, .mode = 0};
    atomic_fetch_add_explicit(&h->c.install_ioctls, 1, memory_order_relaxed);
    if (ioctl(h->uffd, UFFDIO_COPY, &c) == 0) {
      atomic_fetch_add_explicit(&h->c.installed_pages, pages - done, memory_order_relaxed);
      return 0;
    }
    int e = errno;
    uint64_t copied = c.copy > 0 ? (uint64_t)c.copy / ps : 0;
    atomic_fetch_add_explicit(&h->c.installed_pages, copied, memory_order_relaxed);
    done += copied;
    if (e == EEXIST) {
      done += 1; /* that page is already there; keep it */
    } else if (e == EAGAIN) {
      atomic_fetch_add_explicit(&h->c.eagain_retries, 1, memory_order_relaxed);
      if (vhuf_absorb_events(h) != 0) return -1;
    } else if (e == ESRCH || e == ENOENT) {
      return -2;
    } else {
      snprintf(h->fatal_msg, sizeof h->fatal_msg, "UFFDIO_COPY of the working set at 0x%llx failed: %s",
               (unsigned long long)(dst + done * ps), strerror(e));
      return -1;
    }
  }
  return 0;
}

/* Checks the header in the first chunk; 0 = usable. */
static int parse_header(struct vhuf_handler *h, struct vhuf_stream *s, const uint8_t *b, uint64_t len, char *err,
                        size_t errlen) {
  const char *why = NULL;
  s->count = rd64(b + 16);
  s->index_off = rd64(b + 32);
  s->data_off = rd64(b + 40);
  s->checksum = rd64(b + 48);
  if (len < HEADER_BYTES || memcmp(b, "VHUFWS1\0", 8) != 0) why = "bad magic";
  else if (rd32(b + 8) != 1) why = "unknown version";
  else if (rd32(b + 12) != h->page_size) why = "page size differs from the handshake's";
  else if (rd64(b + 24) != h->mem_size) why = "recorded for a memory file of another size";
  else if (s->count > h->file_pages || s->index_off < HEADER_BYTES || s->data_off > s->file_size ||
           s->data_off % WS_ALIGN || s->data_off < s->index_off + s->count * 4 ||
           s->data_off + s->count * h->page_size != s->file_size)
    why = "inconsistent layout";
  if (why) {
    snprintf(err, errlen, "%s: %s", h->ws_path, why);
    return -1;
  }
  s->index = malloc(s->count * 4 + 4);
  if (!s->index) {
    snprintf(err, errlen, "out of memory for a working-set index of %llu pages", (unsigned long long)s->count);
    return -1;
  }
  vhuf_hash64_init(&s->hash);
  return 0;
}

static int index_valid(const struct vhuf_handler *h, const struct vhuf_stream *s) {
  for (uint64_t i = 0; i < s->count; i++)
    if (s->index[i] >= h->file_pages || (i > 0 && s->index[i] <= s->index[i - 1])) return 0;
  return 1;
}

/* Installs set pages [i0, i1) whose contents start at src; runs stop at region edges, and pages
   the balloon removed are skipped (they must fault in as zeroes). */
static int install_pages(struct vhuf_handler *h, const struct vhuf_stream *s, uint64_t i0, uint64_t i1,
                         const uint8_t *src) {
  uint64_t ps = h->page_size;
  for (uint64_t i = i0; i < i1;) {
    uint32_t first = s->index[i];
    uint64_t dst = vhuf_file_page_to_host(h, first);
    uint64_t j = i + 1;
    while (j < i1 && s->index[j] == first + (j - i) && vhuf_file_page_to_host(h, first + (j - i)) == dst + (j - i) * ps)
      j++;
    if (dst == 0) { /* not covered by any region of this VMM: nothing to install */
      i = j;
      continue;
    }
    uint64_t k = i;
    while (k < j) {
      while (k < j && h->removed[first + (k - i)]) k++;
      uint64_t from = k;
      while (k < j && !h->removed[first + (k - i)]) k++;
      if (k > from) {
        int rc = install_run(h, dst + (from - i) * ps, src + (from - i0) * ps, k - from);
        if (rc != 0) return rc;
      }
    }
    i = j;
  }
  return 0;
}

/* Hashes and installs chunk k (already read). */
static enum vhuf_stream_status process(struct vhuf_handler *h, struct vhuf_stream *s, uint64_t k, char *err,
                                       size_t errlen) {
  const uint8_t *b = s->buf[k % VHUF_WS_DEPTH];
  uint64_t start = k * VHUF_WS_CHUNK, end = start + chunk_bytes(s, k);
  if (k == 0 && parse_header(h, s, b, end, err, errlen) != 0) return VHUF_STREAM_UNUSABLE;
  uint64_t from = start > s->index_off ? start : s->index_off;
  if (end > from) vhuf_hash64_update(&s->hash, b + (from - start), end - from);

  uint64_t index_end = s->index_off + s->count * 4;
  if (!h->ws_index_known) {
    if (end > from && from < index_end) {
      uint64_t to = end < index_end ? end : index_end;
      memcpy((uint8_t *)s->index + (from - s->index_off), b + (from - start), to - from);
    }
    if (end < index_end) return VHUF_STREAM_PROGRESS;
    if (!index_valid(h, s)) {
      snprintf(err, errlen, "%s: page index out of range or unsorted", h->ws_path);
      return VHUF_STREAM_UNUSABLE;
    }
    for (uint64_t i = 0; i < s->count; i++) h->in_ws[s->index[i]] = 1;
    h->ws_index_known = 1;
  }

  if (end > s->data_off) {
    uint64_t d0 = start > s->data_off ? start : s->data_off;
    uint64_t i0 = (d0 - s->data_off) / h->page_size, i1 = (end - s->data_off) / h->page_size;
    if (i1 > i0) {
      int rc = install_pages(h, s, i0, i1, b + (d0 - start));
      if (rc == -2) return VHUF_STREAM_VMM_GONE;
      if (rc != 0) return VHUF_STREAM_FATAL;
      s->installed_any = 1;
      h->ws_installed_through = s->index[i1 - 1];
    }
  }
  return VHUF_STREAM_PROGRESS;
}

enum vhuf_stream_status vhuf_stream_step(struct vhuf_handler *h, char *err, size_t errlen) {
  struct vhuf_stream *s = h->stream;
  if (!s) return VHUF_STREAM_DONE;
  uint64_t k = s->next_process;
  int slot = (int)(k % VHUF_WS_DEPTH);
  if (s->ctx ? harvest(s) : (s->state[slot] == SLOT_READ ? 0 : read_sync(s))) {
    snprintf(err, errlen, "%s: read failed: %s", h->ws_path, strerror(s->read_error ? s->read_error : errno));
    if (!s->installed_any) return VHUF_STREAM_UNUSABLE;
    snprintf(h->fatal_msg, sizeof h->fatal_msg, "working set %s", err);
    h->ws_corrupt = 1;
    return VHUF_STREAM_FATAL;
  }
  if (s->state[slot] != SLOT_READ) return VHUF_STREAM_IDLE;
  if (k + 1 == s->chunks) s->t_read_done_ns = vhuf_now_ns();
  uint64_t t0 = vhuf_now_ns();
  enum vhuf_stream_status st = process(h, s, k, err, errlen);
  s->install_ns += vhuf_now_ns() - t0;
  if (st != VHUF_STREAM_PROGRESS) return st;
  s->state[slot] = SLOT_IDLE;
  s->next_process++;
  if (s->ctx && fill_window(s) != 0) {
    snprintf(err, errlen, "%s: cannot queue reads: %s", h->ws_path, strerror(s->read_error));
    if (!s->installed_any) return VHUF_STREAM_UNUSABLE;
    snprintf(h->fatal_msg, sizeof h->fatal_msg, "working set %s", err);
    h->ws_corrupt = 1;
    return VHUF_STREAM_FATAL;
  }
  if (s->next_process < s->chunks) return VHUF_STREAM_PROGRESS;

  s->stream_ns = vhuf_now_ns() - s->t_start_ns;
  if (vhuf_hash64_final(&s->hash) != s->checksum) {
    if (!s->installed_any) {
      snprintf(err, errlen, "%s: checksum mismatch", h->ws_path);
      return VHUF_STREAM_UNUSABLE;
    }
    snprintf(h->fatal_msg, sizeof h->fatal_msg,
             "working set %.300s: checksum mismatch after its pages were installed; the VMM is killed rather than run on "
             "memory that did not verify",
             h->ws_path);
    h->ws_corrupt = 1;
    return VHUF_STREAM_FATAL;
  }
  return VHUF_STREAM_DONE;
}

void vhuf_stream_report(const struct vhuf_handler *h, struct vhuf_event *ev) {
  const struct vhuf_stream *s = h->stream;
  if (!s) return;
  ev->fetch_us = (double)((s->t_read_done_ns ? s->t_read_done_ns : vhuf_now_ns()) - s->t_start_ns) / 1000.0;
  ev->install_us = (double)s->install_ns / 1000.0;
  ev->stream_us = (double)(s->stream_ns ? s->stream_ns : vhuf_now_ns() - s->t_start_ns) / 1000.0;
  ev->installed_pages = atomic_load(&h->c.installed_pages);
}
