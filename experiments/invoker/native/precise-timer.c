/*
 * A timer for the invoker's send loop that the calling thread's own event loop waits on: a
 * timerfd on CLOCK_MONOTONIC (the clock behind process.hrtime), watched by libuv's poll. libuv's
 * timers round to milliseconds, and polling for a due time in JavaScript allocates an Immediate
 * per turn (garbage, hence scavenges that pause the sends). Here the loop sleeps in epoll until
 * the due time or I/O, whichever comes first, and nothing is allocated while it waits.
 *
 * JavaScript: create(onDue) -> handle; arm(handle, dueNs) with an absolute hrtime in ns (a past
 * time fires at once); close(handle). onDue runs through a callback scope, so ticks and microtasks
 * queued by it run before the loop sleeps again.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define PRECISE_TIMER_ABI 1

typedef struct precise_timer {
  uv_poll_t poll;
  int fd;
  int closed;
  /* onDue is running: a close from inside it releases the callback's context only once it returned. */
  int in_callback;
  int callback_released;
  /* The JavaScript handle and libuv's poll handle both point here: freed when both let go. */
  int owners;
  napi_env env;
  napi_ref on_due;
  napi_ref resource;
  napi_async_context async;
} precise_timer;

static napi_value throw_errno(napi_env env, const char* what) {
  char msg[160];
  snprintf(msg, sizeof msg, "precise timer: %s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static void release(precise_timer* t) {
  if (--t->owners == 0) free(t);
}

static void on_uv_closed(uv_handle_t* handle) {
  release(handle->data);
}

static void release_callback(precise_timer* t) {
  if (t->callback_released) return;
  t->callback_released = 1;
  napi_delete_reference(t->env, t->on_due);
  napi_delete_reference(t->env, t->resource);
  napi_async_destroy(t->env, t->async);
}

/* Releases everything; the struct itself goes once libuv has closed the poll handle. */
static void timer_close(precise_timer* t) {
  if (t->closed) return;
  t->closed = 1;
  uv_poll_stop(&t->poll);
  close(t->fd);
  if (!t->in_callback) release_callback(t);
  uv_close((uv_handle_t*)&t->poll, on_uv_closed);
}

/* The thread's environment is going away (a worker ending) with the timer still open. */
static void on_env_cleanup(void* arg) {
  precise_timer* t = arg;
  if (!t->closed) timer_close(t);
}

static void on_readable(uv_poll_t* poll, int status, int events) {
  precise_timer* t = poll->data;
  uint64_t expirations;
  /* Non-blocking: EAGAIN when re-armed before this turn read it; nothing is due then. */
  if (read(t->fd, &expirations, sizeof expirations) != sizeof expirations) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(t->env, &scope) != napi_ok) return;
  napi_value fn, resource, result;
  if (napi_get_reference_value(t->env, t->on_due, &fn) == napi_ok && napi_get_reference_value(t->env, t->resource, &resource) == napi_ok) {
    t->in_callback = 1;
    napi_status st = napi_make_callback(t->env, t->async, resource, fn, 0, NULL, &result);
    t->in_callback = 0;
    if (st == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(t->env, &error);
      napi_fatal_exception(t->env, error);
    }
  }
  napi_close_handle_scope(t->env, scope);
  /* Closed by onDue itself: its context can go now. */
  if (t->closed) release_callback(t);
}

/* The JavaScript handle was collected: a timer still open is closed first. */
static void on_handle_finalized(napi_env env, void* data, void* hint) {
  precise_timer* t = data;
  if (!t->closed) {
    napi_remove_env_cleanup_hook(env, on_env_cleanup, t);
    timer_close(t);
  }
  release(t);
}

static precise_timer* unwrap(napi_env env, napi_value value) {
  precise_timer* t = NULL;
  if (napi_get_value_external(env, value, (void**)&t) != napi_ok || t == NULL) {
    napi_throw_type_error(env, NULL, "precise timer: expected a handle from create()");
    return NULL;
  }
  if (t->closed) {
    napi_throw_error(env, NULL, "precise timer: the timer is closed");
    return NULL;
  }
  return t;
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], resource, name, handle;
  napi_valuetype type;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "precise timer: create(onDue) needs a function");
    return NULL;
  }
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "precise timer: no event loop");
    return NULL;
  }
  precise_timer* t = calloc(1, sizeof *t);
  if (t == NULL) return throw_errno(env, "calloc");
  t->env = env;
  t->owners = 2;
  t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (t->fd < 0) {
    free(t);
    return throw_errno(env, "timerfd_create");
  }
  if (uv_poll_init(loop, &t->poll, t->fd) != 0) {
    close(t->fd);
    free(t);
    napi_throw_error(env, NULL, "precise timer: uv_poll_init failed");
    return NULL;
  }
  t->poll.data = t;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "PreciseTimer", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[0], 1, &t->on_due);
  napi_create_reference(env, resource, 1, &t->resource);
  napi_async_init(env, resource, name, &t->async);
  uv_poll_start(&t->poll, UV_READABLE, on_readable);
  napi_add_env_cleanup_hook(env, on_env_cleanup, t);
  napi_create_external(env, t, on_handle_finalized, NULL, &handle);
  return handle;
}

static napi_value arm(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "precise timer: arm(handle, dueNs)");
    return NULL;
  }
  precise_timer* t = unwrap(env, argv[0]);
  if (t == NULL) return NULL;
  double due;
  if (napi_get_value_double(env, argv[1], &due) != napi_ok || !isfinite(due) || due < 0) {
    napi_throw_range_error(env, NULL, "precise timer: dueNs must be a finite hrtime in ns");
    return NULL;
  }
  /* An all-zero it_value disarms a timerfd: a due time of 0 ns means "now", so it is 1 ns. */
  uint64_t ns = due < 1 ? 1 : (uint64_t)due;
  struct itimerspec spec = {0};
  spec.it_value.tv_sec = (time_t)(ns / 1000000000u);
  spec.it_value.tv_nsec = (long)(ns % 1000000000u);
  if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &spec, NULL) != 0) return throw_errno(env, "timerfd_settime");
  return NULL;
}

static napi_value close_timer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  precise_timer* t = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void**)&t) != napi_ok || t == NULL) {
    napi_throw_type_error(env, NULL, "precise timer: close(handle)");
    return NULL;
  }
  if (!t->closed) {
    napi_remove_env_cleanup_hook(env, on_env_cleanup, t);
    timer_close(t);
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"arm", NULL, arm, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_timer, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value abi;
  napi_create_uint32(env, PRECISE_TIMER_ABI, &abi);
  napi_set_named_property(env, exports, "abiVersion", abi);
  return exports;
}
