/*
 * vhfc-init: PID 1 of a function microVM. It turns any OCI image into a bootable guest without an
 * in-guest agent: mounts the kernel filesystems, configures the NIC from the kernel's `ip=` argument
 * (also when the kernel lacks IP autoconfiguration), then starts the image's entrypoint with the
 * env, user and working directory the host wrote into /.vhfc/config, reaps orphans, forwards
 * SIGTERM/SIGINT and reboots the VM (which ends Firecracker) when the entrypoint exits.
 *
 * Config format (one record per line, `\\` and `\n` escaped): `arg X`, `env K=V`, `cwd D`, `user U`
 * with U = uid[:gid] or name[:group], resolved with the guest's /etc/passwd and /etc/group.
 *
 * Host test mode: `vhfc-init --cmdline-file F --config F` skips mounts, hostname and reboot and
 * exits with the entrypoint's status instead; everything else runs as in the VM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ITEMS 1024

static int test_mode = 0;
static pid_t main_child = -1;

static void logmsg(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("vhfc-init: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void finish(int status) {
  if (test_mode) exit(status);
  sync();
  /* With reboot=k Firecracker sees the keyboard-controller reset and exits. */
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("vhfc-init: fatal: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  finish(127);
}

static char *read_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return buf;
}

/* The root disk is the function image, read-only and shared by every VM of the revision; the
 * VM's writes go to a small disk of its own, named by the kernel argument vhfc.rw=<device> and laid
 * over the image with overlayfs. The merged tree becomes the root before anything else runs. */
static void enter_writable_root(void) {
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die("mount /proc: %s", strerror(errno));
  char *cmdline = read_file("/proc/cmdline");
  umount("/proc");
  const char *arg = cmdline ? strstr(cmdline, "vhfc.rw=") : NULL;
  if (!arg) {
    free(cmdline);
    return; /* a writable root disk: nothing to lay over it */
  }
  arg += strlen("vhfc.rw=");
  size_t n = strcspn(arg, " \n");
  char dev[48];
  if (n == 0 || n > 32 || memchr(arg, '/', n)) die("vhfc.rw= must name a block device, got %.*s", (int)n, arg);
  snprintf(dev, sizeof dev, "/dev/%.*s", (int)n, arg);
  free(cmdline);
  /* A kernel with DEVTMPFS_MOUNT has mounted it already. */
  if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL) != 0 && errno != EBUSY) die("mount /dev: %s", strerror(errno));
  if (mount(dev, "/.vhfc/rw", "ext4", MS_NOATIME, NULL) != 0) die("mount the writable layer %s: %s", dev, strerror(errno));
  /* The new root mounts its own /dev; this one only served to find the device. */
  umount2("/dev", MNT_DETACH);
  mkdir("/.vhfc/rw/upper", 0755);
  mkdir("/.vhfc/rw/work", 0755);
  if (mount("overlay", "/.vhfc/root", "overlay", 0, "lowerdir=/,upperdir=/.vhfc/rw/upper,workdir=/.vhfc/rw/work") != 0)
    die("overlay the writable layer on the image: %s", strerror(errno));
  if (chdir("/.vhfc/root") != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 || chdir("/") != 0)
    die("switch to the merged root: %s", strerror(errno));
}

static void mount_kernel_filesystems(void) {
  static const struct { const char *src, *dst, *type; unsigned long flags; } mounts[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV},
  };
  for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++) {
    mkdir(mounts[i].dst, 0755);
    if (mount(mounts[i].src, mounts[i].dst, mounts[i].type, mounts[i].flags, NULL) != 0 && errno != EBUSY)
      logmsg("mount %s: %s", mounts[i].dst, strerror(errno));
  }
  chmod("/tmp", 01777);
  /* OCI images ship an empty /dev, so the kernel may have found no console for us: take it now
   * that devtmpfs is there, so our messages and the function's output reach the serial port. */
  if (fcntl(1, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0) {
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd >= 0) {
      for (int i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0) dup2(fd, i);
      if (fd > 2) close(fd);
    }
  }
}

/* The kernel's ip= syntax: client:server:gateway:netmask:hostname:device:autoconf[:...] */
struct ipconf {
  char client[64], gateway[64], netmask[64], hostname[65], device[IFNAMSIZ];
  int present;
};

static void field(const char **p, char *out, size_t cap) {
  size_t n = strcspn(*p, ": \n");
  if (n >= cap) n = cap - 1;
  memcpy(out, *p, n);
  out[n] = '\0';
  *p += strcspn(*p, ": \n");
  if (**p == ':') (*p)++;
}

static struct ipconf parse_ip_arg(const char *cmdline) {
  struct ipconf c;
  memset(&c, 0, sizeof c);
  const char *p = cmdline;
  while ((p = strstr(p, "ip=")) != NULL) {
    if (p == cmdline || p[-1] == ' ') break;
    p += 3;
  }
  if (p == NULL) return c;
  p += 3;
  char server[64];
  field(&p, c.client, sizeof c.client);
  field(&p, server, sizeof server);
  field(&p, c.gateway, sizeof c.gateway);
  field(&p, c.netmask, sizeof c.netmask);
  field(&p, c.hostname, sizeof c.hostname);
  field(&p, c.device, sizeof c.device);
  if (c.device[0] == '\0') strcpy(c.device, "eth0");
  c.present = c.client[0] != '\0';
  return c;
}

static int set_addr(int fd, unsigned long req, const char *dev, const char *addr) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
    logmsg("bad IPv4 address %s", addr);
    return -1;
  }
  return ioctl(fd, req, &ifr);
}

static int link_up(int fd, const char *dev) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl(fd, SIOCSIFFLAGS, &ifr);
}

static void configure_network(const struct ipconf *c) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    logmsg("socket: %s", strerror(errno));
    return;
  }
  if (link_up(fd, "lo") != 0) logmsg("lo up: %s", strerror(errno));
  if (c->present) {
    if (set_addr(fd, SIOCSIFADDR, c->device, c->client) != 0) logmsg("%s address %s: %s", c->device, c->client, strerror(errno));
    if (c->netmask[0] && set_addr(fd, SIOCSIFNETMASK, c->device, c->netmask) != 0) logmsg("%s netmask: %s", c->device, strerror(errno));
    if (link_up(fd, c->device) != 0) logmsg("%s up: %s", c->device, strerror(errno));
    if (c->gateway[0]) {
      struct rtentry rt;
      memset(&rt, 0, sizeof rt);
      struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
      struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
      struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
      gw->sin_family = dst->sin_family = mask->sin_family = AF_INET;
      inet_pton(AF_INET, c->gateway, &gw->sin_addr);
      rt.rt_flags = RTF_UP | RTF_GATEWAY;
      rt.rt_dev = (char *)c->device;
      /* EEXIST: the kernel's own ip= handling got there first. */
      if (ioctl(fd, SIOCADDRT, &rt) != 0 && errno != EEXIST) logmsg("default route via %s: %s", c->gateway, strerror(errno));
    }
  }
  close(fd);
}

struct config {
  char *argv[MAX_ITEMS + 1];
  char *envp[MAX_ITEMS + 1];
  int argc, envc;
  char *cwd, *user;
};

static char *unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (*r == '\\' && r[1] == 'n') { *w++ = '\n'; r++; }
    else if (*r == '\\' && r[1] == '\\') { *w++ = '\\'; r++; }
    else *w++ = *r;
  }
  *w = '\0';
  return s;
}

static void parse_config(char *text, struct config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->cwd = "/";
  cfg->user = "0";
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *sp = strchr(line, ' ');
    if (!sp) die("config line without value: %s", line);
    *sp = '\0';
    char *value = unescape(sp + 1);
    if (!strcmp(line, "arg")) {
      if (cfg->argc == MAX_ITEMS) die("too many arguments");
      cfg->argv[cfg->argc++] = value;
    } else if (!strcmp(line, "env")) {
      if (cfg->envc == MAX_ITEMS) die("too many environment entries");
      cfg->envp[cfg->envc++] = value;
    } else if (!strcmp(line, "cwd")) cfg->cwd = value;
    else if (!strcmp(line, "user")) cfg->user = value;
    else die("unknown config key %s", line);
  }
  if (cfg->argc == 0) die("config has no entrypoint (no 'arg' lines)");
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++) if (*s < '0' || *s > '9') return 0;
  return 1;
}

/* Looks a name up in an /etc/passwd- or /etc/group-style file: returns field 2 (the id) or -1. */
static long lookup_id(const char *file, const char *name, long *primary_gid) {
  char *text = read_file(file);
  if (!text) return -1;
  long found = -1;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line && found < 0; line = strtok_r(NULL, "\n", &save)) {
    char *f[4] = {0};
    char *p = line;
    for (int i = 0; i < 4 && p; i++) {
      f[i] = p;
      p = strchr(p, ':');
      if (p) *p++ = '\0';
    }
    if (f[0] && f[2] && !strcmp(f[0], name)) {
      found = strtol(f[2], NULL, 10);
      if (primary_gid && f[3]) *primary_gid = strtol(f[3], NULL, 10);
    }
  }
  free(text);
  return found;
}

static void resolve_user(const char *spec, uid_t *uid, gid_t *gid) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec);
  char *group = strchr(buf, ':');
  if (group) *group++ = '\0';
  long primary = 0;
  long u = all_digits(buf) ? strtol(buf, NULL, 10) : lookup_id("/etc/passwd", buf, &primary);
  if (u < 0) die("user %s not found in /etc/passwd", buf);
  if (all_digits(buf)) {
    /* A numeric user still takes its primary group from /etc/passwd when listed there. */
    char *text = read_file("/etc/passwd");
    if (text) {
      char *save = NULL;
      for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4] = {0};
        char *p = line;
        for (int i = 0; i < 4 && p; i++) { f[i] = p; p = strchr(p, ':'); if (p) *p++ = '\0'; }
        if (f[2] && f[3] && strtol(f[2], NULL, 10) == u) { primary = strtol(f[3], NULL, 10); break; }
      }
      free(text);
    }
  }
  long g = primary;
  if (group) {
    g = all_digits(group) ? strtol(group, NULL, 10) : lookup_id("/etc/group", group, NULL);
    if (g < 0) die("group %s not found in /etc/group", group);
  }
  *uid = (uid_t)u;
  *gid = (gid_t)g;
}

/* execvpe with the PATH of the function's environment, not init's. */
static void exec_entrypoint(struct config *cfg) {
  const char *cmd = cfg->argv[0];
  if (strchr(cmd, '/')) {
    execve(cmd, cfg->argv, cfg->envp);
    die("exec %s: %s", cmd, strerror(errno));
  }
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (int i = 0; i < cfg->envc; i++)
    if (!strncmp(cfg->envp[i], "PATH=", 5)) path = cfg->envp[i] + 5;
  char candidate[4096];
  int last_errno = ENOENT;
  for (const char *p = path; *p;) {
    size_t n = strcspn(p, ":");
    snprintf(candidate, sizeof candidate, "%.*s/%s", (int)n, n ? p : ".", cmd);
    execve(candidate, cfg->argv, cfg->envp);
    if (errno != ENOENT) last_errno = errno;
    p += n;
    if (*p == ':') p++;
  }
  die("exec %s (PATH=%s): %s", cmd, path, strerror(last_errno));
}

static void forward_signal(int sig) {
  if (main_child > 0) kill(main_child, sig);
}

int main(int argc, char **argv) {
  const char *cmdline_path = "/proc/cmdline";
  const char *config_path = "/.vhfc/config";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--cmdline-file")) cmdline_path = argv[i + 1], test_mode = 1;
    else if (!strcmp(argv[i], "--config")) config_path = argv[i + 1], test_mode = 1;
    else die("unknown option %s", argv[i]);
  }
  if (!test_mode) {
    enter_writable_root();
    mount_kernel_filesystems();
  }

  char *cmdline = read_file(cmdline_path);
  if (!cmdline) die("cannot read %s: %s", cmdline_path, strerror(errno));
  struct ipconf ip = parse_ip_arg(cmdline);
  configure_network(&ip);
  if (!test_mode && ip.hostname[0]) sethostname(ip.hostname, strlen(ip.hostname));

  char *text = read_file(config_path);
  if (!text) die("cannot read %s: %s", config_path, strerror(errno));
  struct config cfg;
  parse_config(text, &cfg);
  uid_t uid;
  gid_t gid;
  resolve_user(cfg.user, &uid, &gid);

  signal(SIGTERM, forward_signal);
  signal(SIGINT, forward_signal);
  main_child = fork();
  if (main_child < 0) die("fork: %s", strerror(errno));
  if (main_child == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    setsid();
    if (chdir(cfg.cwd) != 0) die("chdir %s: %s", cfg.cwd, strerror(errno));
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) die("switch to %u:%u: %s", uid, gid, strerror(errno));
    exec_entrypoint(&cfg);
  }
  /* PID 1 reaps every orphan; the entrypoint's exit ends the VM. */
  for (;;) {
    int status;
    pid_t pid = wait(&status);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) finish(127);
    if (pid == main_child) {
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      logmsg("entrypoint exited with status %d", code);
      finish(code);
    }
  }
}
