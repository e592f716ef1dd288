/*
 * N-API surface of the userfaultfd handler. JavaScript creates a handler (socket bound, memory
 * file mapped, handshake thread started), validates the handshake it is told about, then calls
 * serve() to start the fault thread. Events travel back through a thread-safe function; the
 * fault path never waits for JavaScript.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include "handler.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define CHECK(env, call)                                        \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error((env), NULL, "N-API call failed: " #call); \
      return NULL;                                              \
    }                                                           \
  } while (0)

static napi_value throw_err(napi_env env, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  napi_throw_error(env, NULL, buf);
  return NULL;
}

struct wrapper {
  struct vhuf_handler *h;
  int closed;
};

void vhuf_post(struct vhuf_handler *h, struct vhuf_event *ev) {
  struct vhuf_event *copy = malloc(sizeof *copy);
  if (!copy) {
    free(ev->message);
    return;
  }
  *copy = *ev;
  if (napi_call_threadsafe_function((napi_threadsafe_function)h->tsfn, copy, napi_tsfn_nonblocking) != napi_ok) {
    free(copy->message);
    free(copy);
  }
}

static const char *kind_name(enum vhuf_event_kind k) {
  switch (k) {
    case VHUF_EV_HANDSHAKE: return "handshake";
    case VHUF_EV_INSTALLED: return "installed";
    case VHUF_EV_FAILED: return "failed";
    case VHUF_EV_EXITED: return "exited";
    case VHUF_EV_WARNING: return "warning";
    case VHUF_EV_SERVING: return "serving";
  }
  return "unknown";
}

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, obj, key, x);
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  struct vhuf_event *ev = data;
  if (env && js_cb) {
    napi_value obj, str, undef, b;
    napi_create_object(env, &obj);
    napi_create_string_utf8(env, kind_name(ev->kind), NAPI_AUTO_LENGTH, &str);
    napi_set_named_property(env, obj, "kind", str);
    napi_get_boolean(env, ev->error != 0, &b);
    napi_set_named_property(env, obj, "error", b);
    if (ev->message) {
      /* Latin-1 keeps arbitrary handshake bytes intact; TypeScript decodes and validates. */
      napi_create_string_latin1(env, ev->message, ev->message_len, &str);
      napi_set_named_property(env, obj, "message", str);
    }
    set_num(env, obj, "fdCount", ev->fd_count);
    set_num(env, obj, "peerPid", ev->peer_pid);
    set_num(env, obj, "killedPid", ev->killed_pid);
    set_num(env, obj, "fetchUs", ev->fetch_us);
    set_num(env, obj, "installUs", ev->install_us);
    set_num(env, obj, "streamUs", ev->stream_us);
    set_num(env, obj, "installedPages", (double)ev->installed_pages);
    napi_get_boolean(env, ev->working_set_bad != 0, &b);
    napi_set_named_property(env, obj, "workingSetBad", b);
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, js_cb, 1, &obj, NULL);
  }
  free(ev->message);
  free(ev);
}

static void shutdown_handler(struct wrapper *w) {
  if (w->closed) return;
  w->closed = 1;
  struct vhuf_handler *h = w->h;
  atomic_store(&h->stopping, 1);
  uint64_t one = 1;
  if (write(h->stop_fd, &one, sizeof one) < 0) { /* eventfd write cannot fail short of overflow */ }
  if (h->handshake_started) pthread_join(h->handshake_thread, NULL);
  if (h->serve_started) pthread_join(h->serve_thread, NULL);
  if (h->watcher_started) pthread_join(h->watcher_thread, NULL);
  if (h->pidfd >= 0) close(h->pidfd);
  if (h->listen_fd >= 0) close(h->listen_fd);
  if (h->conn_fd >= 0) close(h->conn_fd);
  if (h->uffd >= 0) close(h->uffd);
  close(h->stop_fd);
  if (h->mem && h->mem != MAP_FAILED) munmap((void *)h->mem, h->mem_size);
  if (h->mem_fd >= 0) close(h->mem_fd);
  h->listen_fd = h->conn_fd = h->uffd = h->mem_fd = -1;
  h->mem = NULL;
  napi_release_threadsafe_function((napi_threadsafe_function)h->tsfn, napi_tsfn_release);
}

static void finalize_wrapper(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct wrapper *w = data;
  shutdown_handler(w);
  free(w->h->removed);
  free(w->h->seen);
  free(w->h->in_ws);
  free(w->h->order);
  free(w->h);
  free(w);
}

static struct wrapper *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "expected a handler created by createHandler()");
    return NULL;
  }
  return p;
}

static int get_string(napi_env env, napi_value v, char *out, size_t cap, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok) {
    throw_err(env, "%s must be a string", what);
    return -1;
  }
  if (len + 1 >= cap) {
    throw_err(env, "%s is too long (%zu bytes, at most %zu)", what, len, cap - 2);
    return -1;
  }
  return 0;
}

/* createHandler(socketPath, memFilePath, handshakeTimeoutMs, onEvent) */
static napi_value create_handler(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_err(env, "createHandler needs 4 arguments");
  struct vhuf_handler *h = calloc(1, sizeof *h);
  struct wrapper *w = calloc(1, sizeof *w);
  if (!h || !w) return throw_err(env, "out of memory");
  w->h = h;
  h->listen_fd = h->conn_fd = h->uffd = h->mem_fd = h->pidfd = -1;
  h->cpu = -1;
  char mem_path[4096];
  int32_t timeout = 0;
  if (get_string(env, argv[0], h->socket_path, sizeof h->socket_path, "socketPath") != 0 ||
      get_string(env, argv[1], mem_path, sizeof mem_path, "memFilePath") != 0)
    goto fail_nothrow;
  napi_get_value_int32(env, argv[2], &timeout);
  h->handshake_timeout_ms = timeout > 0 ? timeout : 10000;

  h->mem_fd = open(mem_path, O_RDONLY | O_CLOEXEC);
  if (h->mem_fd < 0) {
    throw_err(env, "memFilePath %s: %s", mem_path, strerror(errno));
    goto fail_nothrow;
  }
  struct stat st;
  if (fstat(h->mem_fd, &st) != 0 || st.st_size <= 0) {
    throw_err(env, "memFilePath %s: empty or unreadable", mem_path);
    goto fail_nothrow;
  }
  h->mem_size = (uint64_t)st.st_size;
  h->mem = mmap(NULL, h->mem_size, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, h->mem_fd, 0);
  if (h->mem == MAP_FAILED) {
    throw_err(env, "mmap of %s failed: %s", mem_path, strerror(errno));
    goto fail_nothrow;
  }

  h->stop_fd = eventfd(0, EFD_CLOEXEC);
  h->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, h->socket_path, strlen(h->socket_path) + 1);
  if (h->stop_fd < 0 || h->listen_fd < 0 || bind(h->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(h->listen_fd, 1) != 0) {
    throw_err(env, "socketPath %s: cannot listen: %s", h->socket_path, strerror(errno));
    goto fail_nothrow;
  }
  chmod(h->socket_path, 0600); /* only the VMM (same user) may hand us its memory */

  napi_value name;
  napi_create_string_utf8(env, "vhuf-events", NAPI_AUTO_LENGTH, &name);
  napi_threadsafe_function tsfn;
  if (napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &tsfn) != napi_ok) {
    throw_err(env, "cannot create the event channel");
    goto fail_nothrow;
  }
  h->tsfn = tsfn;
  if (pthread_create(&h->handshake_thread, NULL, vhuf_handshake_main, h) != 0) {
    napi_release_threadsafe_function(tsfn, napi_tsfn_release);
    throw_err(env, "cannot start the handshake thread");
    goto fail_nothrow;
  }
  h->handshake_started = 1;
  napi_value ext;
  CHECK(env, napi_create_external(env, w, finalize_wrapper, NULL, &ext));
  return ext;

fail_nothrow:
  if (h->listen_fd >= 0) {
    close(h->listen_fd);
    unlink(h->socket_path);
  }
  if (h->stop_fd > 0) close(h->stop_fd);
  if (h->mem && h->mem != MAP_FAILED) munmap((void *)h->mem, h->mem_size);
  if (h->mem_fd >= 0) close(h->mem_fd);
  free(h);
  free(w);
  return NULL;
}

static int get_prop_num(napi_env env, napi_value obj, const char *key, double *out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok ||
      t != napi_number)
    return -1;
  return napi_get_value_double(env, v, out) == napi_ok ? 0 : -1;
}

/* serve(handle, {regions: [{hostBase,size,offset}], pageSize, mode, workingSetPath?, vmmPid, cpu}) */
static napi_value serve(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct wrapper *w = unwrap(env, argv[0]);
  if (!w) return NULL;
  struct vhuf_handler *h = w->h;
  if (w->closed) return throw_err(env, "handler is closed");
  if (h->serve_started) return throw_err(env, "serve() already called");
  if (h->uffd < 0) return throw_err(env, "no userfaultfd was received in the handshake");
  napi_value cfg = argv[1], regions;
  double ps = 0, mode = 0, pid = 0, cpu = -1;
  if (get_prop_num(env, cfg, "pageSize", &ps) || get_prop_num(env, cfg, "mode", &mode) ||
      get_prop_num(env, cfg, "vmmPid", &pid) || get_prop_num(env, cfg, "cpu", &cpu))
    return throw_err(env, "serve: pageSize, mode, vmmPid and cpu must be numbers");
  uint32_t n = 0;
  CHECK(env, napi_get_named_property(env, cfg, "regions", &regions));
  if (napi_get_array_length(env, regions, &n) != napi_ok || n == 0 || n > VHUF_MAX_REGIONS)
    return throw_err(env, "serve: regions must be an array of 1..%d entries", VHUF_MAX_REGIONS);
  for (uint32_t i = 0; i < n; i++) {
    napi_value r;
    double base, size, off;
    napi_get_element(env, regions, i, &r);
    if (get_prop_num(env, r, "hostBase", &base) || get_prop_num(env, r, "size", &size) ||
        get_prop_num(env, r, "offset", &off))
      return throw_err(env, "serve: regions[%u] needs numeric hostBase, size, offset", i);
    h->regions[i] = (struct vhuf_region){(uint64_t)base, (uint64_t)size, (uint64_t)off};
  }
  h->region_count = (int)n;
  h->page_size = (uint64_t)ps;
  h->mode = (enum vhuf_mode)(int)mode;
  h->vmm_pid = (int)pid;
  h->cpu = (int)cpu;
  double rt = 0;
  if (get_prop_num(env, cfg, "rtPriority", &rt) == 0 && rt > 0) h->rt_priority = (int)rt;
  napi_value wsv;
  napi_valuetype t;
  napi_get_named_property(env, cfg, "workingSetPath", &wsv);
  napi_typeof(env, wsv, &t);
  if (t == napi_string && get_string(env, wsv, h->ws_path, sizeof h->ws_path, "workingSetPath") != 0) return NULL;
  if (h->mode == VHUF_PREFETCH && t != napi_string) return throw_err(env, "serve: prefetch needs workingSetPath");

  h->file_pages = h->mem_size / h->page_size;
  h->removed = calloc(h->file_pages, 1);
  h->seen = calloc(h->file_pages, 1);
  h->in_ws = calloc(h->file_pages, 1);
  h->order = h->mode == VHUF_RECORD ? calloc(h->file_pages, sizeof(uint32_t)) : NULL;
  if (!h->removed || !h->seen || !h->in_ws || (h->mode == VHUF_RECORD && !h->order))
    return throw_err(env, "out of memory for page state of %llu pages", (unsigned long long)h->file_pages);
  atomic_store(&h->recording, h->mode == VHUF_RECORD);
  if (h->handshake_started) {
    pthread_join(h->handshake_thread, NULL);
    h->handshake_started = 0;
  }
  /* Watch the VMM process: when it exits there is nothing left to serve. */
  int watched = h->vmm_pid > 0 ? h->vmm_pid : h->peer_pid;
  h->pidfd = watched > 0 ? (int)syscall(SYS_pidfd_open, watched, 0) : -1;
  if (h->pidfd >= 0 && pthread_create(&h->watcher_thread, NULL, vhuf_watch_main, h) == 0) h->watcher_started = 1;
  if (pthread_create(&h->serve_thread, NULL, vhuf_serve_main, h) != 0)
    return throw_err(env, "cannot start the fault-serving thread");
  h->serve_started = 1;
  return NULL;
}

static napi_value stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], obj;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct wrapper *w = unwrap(env, argv[0]);
  if (!w) return NULL;
  struct vhuf_counters *c = &w->h->c;
  CHECK(env, napi_create_object(env, &obj));
  set_num(env, obj, "faults", (double)atomic_load(&c->faults));
  set_num(env, obj, "copiedPages", (double)atomic_load(&c->copied_pages));
  set_num(env, obj, "zeroPages", (double)atomic_load(&c->zero_pages));
  set_num(env, obj, "alreadyPresent", (double)atomic_load(&c->eexist));
  set_num(env, obj, "eagainRetries", (double)atomic_load(&c->eagain_retries));
  set_num(env, obj, "removeEvents", (double)atomic_load(&c->remove_events));
  set_num(env, obj, "removedPages", (double)atomic_load(&c->removed_pages));
  set_num(env, obj, "uniquePages", (double)atomic_load(&c->unique_pages));
  set_num(env, obj, "workingSetFaults", (double)atomic_load(&c->ws_faults));
  set_num(env, obj, "serveUs", (double)atomic_load(&c->serve_ns) / 1000.0);
  set_num(env, obj, "installedPages", (double)atomic_load(&c->installed_pages));
  set_num(env, obj, "installIoctls", (double)atomic_load(&c->install_ioctls));
  set_num(env, obj, "parkedFaults", (double)atomic_load(&c->parked_faults));
  set_num(env, obj, "joinedFetch", (double)atomic_load(&c->joined_fetch));
  set_num(env, obj, "recordedPages", (double)atomic_load(&w->h->order_len));
  set_num(env, obj, "memFileSize", (double)w->h->mem_size);
  return obj;
}

/* stopRecording(handle) -> Uint32Array of file pages in first-touch order. */
static napi_value stop_recording(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], ab, arr;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct wrapper *w = unwrap(env, argv[0]);
  if (!w) return NULL;
  struct vhuf_handler *h = w->h;
  atomic_store(&h->recording, 0);
  uint64_t n = h->order ? atomic_load_explicit(&h->order_len, memory_order_acquire) : 0;
  void *data = NULL;
  CHECK(env, napi_create_arraybuffer(env, n * 4, &data, &ab));
  if (n) memcpy(data, h->order, n * 4);
  CHECK(env, napi_create_typedarray(env, napi_uint32_array, n, ab, 0, &arr));
  return arr;
}

/* readPages(handle, Uint32Array pages) -> Buffer with those memory-file pages, in that order. */
static napi_value read_pages(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], buf;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct wrapper *w = unwrap(env, argv[0]);
  if (!w) return NULL;
  struct vhuf_handler *h = w->h;
  if (w->closed || !h->page_size) return throw_err(env, "readPages: handler is closed or not serving");
  napi_typedarray_type type;
  size_t n;
  void *pages;
  if (napi_get_typedarray_info(env, argv[1], &type, &n, &pages, NULL, NULL) != napi_ok || type != napi_uint32_array)
    return throw_err(env, "readPages: pages must be a Uint32Array");
  uint8_t *out;
  CHECK(env, napi_create_buffer(env, n * h->page_size, (void **)&out, &buf));
  for (size_t i = 0; i < n; i++) {
    uint32_t p = ((uint32_t *)pages)[i];
    if (p >= h->file_pages) return throw_err(env, "readPages: page %u is beyond the memory file", p);
    memcpy(out + i * h->page_size, h->mem + (uint64_t)p * h->page_size, h->page_size);
  }
  return buf;
}

/* hash64(Uint8Array) -> bigint, the working-set checksum. */
static napi_value hash64(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  size_t n, off;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[0], &type, &n, &data, &ab, &off) != napi_ok || type != napi_uint8_array)
    return throw_err(env, "hash64: expected a Uint8Array");
  CHECK(env, napi_create_bigint_uint64(env, vhuf_hash64(data, n), &out));
  return out;
}

static napi_value close_handler(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct wrapper *w = unwrap(env, argv[0]);
  if (!w) return NULL;
  shutdown_handler(w);
  return NULL;
}

/* Bumped whenever the events or calls change meaning, so TypeScript refuses a stale build instead
   of waiting for events it no longer gets (native-binding.ts compares it). */
#define VHUF_ABI_VERSION 3

static napi_value init(napi_env env, napi_value exports) {
  napi_value abi;
  napi_create_uint32(env, VHUF_ABI_VERSION, &abi);
  napi_set_named_property(env, exports, "abiVersion", abi);
  napi_property_descriptor props[] = {
      {"createHandler", NULL, create_handler, NULL, NULL, NULL, napi_default, NULL},
      {"serve", NULL, serve, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL},
      {"stopRecording", NULL, stop_recording, NULL, NULL, NULL, napi_default, NULL},
      {"readPages", NULL, read_pages, NULL, NULL, NULL, napi_default, NULL},
      {"hash64", NULL, hash64, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_handler, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
