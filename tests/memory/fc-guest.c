/*
 * Test double standing in for Firecracker's side of a UFFD snapshot restore (and, for the
 * benchmark, for a VM resumed with the File backend). It does what Firecracker's
 * guest_memory_from_uffd does: creates a userfaultfd (O_CLOEXEC|O_NONBLOCK, feature
 * EVENT_REMOVE), maps anonymous regions, registers them in MISSING mode, connects to the
 * handler's socket and sends the regions as JSON with the uffd as SCM_RIGHTS, keeping the socket
 * open. Then it plays a "guest": it touches pages following traces and reports what it saw.
 *
 * Usage: fc-guest [options]
 *   --socket PATH          handler socket (uffd mode)
 *   --regions N[,N...]     region sizes in bytes; file offsets follow each other (default 64 MiB)
 *   --fields both|new|kib|none   which page-size fields the JSON carries (default both, as v1.13+)
 *   --no-fd                send the JSON without the userfaultfd
 *   --message-file F       send F's bytes instead of the generated JSON
 *   --lie-base             announce region 0 one region-size higher than it is mapped
 *   --send-nothing         connect and send nothing
 *   --file-backed MEMFILE  no uffd: map MEMFILE MAP_PRIVATE (Firecracker's File backend)
 *   --limit WSFILE         no uffd: one O_DIRECT read of a working-set file, one copy into memory
 *   --prefault             with --limit: allocate buffer and memory before the clock starts
 *   --trace FILE           touch FILE's pages right after the handshake, print the result
 *   --wait-go              print {"armed":true} once the regions are registered, then wait for a
 *                          line on stdin before connecting (several guests restored at once)
 * stdin commands (one JSON line answered per command):
 *   touch FILE [sums]      touch the pages listed in FILE (u32 little-endian page numbers)
 *   vcpus N FILE           N threads touch FILE's pages at once, like vCPUs racing on the same
 *                          pages (exercises EEXIST + wake); answers with the per-page sums
 *   remove PAGE COUNT      madvise(MADV_DONTNEED) those pages (balloon deflate path)
 *   churn N FILE           one thread touches FILE's pages N times over while another keeps
 *                          removing them with MADV_DONTNEED (REMOVE events racing faults)
 *   exit
 * Page numbers count across regions in order (the same as memory-file pages).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PS 4096ull
#define MAXR 8

static uint8_t *base[MAXR];
static uint64_t rsize[MAXR], roff[MAXR];
static int nreg = 0;

static void die(const char *what) {
  fprintf(stderr, "fc-guest: %s: %s\n", what, strerror(errno));
  exit(2);
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint8_t *page_addr(uint64_t page) {
  uint64_t off = page * PS;
  for (int i = 0; i < nreg; i++)
    if (off >= roff[i] && off < roff[i] + rsize[i]) return base[i] + (off - roff[i]);
  return NULL;
}

/* FNV-1a, 32 bit, over one page: what the test compares against the memory file. */
static uint32_t page_sum(const uint8_t *p) {
  uint32_t h = 2166136261u;
  for (uint64_t i = 0; i < PS; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static uint32_t *load_trace(const char *path, size_t *n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  struct stat st;
  fstat(fd, &st);
  uint32_t *t = malloc(st.st_size + 4);
  if (read(fd, t, st.st_size) != st.st_size) die("read trace");
  close(fd);
  *n = (size_t)st.st_size / 4;
  return t;
}

static void touch(const char *path, int sums) {
  size_t n;
  uint32_t *t = load_trace(path, &n);
  /* Residency before touching: pages REAP installed are present without any fault. */
  size_t resident = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char v = 0;
    uint8_t *a = page_addr(t[i]);
    if (a && mincore(a, PS, &v) == 0 && (v & 1)) resident++;
  }
  uint64_t t0 = now_ns();
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t *a = page_addr(t[i]);
    if (!a) {
      fprintf(stderr, "fc-guest: page %u outside guest memory\n", t[i]);
      exit(2);
    }
    sink ^= a[(t[i] * 64) % PS]; /* one read fault per page */
  }
  uint64_t t1 = now_ns();
  (void)sink;
  printf("{\"pages\":%zu,\"residentBefore\":%zu,\"elapsedNs\":%llu", n, resident, (unsigned long long)(t1 - t0));
  if (sums) {
    printf(",\"sums\":[");
    for (size_t i = 0; i < n; i++) printf("%s%u", i ? "," : "", page_sum(page_addr(t[i])));
    printf("]");
  }
  printf("}\n");
  fflush(stdout);
  free(t);
}

struct vcpu_arg {
  uint32_t *trace;
  size_t n;
  size_t start;
};

static void *vcpu_main(void *p) {
  struct vcpu_arg *a = p;
  volatile uint8_t sink = 0;
  /* Each "vCPU" starts at a different point of the trace, so they meet on pages in flight. */
  for (size_t k = 0; k < a->n; k++) {
    uint32_t page = a->trace[(a->start + k) % a->n];
    sink ^= page_addr(page)[0];
  }
  (void)sink;
  return NULL;
}

static void vcpus(int count, const char *path) {
  size_t n;
  uint32_t *t = load_trace(path, &n);
  pthread_t th[16];
  struct vcpu_arg args[16];
  if (count > 16) count = 16;
  for (int i = 0; i < count; i++) {
    args[i] = (struct vcpu_arg){t, n, (n / (size_t)count) * (size_t)i};
    pthread_create(&th[i], NULL, vcpu_main, &args[i]);
  }
  for (int i = 0; i < count; i++) pthread_join(th[i], NULL);
  printf("{\"pages\":%zu,\"sums\":[", n);
  for (size_t i = 0; i < n; i++) printf("%s%u", i ? "," : "", page_sum(page_addr(t[i])));
  printf("]}\n");
  fflush(stdout);
  free(t);
}

struct churn_arg {
  uint32_t *trace;
  size_t n;
  int rounds;
  _Atomic int done;
};

static void *churn_remover(void *p) {
  struct churn_arg *a = p;
  size_t i = 0;
  while (!atomic_load(&a->done)) {
    madvise(page_addr(a->trace[i % a->n]), PS, MADV_DONTNEED);
    i += 7;
    usleep(50); /* a balloon, not a flood: each removal blocks until the handler reads it */
  }
  return NULL;
}

static void churn(int rounds, const char *path) {
  struct churn_arg a = {0};
  a.trace = load_trace(path, &a.n);
  a.rounds = rounds;
  pthread_t th;
  pthread_create(&th, NULL, churn_remover, &a);
  volatile uint8_t sink = 0;
  for (int r = 0; r < rounds; r++)
    for (size_t i = 0; i < a.n; i++) sink ^= page_addr(a.trace[i])[0];
  (void)sink;
  atomic_store(&a.done, 1);
  pthread_join(th, NULL);
  printf("{\"pages\":%zu,\"sums\":[", a.n);
  for (size_t i = 0; i < a.n; i++) printf("%s%u", i ? "," : "", page_sum(page_addr(a.trace[i])));
  printf("]}\n");
  fflush(stdout);
  free(a.trace);
}

static int make_uffd(void) {
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev < 0) die("userfaultfd");
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    close(dev);
    if (fd < 0) die("USERFAULTFD_IOC_NEW");
  }
  struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE};
  if (ioctl(fd, UFFDIO_API, &api) != 0) die("UFFDIO_API");
  return fd;
}

static void limit_run(const char *ws, uint64_t total, int prefault) {
  /* The floor for any prefetcher: one sequential O_DIRECT read plus one copy of each run.
     With prefault, the read buffer and the destination are allocated before the clock starts,
     leaving pure I/O plus memcpy (a stricter floor than any real restore can reach). */
  struct stat st;
  if (stat(ws, &st) != 0) die(ws);
  int pop = prefault ? MAP_POPULATE : 0;
  size_t cap = ((size_t)st.st_size + 4095) & ~(size_t)4095;
  uint8_t *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | pop, -1, 0);
  uint8_t *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | pop, -1, 0);
  if (buf == MAP_FAILED || mem == MAP_FAILED) die("mmap");
  uint64_t t0 = now_ns();
  int fd = open(ws, O_RDONLY | O_DIRECT);
  if (fd < 0) die(ws);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t r = pread(fd, buf + got, cap - got, got);
    if (r <= 0) die("pread");
    got += r;
  }
  close(fd);
  uint64_t t1 = now_ns();
  uint64_t count, index_off, data_off;
  memcpy(&count, buf + 16, 8);
  memcpy(&index_off, buf + 32, 8);
  memcpy(&data_off, buf + 40, 8);
  const uint32_t *idx = (const uint32_t *)(buf + index_off);
  for (uint64_t i = 0; i < count;) {
    uint64_t j = i + 1;
    while (j < count && idx[j] == idx[i] + (j - i)) j++;
    memcpy(mem + (uint64_t)idx[i] * PS, buf + data_off + i * PS, (j - i) * PS);
    i = j;
  }
  uint64_t t2 = now_ns();
  printf("{\"pages\":%llu,\"readNs\":%llu,\"copyNs\":%llu,\"elapsedNs\":%llu,\"sinceStartNs\":%llu}\n",
         (unsigned long long)count, (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
         (unsigned long long)(t2 - t0), (unsigned long long)(t2 - t0));
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *sock = NULL, *fields = "both", *msgfile = NULL, *file_backed = NULL, *limit = NULL, *trace = NULL;
  int no_fd = 0, lie = 0, nothing = 0, prefault = 0, wait_go = 0;
  char regions_arg[256] = "67108864";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--socket")) sock = argv[++i];
    else if (!strcmp(argv[i], "--regions")) snprintf(regions_arg, sizeof regions_arg, "%s", argv[++i]);
    else if (!strcmp(argv[i], "--fields")) fields = argv[++i];
    else if (!strcmp(argv[i], "--no-fd")) no_fd = 1;
    else if (!strcmp(argv[i], "--message-file")) msgfile = argv[++i];
    else if (!strcmp(argv[i], "--lie-base")) lie = 1;
    else if (!strcmp(argv[i], "--send-nothing")) nothing = 1;
    else if (!strcmp(argv[i], "--file-backed")) file_backed = argv[++i];
    else if (!strcmp(argv[i], "--limit")) limit = argv[++i];
    else if (!strcmp(argv[i], "--prefault")) prefault = 1;
    else if (!strcmp(argv[i], "--trace")) trace = argv[++i];
    else if (!strcmp(argv[i], "--wait-go")) wait_go = 1;
    else {
      fprintf(stderr, "fc-guest: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  uint64_t off = 0;
  for (char *s = strtok(regions_arg, ","); s && nreg < MAXR; s = strtok(NULL, ",")) {
    rsize[nreg] = strtoull(s, NULL, 10);
    roff[nreg] = off;
    off += rsize[nreg++];
  }
  uint64_t t_start = now_ns();
  if (limit) {
    limit_run(limit, off, prefault);
    return 0;
  }
  if (file_backed) {
    int fd = open(file_backed, O_RDONLY);
    if (fd < 0) die(file_backed);
    for (int i = 0; i < nreg; i++) {
      base[i] = mmap(NULL, rsize[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, (off_t)roff[i]);
      if (base[i] == MAP_FAILED) die("mmap memory file");
    }
  } else {
    int uffd = make_uffd();
    for (int i = 0; i < nreg; i++) {
      base[i] = mmap(NULL, rsize[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (base[i] == MAP_FAILED) die("mmap");
      struct uffdio_register reg = {.range = {.start = (uint64_t)(uintptr_t)base[i], .len = rsize[i]},
                                    .mode = UFFDIO_REGISTER_MODE_MISSING};
      if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) die("UFFDIO_REGISTER");
    }
    char msg[8192];
    size_t len = 0;
    if (msgfile) {
      int fd = open(msgfile, O_RDONLY);
      if (fd < 0) die(msgfile);
      ssize_t r = read(fd, msg, sizeof msg);
      if (r < 0) die("read message file");
      len = (size_t)r;
      close(fd);
    } else {
      len += snprintf(msg + len, sizeof msg - len, "[");
      for (int i = 0; i < nreg; i++) {
        uint64_t b = (uint64_t)(uintptr_t)base[i] + (lie && i == 0 ? rsize[0] * 4 : 0);
        len += snprintf(msg + len, sizeof msg - len, "%s{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%llu",
                        i ? "," : "", (unsigned long long)b, (unsigned long long)rsize[i], (unsigned long long)roff[i]);
        if (!strcmp(fields, "both") || !strcmp(fields, "new")) len += snprintf(msg + len, sizeof msg - len, ",\"page_size\":4096");
        if (!strcmp(fields, "both") || !strcmp(fields, "kib")) len += snprintf(msg + len, sizeof msg - len, ",\"page_size_kib\":4096");
        len += snprintf(msg + len, sizeof msg - len, "}");
      }
      len += snprintf(msg + len, sizeof msg - len, "]");
    }
    if (wait_go) {
      char go[64];
      printf("{\"armed\":true}\n");
      fflush(stdout);
      if (!fgets(go, sizeof go, stdin)) die("waiting for go");
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    t_start = now_ns();
    if (!nothing) {
      union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr al;
      } ctl;
      struct iovec iov = {.iov_base = msg, .iov_len = len};
      struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
      if (!no_fd) {
        m.msg_control = ctl.b;
        m.msg_controllen = sizeof ctl.b;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &uffd, sizeof(int));
      }
      if (sendmsg(s, &m, 0) < 0) die("sendmsg");
    }
    /* Like Firecracker: the socket stays open (and unused) for the VMM's lifetime. */
  }
  printf("{\"handshakeSent\":true}\n");
  fflush(stdout);
  if (trace) {
    size_t n;
    uint32_t *t = load_trace(trace, &n);
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i++) sink ^= page_addr(t[i])[(t[i] * 64) % PS];
    (void)sink;
    uint64_t t1 = now_ns();
    printf("{\"pages\":%zu,\"sinceStartNs\":%llu}\n", n, (unsigned long long)(t1 - t_start));
    fflush(stdout);
    free(t);
  }
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    char path[4000];
    unsigned long long p, c;
    int nv;
    if (sscanf(line, "churn %d %3999s", &nv, path) == 2) {
      churn(nv, path);
    } else if (sscanf(line, "vcpus %d %3999s", &nv, path) == 2) {
      vcpus(nv, path);
    } else if (sscanf(line, "touch %3999s", path) == 1) {
      touch(path, strstr(line, " sums") != NULL);
    } else if (sscanf(line, "remove %llu %llu", &p, &c) == 2) {
      int rc = madvise(page_addr(p), c * PS, MADV_DONTNEED);
      printf("{\"removed\":%s}\n", rc == 0 ? "true" : "false");
      fflush(stdout);
    } else if (!strncmp(line, "exit", 4)) {
      break;
    }
  }
  return 0;
}
