/*
 * Minimal userfaultfd page-fault handler in plain C: the per-fault baseline the Node addon's
 * fault thread is compared with in bench/reap.ts. It speaks the same Firecracker handshake
 * (JSON regions + SCM_RIGHTS fd), serves every fault with one UFFDIO_COPY from a private mapping
 * of the memory file, and exits when the VMM closes its socket. No validation, no statistics.
 *
 * Usage: c-reference-handler SOCKET MEMFILE [CPU [SCHED_FIFO-PRIORITY]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct region {
  uint64_t base, size, offset;
};

static uint64_t field(const char **cur, const char *name) {
  const char *p = strstr(*cur, name);
  if (!p) return UINT64_MAX;
  p += strlen(name);
  *cur = p;
  return strtoull(p, NULL, 10);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s SOCKET MEMFILE [CPU]\n", argv[0]);
    return 2;
  }
  if (argc > 3 && atoi(argv[3]) >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(atoi(argv[3]), &set);
    sched_setaffinity(0, sizeof set, &set);
  }
  if (argc > 4 && atoi(argv[4]) > 0) {
    struct sched_param sp = {.sched_priority = atoi(argv[4])};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) perror("sched_setscheduler");
  }
  int mfd = open(argv[2], O_RDONLY);
  struct stat st;
  if (mfd < 0 || fstat(mfd, &st) != 0) return perror("memfile"), 1;
  const uint8_t *mem = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, mfd, 0);
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
  unlink(argv[1]);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1) != 0) return perror("listen"), 1;
  printf("listening\n");
  fflush(stdout);
  int c = accept(ls, NULL, NULL);
  char buf[65536];
  union {
    char b[CMSG_SPACE(sizeof(int))];
    struct cmsghdr al;
  } ctl;
  struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf - 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
  ssize_t n = recvmsg(c, &m, 0);
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  if (n <= 0 || !cm) return fprintf(stderr, "bad handshake\n"), 1;
  buf[n] = 0;
  int uffd;
  memcpy(&uffd, CMSG_DATA(cm), sizeof uffd);
  struct region r[16];
  int nr = 0;
  for (const char *cur = buf; nr < 16;) {
    uint64_t b = field(&cur, "\"base_host_virt_addr\":");
    if (b == UINT64_MAX) break;
    r[nr].base = b;
    r[nr].size = field(&cur, "\"size\":");
    r[nr].offset = field(&cur, "\"offset\":");
    nr++;
  }
  const uint64_t ps = 4096;
  struct pollfd p[2] = {{.fd = uffd, .events = POLLIN}, {.fd = c, .events = POLLIN}};
  for (;;) {
    if (poll(p, 2, -1) < 0 && errno != EINTR) return perror("poll"), 1;
    if (p[1].revents) break; /* VMM closed its socket: it is gone */
    struct uffd_msg msg;
    if (read(uffd, &msg, sizeof msg) != sizeof msg) continue;
    if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
    uint64_t dst = msg.arg.pagefault.address & ~(ps - 1);
    for (int i = 0; i < nr; i++) {
      if (dst < r[i].base || dst >= r[i].base + r[i].size) continue;
      struct uffdio_copy cp = {.dst = dst, .src = (uint64_t)(uintptr_t)(mem + r[i].offset + (dst - r[i].base)), .len = ps};
      if (ioctl(uffd, UFFDIO_COPY, &cp) != 0 && errno == EEXIST) {
        struct uffdio_range w = {.start = dst, .len = ps};
        ioctl(uffd, UFFDIO_WAKE, &w);
      }
      break;
    }
  }
  return 0;
}
