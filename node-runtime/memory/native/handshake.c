/*
 * Receives Firecracker's UFFD handshake: one connection on the backend socket carrying a JSON
 * array of regions and the userfaultfd as SCM_RIGHTS ancillary data. Firecracker keeps its end
 * open after sending (it never writes again), so the message ends when no more bytes arrive,
 * not at EOF. Validation of the JSON is TypeScript's job; this thread only moves bytes and fds.
 */
#define _GNU_SOURCE
#include "handler.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Waits until fd is readable, the handler is closed, or the timeout passes. 1 = readable. */
static int wait_readable(struct vhuf_handler *h, int fd, int timeout_ms) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = h->stop_fd, .events = POLLIN}};
  for (;;) {
    int n = poll(p, 2, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (p[1].revents) return -2;
    return 1;
  }
}

/* 1 when buf holds one complete JSON value (brackets balanced outside strings). Firecracker
   sends the whole array in one sendmsg, so this is normally true after the first recvmsg and
   nothing waits for more bytes. */
static int json_complete(const char *buf, size_t len) {
  int depth = 0, in_str = 0, esc = 0, opened = 0;
  for (size_t i = 0; i < len; i++) {
    char c = buf[i];
    if (in_str) {
      if (esc) esc = 0;
      else if (c == '\\') esc = 1;
      else if (c == '"') in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '[' || c == '{') {
      depth++;
      opened = 1;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return opened && depth <= 0 && !in_str;
}

void *vhuf_handshake_main(void *arg) {
  struct vhuf_handler *h = arg;
  int r = wait_readable(h, h->listen_fd, h->handshake_timeout_ms);
  if (r == -2) return NULL;
  if (r == 0) {
    vhuf_post_error(h, VHUF_EV_HANDSHAKE, "handshake: no VMM connected to %s within %d ms", h->socket_path,
                    h->handshake_timeout_ms);
    return NULL;
  }
  int conn = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) {
    vhuf_post_error(h, VHUF_EV_HANDSHAKE, "handshake: accept on %s failed: %s", h->socket_path, strerror(errno));
    return NULL;
  }
  h->conn_fd = conn;
  struct ucred cred = {0};
  socklen_t cl = sizeof cred;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) h->peer_pid = cred.pid;

  r = wait_readable(h, conn, h->handshake_timeout_ms);
  if (r == -2) return NULL;
  if (r == 0) {
    vhuf_post_error(h, VHUF_EV_HANDSHAKE, "handshake: VMM (pid %d) connected but sent nothing within %d ms",
                    h->peer_pid, h->handshake_timeout_ms);
    return NULL;
  }

  char *buf = malloc(VHUF_MAX_HANDSHAKE_BYTES + 1);
  if (!buf) {
    vhuf_post_error(h, VHUF_EV_HANDSHAKE, "handshake: out of memory");
    return NULL;
  }
  /* Room for a few fds so that a sender passing more than one is detected, not truncated. */
  union {
    char bytes[CMSG_SPACE(sizeof(int) * 8)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = buf, .iov_len = VHUF_MAX_HANDSHAKE_BYTES};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes,
                       .msg_controllen = sizeof control.bytes};
  ssize_t n;
  do n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    free(buf);
    vhuf_post_error(h, VHUF_EV_HANDSHAKE, "handshake: recvmsg failed: %s", strerror(errno));
    return NULL;
  }
  int fds[8];
  int fd_count = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k && fd_count < 8; i++) memcpy(&fds[fd_count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  size_t len = (size_t)n;
  /* A long message may arrive in pieces: keep reading while it is incomplete (a malformed one
     ends at a short silence and is reported by the validator). */
  while (!json_complete(buf, len) && len < VHUF_MAX_HANDSHAKE_BYTES && wait_readable(h, conn, 200) == 1) {
    ssize_t m = recv(conn, buf + len, VHUF_MAX_HANDSHAKE_BYTES - len, MSG_DONTWAIT);
    if (m <= 0) break;
    len += (size_t)m;
  }
  buf[len] = 0;

  if (fd_count >= 1) h->uffd = fds[0];
  for (int i = 1; i < fd_count; i++) close(fds[i]);
  if (msg.msg_flags & MSG_CTRUNC) fd_count = fd_count > 0 ? fd_count + 1 : 1; /* reported as "more than one" */

  struct vhuf_event ev = {.kind = VHUF_EV_HANDSHAKE, .message = buf, .message_len = len, .fd_count = fd_count,
                          .peer_pid = h->peer_pid};
  vhuf_post(h, &ev);
  return NULL;
}
