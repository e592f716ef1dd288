/*
 * vhgv-relay: first process of a gVisor function sandbox.
 *
 * With runsc --network=none the function's TCP port exists only on the sandbox's loopback. This
 * program starts the function as its child and bridges a Unix socket to 127.0.0.1:PORT. The socket
 * lives in a directory bind-mounted from the host and runsc runs with --host-uds=create, so the
 * bind() below makes a real host socket that the node runtime connects to.
 *
 *   vhgv-relay SOCKET PORT -- PROGRAM [ARG...]
 *
 * - The socket is created only once 127.0.0.1:PORT accepts a connection, so "socket accepts" on
 *   the host means "function is listening".
 * - SIGUSR2 suspends the relay before a checkpoint: it drops every bridged connection, closes the
 *   listener (runsc cannot save a host socket), then creates SOCKET_DIR/suspended, which the
 *   runtime waits for before it checkpoints.
 * - A suspended relay checks every few milliseconds whether that marker still exists. A restored
 *   sandbox sees a fresh, empty socket directory (its own bundle's), so the marker is gone: the
 *   relay resumes and binds its listener there, without the runtime having to signal it.
 *   SIGUSR1 resumes it too, and recreates a listener that failed.
 * - Other termination signals go to the function; the relay exits with the function's status,
 *   after printing it on stderr ("vhgv-relay: function exited with status N" or "... killed by
 *   signal N"): runsc ends the sandbox with its first process, and its own `wait` cannot always
 *   fetch the status in time, so the runtime reads it from the function's log.
 *
 * Written to be built statically (cc -static) so it runs on any image.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PAIRS 256
#define BUF_SIZE 65536
#define PROBE_INTERVAL_MS 5

struct direction {
  char buf[BUF_SIZE];
  size_t len;  /* bytes waiting in buf */
  size_t off;  /* bytes of buf already written */
  int eof;     /* source reached end of stream */
  int shut;    /* shutdown(SHUT_WR) done on the sink */
};

struct pair {
  int fd[2];              /* 0: host client, 1: function */
  struct direction d[2];  /* d[0]: client -> function, d[1]: function -> client */
};

static struct pair *pairs[MAX_PAIRS];
static const char *sock_path;
static int port;
static int listener = -1;
static int suspended;     /* after SIGUSR2 until restored: no listener, no connections */
static char marker_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
static int bind_failing;  /* report a failing bind once, not on every retry */

static void logmsg(const char *what) {
  /* stderr reaches the sandbox log the runtime keeps for the instance */
  fprintf(stderr, "vhgv-relay: %s: %s\n", what, strerror(errno));
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static int connect_function(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* loopback connects complete or fail at once, so a blocking connect is fine here */
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    return -1;
  }
  set_nonblock(fd);
  return fd;
}

static void close_listener(void) {
  if (listener >= 0) close(listener);
  listener = -1;
  unlink(sock_path);
}

static int open_listener(void) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, sock_path, sizeof a.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  unlink(sock_path);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 128) < 0) {
    if (!bind_failing) logmsg("listen on socket (retrying)");
    bind_failing = 1;
    close(fd);
    return -1;
  }
  bind_failing = 0;
  return fd;
}

static void free_pair(int i) {
  close(pairs[i]->fd[0]);
  close(pairs[i]->fd[1]);
  free(pairs[i]);
  pairs[i] = NULL;
}

static void close_all_pairs(void) {
  for (int i = 0; i < MAX_PAIRS; i++)
    if (pairs[i]) free_pair(i);
}

static void accept_clients(void) {
  for (;;) {
    int c = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        logmsg("accept");
        close_listener();  /* recreated on the next loop turn */
      }
      return;
    }
    int f = connect_function();
    int slot = -1;
    for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
      if (!pairs[i]) slot = i;
    struct pair *p = (f >= 0 && slot >= 0) ? calloc(1, sizeof *p) : NULL;
    if (!p) {
      close(c);
      if (f >= 0) close(f);
      continue;
    }
    p->fd[0] = c;
    p->fd[1] = f;
    pairs[slot] = p;
  }
}

/* Moves bytes for one direction; returns -1 when the pair is finished or broken. */
static int pump(struct pair *p, int dir) {
  struct direction *d = &p->d[dir];
  int src = p->fd[dir], dst = p->fd[1 - dir];
  if (d->len == 0 && !d->eof) {
    ssize_t n = read(src, d->buf, BUF_SIZE);
    if (n > 0) {
      d->len = (size_t)n;
      d->off = 0;
    } else if (n == 0) {
      d->eof = 1;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return -1;
    }
  }
  while (d->off < d->len) {
    ssize_t n = write(dst, d->buf + d->off, d->len - d->off);
    if (n > 0) {
      d->off += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      break;
    } else {
      return -1;
    }
  }
  if (d->off == d->len) d->len = d->off = 0;
  if (d->eof && d->len == 0 && !d->shut) {
    shutdown(dst, SHUT_WR);
    d->shut = 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0) {
    fprintf(stderr, "usage: vhgv-relay SOCKET PORT -- PROGRAM [ARG...]\n");
    return 127;
  }
  sock_path = argv[1];
  port = atoi(argv[2]);
  {
    /* SOCKET's directory holds the suspension marker */
    const char *slash = strrchr(sock_path, '/');
    int dir_len = slash ? (int)(slash - sock_path) : 1;
    snprintf(marker_path, sizeof marker_path, "%.*s/suspended", dir_len, slash ? sock_path : ".");
  }
  if (port <= 0 || port > 65535 || strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    fprintf(stderr, "vhgv-relay: bad SOCKET or PORT\n");
    return 127;
  }
  signal(SIGPIPE, SIG_IGN);

  sigset_t mask, old;
  sigemptyset(&mask);
  int handled[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) sigaddset(&mask, handled[i]);
  sigprocmask(SIG_BLOCK, &mask, &old);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    logmsg("signalfd");
    return 127;
  }

  pid_t child = fork();
  if (child < 0) {
    logmsg("fork");
    return 127;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[4], &argv[4]);
    fprintf(stderr, "vhgv-relay: cannot execute %s: %s\n", argv[4], strerror(errno));
    _exit(127);
  }

  struct pollfd pfd[2 + 2 * MAX_PAIRS];
  int owner[2 + 2 * MAX_PAIRS];
  for (;;) {
    if (suspended && access(marker_path, F_OK) != 0 && errno == ENOENT) suspended = 0;  /* restored elsewhere */
    if (listener < 0 && !suspended) {
      int probe = connect_function();
      if (probe >= 0) {
        close(probe);
        listener = open_listener();
      }
    }

    int n = 0;
    pfd[n].fd = sfd;
    pfd[n].events = POLLIN;
    owner[n++] = -1;
    if (listener >= 0) {
      pfd[n].fd = listener;
      pfd[n].events = POLLIN;
      owner[n++] = -2;
    }
    for (int i = 0; i < MAX_PAIRS; i++) {
      struct pair *p = pairs[i];
      if (!p) continue;
      for (int side = 0; side < 2; side++) {
        /* read from this side while its buffer is empty; write to it while the other buffer holds data */
        short ev = 0;
        if (p->d[side].len == 0 && !p->d[side].eof) ev |= POLLIN;
        if (p->d[1 - side].len > 0) ev |= POLLOUT;
        pfd[n].fd = p->fd[side];
        pfd[n].events = ev;
        owner[n++] = i;
      }
    }

    int timeout = listener < 0 ? PROBE_INTERVAL_MS : -1;
    if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
      logmsg("poll");
      return 127;
    }

    for (int k = 0; k < n; k++) {
      if (!pfd[k].revents) continue;
      if (owner[k] == -1) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {
          int sig = (int)si.ssi_signo;
          if (sig == SIGCHLD) {
            int status;
            pid_t w;
            while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
              if (w != child) continue;  /* an orphan we inherited as PID 1 */
              close_listener();
              close_all_pairs();
              if (WIFEXITED(status)) {
                fprintf(stderr, "vhgv-relay: function exited with status %d\n", WEXITSTATUS(status));
                return WEXITSTATUS(status);
              }
              fprintf(stderr, "vhgv-relay: function killed by signal %d\n", WTERMSIG(status));
              return 128 + WTERMSIG(status);
            }
          } else if (sig == SIGUSR2) {
            close_listener();
            close_all_pairs();
            int m = open(marker_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (m >= 0) {
              close(m);
              suspended = 1;
            } else {
              logmsg("cannot create the suspension marker");
            }
          } else if (sig == SIGUSR1) {
            suspended = 0;
            close_listener();
          } else {
            kill(child, sig);
          }
        }
      } else if (owner[k] == -2) {
        if (listener < 0) continue;
        if (pfd[k].revents & (POLLERR | POLLNVAL | POLLHUP)) {
          close_listener();
        } else {
          accept_clients();
        }
      }
    }
    /* pump every pair that had activity; a pair is done when both directions are shut down */
    for (int k = 0; k < n; k++) {
      int i = owner[k];
      if (i < 0 || !pairs[i] || !pfd[k].revents) continue;
      struct pair *p = pairs[i];
      int side = pfd[k].fd == p->fd[0] ? 0 : 1;
      int broken = (pfd[k].revents & (POLLERR | POLLNVAL)) != 0;
      /* a hung-up side whose input is drained has nothing left to give or take */
      int done = (pfd[k].revents & POLLHUP) && p->d[side].eof && p->d[side].len == 0;
      if (broken || pump(p, 0) < 0 || pump(p, 1) < 0 || (p->d[0].shut && p->d[1].shut) || done) free_pair(i);
    }
  }
}
