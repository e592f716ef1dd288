/*
 * Shared state of one userfaultfd memory-backend handler (one per restored VM).
 *
 * Threads: a handshake thread (accept + recvmsg of Firecracker's regions message and uffd) and,
 * once TypeScript has validated the regions, a serve thread that answers page faults and, in
 * prefetch mode, streams the working set in at the same time (faults first, chunks of the set
 * between them). Node's event loop only receives events.
 */
#ifndef VHUF_HANDLER_H
#define VHUF_HANDLER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#define VHUF_MAX_REGIONS 64
#define VHUF_MAX_HANDSHAKE_BYTES (256 * 1024)
/* Working-set reads: VHUF_WS_CHUNK bytes each, VHUF_WS_DEPTH of them in flight. */
#define VHUF_WS_CHUNK (1024 * 1024)
#define VHUF_WS_DEPTH 8

/* What in_ws holds for a page of the working set (0: not in it). */
enum { VHUF_WS_PENDING = 1, VHUF_WS_INSTALLED = 2 };

enum vhuf_mode { VHUF_LAZY = 0, VHUF_RECORD = 1, VHUF_PREFETCH = 2 };

struct vhuf_region {
  uint64_t host_base; /* address in the VMM's address space */
  uint64_t size;      /* bytes */
  uint64_t offset;    /* offset of the region's contents in the memory file */
};

/* Kinds of events the native threads post to JavaScript. */
enum vhuf_event_kind {
  VHUF_EV_HANDSHAKE = 1, /* message + fd received (or a handshake error) */
  VHUF_EV_INSTALLED = 2, /* prefetch: the working set is installed (or was unusable: WARNING first) */
  VHUF_EV_FAILED = 3,    /* fatal error; VMM killed if its pid was known */
  VHUF_EV_EXITED = 4,    /* serve thread ended without error (VMM gone or closed) */
  VHUF_EV_WARNING = 5,   /* non-fatal (e.g. unusable working-set file, served lazily) */
  VHUF_EV_SERVING = 6,   /* serve thread answers faults (prefetch: the working set streams in) */
};

struct vhuf_event {
  enum vhuf_event_kind kind;
  int error; /* message is an error text */
  char *message; /* handshake JSON or error text; owned by the event */
  size_t message_len;
  int fd_count;
  int peer_pid;
  int killed_pid;
  double fetch_us;
  double install_us;
  double stream_us;
  uint64_t installed_pages;
  int working_set_bad; /* FAILED: the working set's checksum failed after pages were installed */
};

struct vhuf_counters {
  _Atomic uint64_t faults;          /* page-fault messages read */
  _Atomic uint64_t copied_pages;    /* pages installed lazily by UFFDIO_COPY */
  _Atomic uint64_t zero_pages;      /* faults on balloon-removed pages, zero-filled */
  _Atomic uint64_t eexist;          /* fault on a page already present (woken, not copied) */
  _Atomic uint64_t eagain_retries;  /* UFFDIO_COPY retried after EAGAIN */
  _Atomic uint64_t remove_events;   /* UFFD_EVENT_REMOVE messages */
  _Atomic uint64_t removed_pages;   /* pages covered by those events */
  _Atomic uint64_t unique_pages;    /* prefetch: distinct pages served lazily, outside the set */
  _Atomic uint64_t ws_faults;       /* prefetch: faults on pages of the set (raced the install) */
  _Atomic uint64_t serve_ns;        /* time spent serving faults (read to ioctl done) */
  _Atomic uint64_t installed_pages; /* prefetch: pages of the set installed */
  _Atomic uint64_t install_ioctls;  /* prefetch: UFFDIO_COPY calls for the set */
  _Atomic uint64_t parked_faults;   /* prefetch: faults held until the set's index was read */
  _Atomic uint64_t joined_fetch;    /* prefetch: 1 if the set's read was shared with a load already running */
};

/* Incremental state of vhuf_hash64 (hash64.c). */
struct vhuf_hash64_state {
  uint64_t lane[4];
  uint64_t total;
  uint8_t carry[32];
  size_t carry_len;
};

struct vhuf_stream; /* prefetch.c */

struct vhuf_handler {
  /* configuration */
  char socket_path[108];
  int handshake_timeout_ms;
  int mem_fd;
  const uint8_t *mem; /* read-only mapping of the memory file */
  uint64_t mem_size;
  uint64_t page_size;

  /* sockets and fds */
  int listen_fd;
  int conn_fd;
  int uffd;
  int stop_fd; /* eventfd: close() wakes both threads */
  int peer_pid;
  int vmm_pid; /* killed on failure; 0 = unknown */

  /* regions, set by serve() after TypeScript validated them */
  struct vhuf_region regions[VHUF_MAX_REGIONS];
  int region_count;

  enum vhuf_mode mode;
  char ws_path[4096];
  int cpu; /* -1 = no pinning */
  int rt_priority; /* >0: fault thread runs SCHED_FIFO at this priority */

  /* per memory-file page state (indexed by file page number) */
  uint64_t file_pages;
  uint8_t *removed; /* 1 = balloon removed it; next fault gets a zero page */
  uint8_t *seen;    /* record: already recorded; prefetch: in the working set or served */
  uint8_t *in_ws;   /* prefetch: 0 not in the working set, else VHUF_WS_PENDING or VHUF_WS_INSTALLED */

  /* prefetch: the working set being streamed in (NULL when done or not prefetching) */
  struct vhuf_stream *stream;
  int ws_index_known;          /* in_ws is filled in */
  int ws_installing;           /* pages of the set marked VHUF_WS_PENDING in in_ws are still coming */
  int ws_corrupt;              /* the set failed its checksum or a read after pages were installed */

  /* record mode: ordered list of touched file pages */
  uint32_t *order;
  _Atomic uint64_t order_len;
  _Atomic int recording;

  struct vhuf_counters c;
  char fatal_msg[512];  /* serve thread: why it stopped */
  void *queued_faults;  /* serve thread: faults read while installing (struct pending) */

  int pidfd;                /* the VMM, watched by the watcher thread; -1 if unknown */
  _Atomic int vmm_exited;   /* set by the watcher before it wakes the fault thread */
  pthread_t watcher_thread;
  int watcher_started;
  pthread_t handshake_thread;
  pthread_t serve_thread;
  int handshake_started;
  int serve_started;
  _Atomic int stopping;

  /* JavaScript side: event sink (napi_threadsafe_function, opaque here) */
  void *tsfn;
};

/* Posts an event to JavaScript; takes ownership of ev->message. */
void vhuf_post(struct vhuf_handler *h, struct vhuf_event *ev);
void vhuf_post_error(struct vhuf_handler *h, enum vhuf_event_kind kind, const char *fmt, ...);

void *vhuf_handshake_main(void *arg);
void *vhuf_serve_main(void *arg);
/* Waits for the VMM to exit (pidfd), then wakes the fault thread through stop_fd. Keeping the pidfd
   out of the fault thread's poll set keeps that poll as small as a minimal handler's. */
void *vhuf_watch_main(void *arg);

/* Working-set streaming (prefetch.c; format in working-set-file.ts). */
enum vhuf_stream_status {
  VHUF_STREAM_IDLE = 0,     /* waiting for reads; poll vhuf_stream_fds */
  VHUF_STREAM_PROGRESS = 1, /* one chunk processed; more work may be ready */
  VHUF_STREAM_DONE = 2,     /* every page of the set installed and the checksum verified */
  VHUF_STREAM_UNUSABLE = 3, /* the file cannot be used; nothing was installed (err says why) */
  VHUF_STREAM_FATAL = 4,    /* failed after pages were installed (h->fatal_msg says why) */
  VHUF_STREAM_VMM_GONE = 5, /* the VMM exited */
};
/* Joins (or starts) the read of the set. 0 = streaming; -1 = unusable (err). */
int vhuf_stream_start(struct vhuf_handler *h, char *err, size_t errlen);
/* Descriptors to poll for stream progress (0, 1 or 2 of them). */
int vhuf_stream_fds(const struct vhuf_handler *h, int fds[2]);
/* 1 when reads are synchronous (no AIO): a step always has work. */
int vhuf_stream_sync(const struct vhuf_handler *h);
/* Harvests completed reads and processes the next chunk in file order, if it has arrived. */
enum vhuf_stream_status vhuf_stream_step(struct vhuf_handler *h, char *err, size_t errlen);
/* Times and counts for the INSTALLED event. */
void vhuf_stream_report(const struct vhuf_handler *h, struct vhuf_event *ev);
/* Waits for reads in flight and releases everything (safe to call twice). */
void vhuf_stream_end(struct vhuf_handler *h);

/* Reading a working-set file, shared by the loads of it in flight in this process (ws-fetch.c). */
struct vhuf_ws_fetch;
/* Joins the fetch of this file (same device, inode, size, mtime) or starts one; notify_fd is
   written whenever chunks arrive; *joined = 1 if another load had started it. NULL with err set if
   the file cannot be opened. */
struct vhuf_ws_fetch *vhuf_fetch_join(const char *path, int notify_fd, int *joined, char *err, size_t errlen);
void vhuf_fetch_leave(struct vhuf_ws_fetch *f, int notify_fd);
/* Collects finished reads, queues more, notifies subscribers (any subscriber may call it). */
void vhuf_fetch_poll(struct vhuf_ws_fetch *f);
/* Chunk k if read (NULL while pending; *error = errno if its read failed). */
const uint8_t *vhuf_fetch_chunk(struct vhuf_ws_fetch *f, uint64_t k, uint64_t *len, int *error);
int vhuf_fetch_fd(const struct vhuf_ws_fetch *f); /* AIO eventfd; -1 when reads are synchronous */
/* Adds chunk k's bytes from file offset `from` on to the file's checksum, unless another load did
   already; chunks must come in order. vhuf_fetch_hash: the checksum once every chunk is in. */
void vhuf_fetch_hash_chunk(struct vhuf_ws_fetch *f, uint64_t k, uint64_t from, const uint8_t *buf, uint64_t len);
uint64_t vhuf_fetch_hash(struct vhuf_ws_fetch *f);
uint64_t vhuf_fetch_size(const struct vhuf_ws_fetch *f);
uint64_t vhuf_fetch_chunks(const struct vhuf_ws_fetch *f);

/* Read buffers kept across loads (buffer-pool.c); VHUF_WS_CHUNK bytes each. */
void *vhuf_pool_get(void);
void vhuf_pool_put(void *buf);

/* Reads queued uffd events (serve.c); used by the installer on EAGAIN. */
int vhuf_absorb_events(struct vhuf_handler *h);

uint64_t vhuf_hash64(const uint8_t *p, size_t n);
void vhuf_hash64_init(struct vhuf_hash64_state *s);
void vhuf_hash64_update(struct vhuf_hash64_state *s, const uint8_t *p, size_t n);
uint64_t vhuf_hash64_final(const struct vhuf_hash64_state *s);
uint64_t vhuf_now_ns(void);

/* Maps a file page to the VMM address that holds it; 0 if no region covers it. */
uint64_t vhuf_file_page_to_host(const struct vhuf_handler *h, uint64_t file_page);

#endif
