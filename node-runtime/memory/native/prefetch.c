/*
 * REAP prefetch: fetch the working-set file in one sequential O_DIRECT read (FetchState), then
 * install it into the VMM with one UFFDIO_COPY per contiguous run of pages, each with
 * UFFDIO_COPY_MODE_DONTWAKE, and wake any vCPU already waiting with one UFFDIO_WAKE per region
 * (InstallWS). The file layout is defined in working-set-file.ts; header fields used here:
 *   0 magic "VHUFWS1\0" | 8 u32 version=1 | 12 u32 page size | 16 u64 page count
 *   24 u64 memory-file size | 32 u64 index offset | 40 u64 data offset | 48 u64 checksum
 * index: u32 file-page numbers, strictly ascending; data: the pages in index order.
 * The checksum (vhuf_hash64) covers everything from the index offset to the end of the data.
 */
#define _GNU_SOURCE
#include "handler.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define WS_ALIGN 4096

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

/* Copies `pages` pages starting at dst; skips pages already present; absorbs queued events on
   EAGAIN. Returns 0, -2 if the VMM is gone, or -1 with err set. */
static int install_run(struct vhuf_handler *h, uint64_t dst, const uint8_t *src, uint64_t pages, char *err,
                       size_t errlen) {
  uint64_t ps = h->page_size;
  uint64_t done = 0;
  while (done < pages) {
    struct uffdio_copy c = {.dst = dst + done * ps, .src = (uint64_t)(uintptr_t)(src + done * ps),
                            .len = (pages - done) * ps, .mode = UFFDIO_COPY_MODE_DONTWAKE};
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
      done += 1; /* that page is already there (the VMM faulted it in first); keep it */
    } else if (e == EAGAIN) {
      atomic_fetch_add_explicit(&h->c.eagain_retries, 1, memory_order_relaxed);
      if (vhuf_absorb_events(h) != 0) {
        snprintf(err, errlen, "%s", h->fatal_msg);
        return -1;
      }
    } else if (e == ESRCH || e == ENOENT) {
      snprintf(err, errlen, "the VMM exited while its working set was being installed");
      return -2;
    } else {
      snprintf(err, errlen, "UFFDIO_COPY of the working set at 0x%llx failed: %s",
               (unsigned long long)(dst + done * ps), strerror(e));
      return -1;
    }
  }
  return 0;
}

int vhuf_prefetch(struct vhuf_handler *h, double *fetch_us, double *install_us, char *err, size_t errlen) {
  uint64_t t0 = vhuf_now_ns();
  int fd = open(h->ws_path, O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0 && errno == EINVAL) fd = open(h->ws_path, O_RDONLY | O_CLOEXEC); /* fs without O_DIRECT */
  if (fd < 0) {
    snprintf(err, errlen, "open %s: %s", h->ws_path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < WS_ALIGN) {
    snprintf(err, errlen, "%s: too short for a working-set file", h->ws_path);
    close(fd);
    return -1;
  }
  size_t cap = ((size_t)st.st_size + WS_ALIGN - 1) & ~(size_t)(WS_ALIGN - 1);
  uint8_t *buf = NULL;
  if (posix_memalign((void **)&buf, WS_ALIGN, cap) != 0) {
    snprintf(err, errlen, "out of memory for a %zu-byte working set", cap);
    close(fd);
    return -1;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) { /* one read; loops only if the kernel returns short */
    ssize_t n = pread(fd, buf + got, cap - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  if (got < (size_t)st.st_size) {
    snprintf(err, errlen, "%s: read %zu of %lld bytes", h->ws_path, got, (long long)st.st_size);
    free(buf);
    return -1;
  }

  int bad = 0;
  const char *why = "";
  uint64_t count = rd64(buf + 16), index_off = rd64(buf + 32), data_off = rd64(buf + 40);
  if (memcmp(buf, "VHUFWS1\0", 8) != 0) bad = 1, why = "bad magic";
  else if (rd32(buf + 8) != 1) bad = 1, why = "unknown version";
  else if (rd32(buf + 12) != h->page_size) bad = 1, why = "page size differs from the handshake's";
  else if (rd64(buf + 24) != h->mem_size) bad = 1, why = "recorded for a memory file of another size";
  else if (index_off < 64 || data_off % WS_ALIGN || data_off < index_off + count * 4 ||
           data_off + count * h->page_size != got)
    bad = 1, why = "inconsistent layout";
  else if (vhuf_hash64(buf + index_off, got - index_off) != rd64(buf + 48))
    bad = 1, why = "checksum mismatch";
  const uint8_t *idx = buf + index_off;
  for (uint64_t i = 0; !bad && i < count; i++) {
    uint32_t p = rd32(idx + i * 4);
    if (p >= h->file_pages || (i > 0 && p <= rd32(idx + (i - 1) * 4))) bad = 1, why = "page index out of range or unsorted";
  }
  if (bad) {
    snprintf(err, errlen, "%s: %s", h->ws_path, why);
    free(buf);
    return -1;
  }
  for (uint64_t i = 0; i < count; i++) h->in_ws[rd32(idx + i * 4)] = 1;
  uint64_t t1 = vhuf_now_ns();
  *fetch_us = (double)(t1 - t0) / 1000.0;

  const uint8_t *data = buf + data_off;
  uint64_t ps = h->page_size;
  int rc = 0;
  for (uint64_t i = 0; i < count && rc == 0;) {
    uint32_t first = rd32(idx + i * 4);
    uint64_t dst = vhuf_file_page_to_host(h, first);
    uint64_t j = i + 1;
    /* Extend the run while pages stay consecutive in the file and in the same VMM region. */
    while (j < count && rd32(idx + j * 4) == first + (j - i) && vhuf_file_page_to_host(h, first + (j - i)) == dst + (j - i) * ps)
      j++;
    if (dst == 0) {
      i = j; /* page not covered by any region of this VMM: nothing to install */
      continue;
    }
    /* Pages the balloon removed since restore must fault in as zeroes, not file contents. */
    uint64_t k = i;
    while (k < j && rc == 0) {
      while (k < j && h->removed[first + (k - i)]) k++;
      uint64_t s = k;
      while (k < j && !h->removed[first + (k - i)]) k++;
      if (k > s) rc = install_run(h, dst + (s - i) * ps, data + s * ps, k - s, err, errlen);
    }
    i = j;
  }
  for (int r = 0; r < h->region_count; r++) {
    struct uffdio_range w = {.start = h->regions[r].host_base, .len = h->regions[r].size};
    ioctl(h->uffd, UFFDIO_WAKE, &w);
  }
  free(buf);
  *install_us = (double)(vhuf_now_ns() - t1) / 1000.0;
  if (rc == -2) return -2;
  if (rc != 0) {
    if (!h->fatal_msg[0]) snprintf(h->fatal_msg, sizeof h->fatal_msg, "%s", err);
    return -1;
  }
  return 0;
}
