/*
 * vhgv-reaper: runs `runsc create` / `runsc restore --detach` so that the sandbox they start has a
 * parent that learns how it ended.
 *
 * runsc starts the sandbox and gofer processes and exits; they are reparented to the nearest
 * "child subreaper" ancestor, normally PID 1, and their exit status is lost to the node runtime: a
 * sandbox killed by a signal (the OOM killer, an operator's kill) looked like an unexplained exit.
 * This program forks a subreaper that runs runsc, and hands runsc's own exit status back to the
 * caller (its exit code, as if it were runsc). The subreaper stays behind: it inherits the sandbox
 * and gofer, and when one ends it appends a line to its stdout (the instance's log, where the
 * relay already logs the function's exit):
 *
 *   vhgv-reaper: process PID exited with status N
 *   vhgv-reaper: process PID killed by signal N
 *
 * The line is written before the process is reaped, so whoever sees the PID gone finds the line.
 * The subreaper exits when it has no children left.
 *
 * With --mount-overlay, it first mounts the instance's root (an overlay; the options are
 * lowerdir=…,upperdir=…,workdir=…, checked by the driver) on TARGET: one mount(2) here instead of
 * a `mount` process per start, which cost 4 ms from the page cache and 15-45 ms after it was
 * dropped. A failed mount exits 125 before runsc runs.
 *
 * usage: vhgv-reaper [--mount-overlay OPTIONS TARGET] RUNSC [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "vhgv-reaper: %s: %s\n", what, strerror(errno));
  _exit(127);
}

/* Writes all of buf, retrying on EINTR and short writes. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The subreaper's life after runsc returned: report and reap every process it inherits. */
static void reap_until_alone(void) {
  for (;;) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) < 0) {
      if (errno == EINTR) continue;
      _exit(0); /* ECHILD: nothing left to watch */
    }
    char line[128];
    int len;
    if (info.si_code == CLD_EXITED)
      len = snprintf(line, sizeof line, "vhgv-reaper: process %d exited with status %d\n", (int)info.si_pid, info.si_status);
    else
      len = snprintf(line, sizeof line, "vhgv-reaper: process %d killed by signal %d\n", (int)info.si_pid, info.si_status);
    if (len > 0) (void)write_all(STDOUT_FILENO, line, (size_t)len);
    while (waitpid(info.si_pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "--mount-overlay") == 0) {
    if (mount("vhgv-rootfs", argv[3], "overlay", 0, argv[2]) < 0) {
      fprintf(stderr, "vhgv-reaper: mounting the instance root (overlay %s) on %s: %s\n", argv[2], argv[3], strerror(errno));
      return 125;
    }
    argv += 3;
    argc -= 3;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: vhgv-reaper [--mount-overlay OPTIONS TARGET] RUNSC [ARG...]\n");
    return 2;
  }
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) < 0) die("pipe");

  pid_t subreaper = fork();
  if (subreaper < 0) die("fork");
  if (subreaper > 0) {
    /* The caller's process: exit as runsc did once the subreaper says how. */
    close(status_pipe[1]);
    int code = 127;
    ssize_t n;
    do n = read(status_pipe[0], &code, sizeof code);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof code ? code : 127;
  }

  close(status_pipe[0]);
  /* Its own session: the caller's terminal or process group ending must not end the sandbox's parent. */
  if (setsid() < 0) die("setsid");
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("PR_SET_CHILD_SUBREAPER");
  pid_t runsc = fork();
  if (runsc < 0) die("fork");
  if (runsc == 0) {
    execv(argv[1], argv + 1);
    execvp(argv[1], argv + 1);
    die(argv[1]);
  }
  int ws;
  while (waitpid(runsc, &ws, 0) < 0) {
    if (errno != EINTR) die("waitpid");
  }
  int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  /* Nothing of the caller's is kept but stdout (the log): stdin and stderr go to /dev/null. */
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDERR_FILENO);
  }
  if (write_all(status_pipe[1], (const char *)&code, sizeof code) < 0) _exit(127);
  close(status_pipe[1]);
  reap_until_alone();
  return 0;
}
