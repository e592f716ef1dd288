/*
 * The fault-serving thread: answers every page fault of the VMM with UFFDIO_COPY from the memory
 * file (or UFFDIO_ZEROPAGE for pages the balloon removed) and, in prefetch mode, streams the
 * working set in between faults (prefetch.c): queued faults are served first, then one chunk of
 * the set is installed, then the uffd is looked at again. A fault on a page of the set that has
 * not arrived yet is left to the stream, whose copy wakes it. Runs until the VMM exits, close()
 * is called, or a fatal error occurs; on a fatal error the VMM is killed so it cannot hang on a
 * fault nobody will answer.
 */
#define _GNU_SOURCE
#include "handler.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SERVED 0
#define DEFER 1
#define FATAL 2
#define VMM_GONE 3
#define PARK 4           /* prefetch: the set's index is not read yet; decide once it is */
#define LEFT_TO_STREAM 5 /* prefetch: the page's chunk is on its way; its copy wakes the vCPU */

uint64_t vhuf_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

uint64_t vhuf_file_page_to_host(const struct vhuf_handler *h, uint64_t file_page) {
  uint64_t off = file_page * h->page_size;
  for (int i = 0; i < h->region_count; i++) {
    const struct vhuf_region *r = &h->regions[i];
    if (off >= r->offset && off < r->offset + r->size) return r->host_base + (off - r->offset);
  }
  return 0;
}

static int region_of(const struct vhuf_handler *h, uint64_t addr) {
  for (int i = 0; i < h->region_count; i++) {
    const struct vhuf_region *r = &h->regions[i];
    if (addr >= r->host_base && addr < r->host_base + r->size) return i;
  }
  return -1;
}

static void wake_range(struct vhuf_handler *h, uint64_t start, uint64_t len) {
  struct uffdio_range w = {.start = start, .len = len};
  ioctl(h->uffd, UFFDIO_WAKE, &w);
}

/* The VMM's memory is gone once it exited; ioctls then fail with ESRCH (or ENOENT on old kernels). */
static int vmm_gone_errno(int e) { return e == ESRCH || e == ENOENT; }

static int serve_fault(struct vhuf_handler *h, uint64_t addr) {
  uint64_t t0 = vhuf_now_ns();
  uint64_t ps = h->page_size;
  uint64_t dst = addr & ~(ps - 1);
  int ri = region_of(h, dst);
  if (ri < 0) {
    snprintf(h->fatal_msg, sizeof h->fatal_msg, "page fault at 0x%llx lies outside every region of the handshake",
             (unsigned long long)addr);
    return FATAL;
  }
  const struct vhuf_region *r = &h->regions[ri];
  uint64_t page = (r->offset + (dst - r->host_base)) / ps;
  if (h->mode == VHUF_PREFETCH && h->stream && !h->ws_index_known) {
    atomic_fetch_add_explicit(&h->c.parked_faults, 1, memory_order_relaxed);
    return PARK;
  }
  /* Account before the ioctl: it wakes the vCPU, and whoever reads stats or the recorded
     order after the guest moved on must already see this fault. */
  if (h->mode == VHUF_RECORD) {
    if (atomic_load_explicit(&h->recording, memory_order_relaxed) && !h->seen[page]) {
      h->seen[page] = 1;
      uint64_t n = atomic_load_explicit(&h->order_len, memory_order_relaxed);
      h->order[n] = (uint32_t)page;
      atomic_store_explicit(&h->order_len, n + 1, memory_order_release);
    }
  } else if (h->mode == VHUF_PREFETCH) {
    if (h->in_ws[page]) {
      atomic_fetch_add_explicit(&h->c.ws_faults, 1, memory_order_relaxed);
      /* Not installed yet: the stream's copy will wake the vCPU when it gets there. */
      if (h->ws_installing && !h->removed[page] && h->in_ws[page] == VHUF_WS_PENDING) return LEFT_TO_STREAM;
    } else if (!h->seen[page]) {
      h->seen[page] = 1;
      atomic_fetch_add_explicit(&h->c.unique_pages, 1, memory_order_relaxed);
    }
  }
  int rc;
  int zero = h->removed[page];
  atomic_fetch_add_explicit(zero ? &h->c.zero_pages : &h->c.copied_pages, 1, memory_order_relaxed);
  if (zero) {
    /* Balloon gave this page back: its old contents are gone, the guest expects zeroes. */
    struct uffdio_zeropage z = {.range = {.start = dst, .len = ps}, .mode = 0};
    rc = ioctl(h->uffd, UFFDIO_ZEROPAGE, &z);
    if (rc == 0) h->removed[page] = 0;
  } else {
    struct uffdio_copy c = {.dst = dst, .src = (uint64_t)(uintptr_t)(h->mem + page * ps), .len = ps, .mode = 0};
    rc = ioctl(h->uffd, UFFDIO_COPY, &c);
  }
  if (rc != 0) {
    int e = errno;
    atomic_fetch_sub_explicit(zero ? &h->c.zero_pages : &h->c.copied_pages, 1, memory_order_relaxed);
    if (e == EEXIST) {
      /* Already present (a second vCPU faulted on it, or prefetch won the race): the faulting
         thread still sleeps until someone wakes it. */
      wake_range(h, dst, ps);
      atomic_fetch_add_explicit(&h->c.eexist, 1, memory_order_relaxed);
    } else if (e == EAGAIN) {
      /* The VMM's mappings changed (a REMOVE event is queued); retry after reading it. */
      atomic_fetch_add_explicit(&h->c.eagain_retries, 1, memory_order_relaxed);
      return DEFER;
    } else if (vmm_gone_errno(e)) {
      return VMM_GONE;
    } else {
      snprintf(h->fatal_msg, sizeof h->fatal_msg, "%s at 0x%llx failed: %s",
               zero ? "UFFDIO_ZEROPAGE" : "UFFDIO_COPY", (unsigned long long)dst, strerror(e));
      return FATAL;
    }
  }
  atomic_fetch_add_explicit(&h->c.serve_ns, vhuf_now_ns() - t0, memory_order_relaxed);
  return SERVED;
}

static void apply_remove(struct vhuf_handler *h, uint64_t start, uint64_t end) {
  atomic_fetch_add_explicit(&h->c.remove_events, 1, memory_order_relaxed);
  uint64_t ps = h->page_size;
  for (uint64_t a = start & ~(ps - 1); a < end; a += ps) {
    int ri = region_of(h, a);
    if (ri < 0) continue;
    const struct vhuf_region *r = &h->regions[ri];
    h->removed[(r->offset + (a - r->host_base)) / ps] = 1;
    atomic_fetch_add_explicit(&h->c.removed_pages, 1, memory_order_relaxed);
  }
}

/* Page faults that could not be served yet (EAGAIN), kept in arrival order. */
struct pending {
  uint64_t *addr;
  size_t len, cap;
};

static int pending_push(struct pending *p, uint64_t a) {
  if (p->len == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 256;
    uint64_t *n = realloc(p->addr, cap * sizeof *n);
    if (!n) return -1;
    p->addr = n;
    p->cap = cap;
  }
  p->addr[p->len++] = a;
  return 0;
}

/* Reads every queued uffd message. Faults go to `faults`; REMOVE events are applied at once.
   Returns -1 on a read error other than "queue empty". */
static int read_events(struct vhuf_handler *h, struct pending *faults) {
  struct uffd_msg msgs[64];
  for (;;) {
    ssize_t n = read(h->uffd, msgs, sizeof msgs);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      snprintf(h->fatal_msg, sizeof h->fatal_msg, "read(userfaultfd) failed: %s", strerror(errno));
      return -1;
    }
    size_t k = (size_t)n / sizeof msgs[0];
    for (size_t i = 0; i < k; i++) {
      const struct uffd_msg *m = &msgs[i];
      if (m->event == UFFD_EVENT_PAGEFAULT) {
        atomic_fetch_add_explicit(&h->c.faults, 1, memory_order_relaxed);
        if (pending_push(faults, m->arg.pagefault.address) != 0) {
          snprintf(h->fatal_msg, sizeof h->fatal_msg, "out of memory queueing page faults");
          return -1;
        }
      } else if (m->event == UFFD_EVENT_REMOVE) {
        apply_remove(h, m->arg.remove.start, m->arg.remove.end);
      }
      /* FORK/REMAP/UNMAP are not requested by Firecracker (only EVENT_REMOVE); ignore. */
    }
    if (k < 64) return 0;
  }
}

/* Used by the prefetch installer when UFFDIO_COPY returns EAGAIN: absorb queued events. */
int vhuf_absorb_events(struct vhuf_handler *h) { return read_events(h, h->queued_faults); }

static int append(struct pending *to, struct pending *from) {
  for (size_t i = 0; i < from->len; i++)
    if (pending_push(to, from->addr[i]) != 0) return -1;
  from->len = 0;
  return 0;
}

static void wake_all(struct vhuf_handler *h) {
  for (int r = 0; r < h->region_count; r++) wake_range(h, h->regions[r].host_base, h->regions[r].size);
}

/* The set cannot be used (nothing of it was installed): serve everything lazily from now on. */
static void working_set_unusable(struct vhuf_handler *h, const char *why) {
  vhuf_stream_end(h);
  h->ws_installing = 0;
  if (h->ws_index_known) memset(h->in_ws, 0, h->file_pages);
  h->ws_index_known = 0;
  wake_all(h); /* faults left to the stream fault again and are served lazily */
  vhuf_post_error(h, VHUF_EV_WARNING, "working set not used, serving lazily: %s", why);
  struct vhuf_event done = {.kind = VHUF_EV_INSTALLED};
  vhuf_post(h, &done);
}

static void fail(struct vhuf_handler *h, const char *msg) {
  int pid = h->vmm_pid > 0 ? h->vmm_pid : h->peer_pid;
  struct vhuf_event ev = {.kind = VHUF_EV_FAILED, .error = 1, .working_set_bad = h->ws_corrupt};
  if (pid > 0 && kill(pid, SIGKILL) == 0) ev.killed_pid = pid;
  ev.message = strdup(msg);
  ev.message_len = ev.message ? strlen(ev.message) : 0;
  vhuf_post(h, &ev);
}

static void exited(struct vhuf_handler *h, const char *why) {
  struct vhuf_event ev = {.kind = VHUF_EV_EXITED};
  ev.message = strdup(why);
  ev.message_len = ev.message ? strlen(ev.message) : 0;
  vhuf_post(h, &ev);
}

void *vhuf_serve_main(void *arg) {
  struct vhuf_handler *h = arg;
  if (h->cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(h->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  if (h->rt_priority > 0) {
    struct sched_param sp = {.sched_priority = h->rt_priority};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
      vhuf_post_error(h, VHUF_EV_WARNING, "cannot run the fault thread SCHED_FIFO %d; running at normal priority",
                      h->rt_priority);
  }
  struct pending faults = {0}, retry = {0}, parked = {0};
  h->queued_faults = &faults;

  struct vhuf_event serving = {.kind = VHUF_EV_SERVING};
  vhuf_post(h, &serving);
  if (h->mode == VHUF_PREFETCH) {
    char err[512] = {0};
    if (vhuf_stream_start(h, err, sizeof err) != 0) working_set_unusable(h, err);
  }

  for (;;) {
    /* Faults first, in order; EAGAIN ones wait for the next read, early ones for the index. */
    for (size_t i = 0; i < faults.len; i++) {
      int r = serve_fault(h, faults.addr[i]);
      if (r == DEFER || r == PARK) {
        if (pending_push(r == PARK ? &parked : &retry, faults.addr[i]) != 0) {
          snprintf(h->fatal_msg, sizeof h->fatal_msg, "out of memory deferring page faults");
          goto fatal;
        }
      } else if (r == FATAL) {
        goto fatal;
      } else if (r == VMM_GONE) {
        exited(h, "vmm-exited");
        goto out;
      }
    }
    faults.len = 0;
    struct pending t = faults;
    faults = retry;
    retry = t;
    h->queued_faults = &faults;

    /* Then one chunk of the working set, if its read is done. */
    int busy = 0;
    if (h->stream) {
      char err[512] = {0};
      enum vhuf_stream_status st = vhuf_stream_step(h, err, sizeof err);
      if (st == VHUF_STREAM_PROGRESS) {
        busy = 1;
      } else if (st == VHUF_STREAM_DONE) {
        struct vhuf_event done = {.kind = VHUF_EV_INSTALLED};
        vhuf_stream_report(h, &done);
        vhuf_stream_end(h);
        h->ws_installing = 0;
        wake_all(h); /* a fault on a set page the balloon removed meanwhile faults again */
        vhuf_post(h, &done);
      } else if (st == VHUF_STREAM_UNUSABLE) {
        working_set_unusable(h, err);
      } else if (st == VHUF_STREAM_FATAL) {
        goto fatal;
      } else if (st == VHUF_STREAM_VMM_GONE) {
        exited(h, "vmm-exited");
        goto out;
      }
      if (parked.len && (!h->stream || h->ws_index_known)) {
        if (append(&faults, &parked) != 0) {
          snprintf(h->fatal_msg, sizeof h->fatal_msg, "out of memory queueing page faults");
          goto fatal;
        }
        busy = 1;
      }
      if (vhuf_stream_sync(h)) busy = 1; /* synchronous reads: always work to do */
    }

    int sfd[2] = {-1, -1};
    int nsfd = vhuf_stream_fds(h, sfd);
    struct pollfd p[4] = {{.fd = h->uffd, .events = POLLIN}, {.fd = h->stop_fd, .events = POLLIN},
                          {.fd = sfd[0], .events = POLLIN}, {.fd = sfd[1], .events = POLLIN}};
    int n = poll(p, (nfds_t)(2 + nsfd), busy ? 0 : faults.len ? 1 : -1);
    if (n < 0 && errno != EINTR) {
      snprintf(h->fatal_msg, sizeof h->fatal_msg, "poll failed: %s", strerror(errno));
      goto fatal;
    }
    if (p[1].revents) {
      exited(h, atomic_load(&h->vmm_exited) && !atomic_load(&h->stopping) ? "vmm-exited" : "closed");
      goto out;
    }
    if (p[0].revents & POLLIN) {
      if (read_events(h, &faults) != 0) goto fatal;
    } else if (p[0].revents & (POLLERR | POLLHUP)) {
      exited(h, "userfaultfd-closed");
      goto out;
    }
  }

fatal:
  fail(h, h->fatal_msg);
out:
  vhuf_stream_end(h);
  free(faults.addr);
  free(retry.addr);
  free(parked.addr);
  return NULL;
}

void *vhuf_watch_main(void *arg) {
  struct vhuf_handler *h = arg;
  struct pollfd p[2] = {{.fd = h->pidfd, .events = POLLIN}, {.fd = h->stop_fd, .events = POLLIN}};
  while (poll(p, 2, -1) < 0 && errno == EINTR) {
  }
  if (p[0].revents && !p[1].revents) {
    atomic_store(&h->vmm_exited, 1);
    uint64_t one = 1;
    if (write(h->stop_fd, &one, sizeof one) < 0) { /* eventfd write cannot fail short of overflow */ }
  }
  return NULL;
}

void vhuf_post_error(struct vhuf_handler *h, enum vhuf_event_kind kind, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  struct vhuf_event ev = {.kind = kind, .error = 1, .peer_pid = h->peer_pid};
  ev.message = strdup(buf);
  ev.message_len = ev.message ? strlen(ev.message) : 0;
  vhuf_post(h, &ev);
}
