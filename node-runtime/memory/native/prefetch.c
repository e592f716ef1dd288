/*
 * REAP prefetch, streamed: the working-set file arrives front to back in VHUF_WS_CHUNK pieces
 * (ws-fetch.c: O_DIRECT, several reads in flight, shared with other loads of the same file in
 * flight in this process), and each chunk is installed as soon as it and every chunk before it
 * have arrived. The VMM is not held back meanwhile: the fault thread answers faults first and
 * installs chunks between them (FaaSnap's concurrent paging, in file order), so reading and
 * installing overlap each other and the guest. The checksum is computed after the last chunk is
 * in, chunk by chunk between faults: hashing costs as much CPU as installing, and on a busy host
 * that CPU is better spent getting the guest its pages first.
 *
 * Pages go in with UFFDIO_COPY without DONTWAKE: a vCPU already waiting on a page of the set is
 * woken by the copy that installs it, so the fault thread simply leaves such faults to the stream
 * (serve.c). Faults that arrive before the index is known are held until it is.
 *
 * The checksum covers the index and data (the file layout is defined in working-set-file.ts):
 *   0 magic "VHUFWS1\0" | 8 u32 version=1 | 12 u32 page size | 16 u64 page count
 *   24 u64 memory-file size | 32 u64 index offset | 40 u64 data offset | 48 u64 checksum
 * index: u32 file-page numbers, each once, in install order (the order the recorded invocation first
 * touched them; older files are ascending); data: the pages in index order. Installing in first-touch
 * order gets the guest the pages it waits on first early in the stream.
 * Header and index are checked before anything is installed (an unusable file leaves the load
 * lazy); the checksum is compared once every chunk is installed, by which time the guest may have
 * seen installed pages, so a mismatch then is fatal: the VMM is killed, never left running on
 * memory that did not verify.
 */
#define _GNU_SOURCE
#include "handler.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define WS_ALIGN 4096
#define HEADER_BYTES 64

struct vhuf_stream {
  struct vhuf_ws_fetch *fetch;
  int notify_fd; /* written by the fetch when chunks arrive */
  uint64_t file_size;
  uint64_t chunks;
  uint64_t next_process; /* next chunk to install */
  uint64_t next_verify;  /* next chunk to checksum, once every chunk is installed */

  /* header */
  uint64_t count, index_off, data_off, checksum;
  uint32_t *index;

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

int vhuf_stream_fds(const struct vhuf_handler *h, int fds[2]) {
  const struct vhuf_stream *s = h->stream;
  if (!s) return 0;
  int n = 0;
  fds[n++] = s->notify_fd;
  if (vhuf_fetch_fd(s->fetch) >= 0) fds[n++] = vhuf_fetch_fd(s->fetch);
  return n;
}

int vhuf_stream_sync(const struct vhuf_handler *h) { return h->stream && vhuf_fetch_fd(h->stream->fetch) < 0; }

void vhuf_stream_end(struct vhuf_handler *h) {
  struct vhuf_stream *s = h->stream;
  if (!s) return;
  h->stream = NULL;
  if (s->fetch) vhuf_fetch_leave(s->fetch, s->notify_fd);
  if (s->notify_fd >= 0) close(s->notify_fd);
  free(s->index);
  free(s);
}

int vhuf_stream_start(struct vhuf_handler *h, char *err, size_t errlen) {
  struct vhuf_stream *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory for the working-set stream");
    return -1;
  }
  s->t_start_ns = vhuf_now_ns();
  h->stream = s;
  s->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->notify_fd < 0) {
    snprintf(err, errlen, "eventfd: %s", strerror(errno));
    goto fail;
  }
  int joined = 0;
  if (!(s->fetch = vhuf_fetch_join(h->ws_path, s->notify_fd, &joined, err, errlen))) goto fail;
  atomic_store(&h->c.joined_fetch, (uint64_t)joined);
  s->file_size = vhuf_fetch_size(s->fetch);
  s->chunks = vhuf_fetch_chunks(s->fetch);
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
  return 0;
}

/* Every page in range and listed once; marks them in in_ws (cleared again if not). */
static int index_valid(struct vhuf_handler *h, const struct vhuf_stream *s) {
  for (uint64_t i = 0; i < s->count; i++) {
    if (s->index[i] >= h->file_pages || h->in_ws[s->index[i]]) {
      memset(h->in_ws, 0, h->file_pages);
      return 0;
    }
    h->in_ws[s->index[i]] = VHUF_WS_PENDING;
  }
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

/* Installs the pages of chunk k (already read); chunk 0 brings the header, the first chunks the index. */
static enum vhuf_stream_status process(struct vhuf_handler *h, struct vhuf_stream *s, uint64_t k,
                                       const uint8_t *b, uint64_t len, char *err, size_t errlen) {
  uint64_t start = k * VHUF_WS_CHUNK, end = start + len;
  if (k == 0 && parse_header(h, s, b, end, err, errlen) != 0) return VHUF_STREAM_UNUSABLE;
  uint64_t from = start > s->index_off ? start : s->index_off;

  uint64_t index_end = s->index_off + s->count * 4;
  if (!h->ws_index_known) {
    if (end > from && from < index_end) {
      uint64_t to = end < index_end ? end : index_end;
      memcpy((uint8_t *)s->index + (from - s->index_off), b + (from - start), to - from);
    }
    if (end < index_end) return VHUF_STREAM_PROGRESS;
    if (!index_valid(h, s)) {
      snprintf(err, errlen, "%s: page index out of range or lists a page twice", h->ws_path);
      return VHUF_STREAM_UNUSABLE;
    }
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
      for (uint64_t i = i0; i < i1; i++) h->in_ws[s->index[i]] = VHUF_WS_INSTALLED;
    }
  }
  return VHUF_STREAM_PROGRESS;
}

/* After the last chunk is installed: one chunk of the checksum per step (off the guest's path, and
   faults are still served between steps); the last step compares. */
static enum vhuf_stream_status verify_step(struct vhuf_handler *h, struct vhuf_stream *s, char *err, size_t errlen) {
  if (s->next_verify < s->chunks) {
    uint64_t len = 0;
    int error = 0;
    const uint8_t *b = vhuf_fetch_chunk(s->fetch, s->next_verify, &len, &error);
    if (b) vhuf_fetch_hash_chunk(s->fetch, s->next_verify, s->index_off, b, len);
    if (++s->next_verify < s->chunks) return VHUF_STREAM_PROGRESS;
  }
  s->stream_ns = vhuf_now_ns() - s->t_start_ns;
  if (vhuf_fetch_hash(s->fetch) != s->checksum) {
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

enum vhuf_stream_status vhuf_stream_step(struct vhuf_handler *h, char *err, size_t errlen) {
  struct vhuf_stream *s = h->stream;
  if (!s) return VHUF_STREAM_DONE;
  if (s->next_process == s->chunks) return verify_step(h, s, err, errlen);
  uint64_t n;
  if (read(s->notify_fd, &n, sizeof n) < 0) { /* EAGAIN: nothing new was announced */ }
  vhuf_fetch_poll(s->fetch);
  uint64_t k = s->next_process, len = 0;
  int error = 0;
  const uint8_t *b = vhuf_fetch_chunk(s->fetch, k, &len, &error);
  if (error) {
    snprintf(err, errlen, "%s: read failed: %s", h->ws_path, strerror(error));
    if (!s->installed_any) return VHUF_STREAM_UNUSABLE;
    snprintf(h->fatal_msg, sizeof h->fatal_msg, "working set %s", err);
    h->ws_corrupt = 1;
    return VHUF_STREAM_FATAL;
  }
  if (!b) return VHUF_STREAM_IDLE;
  if (k + 1 == s->chunks) s->t_read_done_ns = vhuf_now_ns();
  uint64_t t0 = vhuf_now_ns();
  enum vhuf_stream_status st = process(h, s, k, b, len, err, errlen);
  s->install_ns += vhuf_now_ns() - t0;
  if (st != VHUF_STREAM_PROGRESS) return st;
  s->next_process++;
  return VHUF_STREAM_PROGRESS;
}

void vhuf_stream_report(const struct vhuf_handler *h, struct vhuf_event *ev) {
  const struct vhuf_stream *s = h->stream;
  if (!s) return;
  ev->fetch_us = (double)((s->t_read_done_ns ? s->t_read_done_ns : vhuf_now_ns()) - s->t_start_ns) / 1000.0;
  ev->install_us = (double)s->install_ns / 1000.0;
  ev->stream_us = (double)(s->stream_ns ? s->stream_ns : vhuf_now_ns() - s->t_start_ns) / 1000.0;
  ev->installed_pages = atomic_load(&h->c.installed_pages);
}
