// The OCI runtime spec (config.json) runc gets for one function container. Pure, so tests can
// snapshot it; the defaults are the usual container ones (Docker's capability set, masked /proc
// paths), written out here because the driver talks to containerd below its Go client.

export interface ContainerSpecInput {
  hostname: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  memoryMiB: number;
  vcpus: number;
  /** cgroup path runc creates (cgroupfs driver). */
  cgroupsPath: string;
  /** Share the host's network namespace (the function is reached on a host port). */
  hostNetwork: boolean;
  /** Otherwise join this existing network namespace (a path under /var/run/netns); default a new empty one. */
  networkNamespacePath?: string;
}

const CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

const MASKED_PATHS = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
];

const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** Merges `KEY=value` lists; later entries replace earlier ones with the same key. */
export function mergeEnv(...lists: string[][]): string[] {
  const merged = new Map<string, string>();
  for (const list of lists) {
    for (const entry of list) {
      const eq = entry.indexOf("=");
      merged.set(eq === -1 ? entry : entry.slice(0, eq), entry);
    }
  }
  return [...merged.values()];
}

export function buildContainerSpec(input: ContainerSpecInput): Record<string, unknown> {
  if (input.args.length === 0) throw new Error("image has neither Entrypoint nor Cmd: nothing to run");
  const period = 100_000;
  const namespaces: { type: string; path?: string }[] = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
  if (!input.hostNetwork) namespaces.push({ type: "network", ...(input.networkNamespacePath ? { path: input.networkNamespacePath } : {}) });
  const mounts: Record<string, unknown>[] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"] },
    { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"] },
  ];
  if (input.hostNetwork) {
    // Name resolution as the host has it, read-only.
    mounts.push({ destination: "/etc/resolv.conf", type: "bind", source: "/etc/resolv.conf", options: ["rbind", "ro"] });
  }
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: input.uid, gid: input.gid },
      args: input.args,
      env: input.env,
      cwd: input.cwd || "/",
      capabilities: { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES },
      // No rlimits: raising them needs CAP_SYS_RESOURCE, which root lacks on some hosts (this
      // one); the process inherits the shim's limits.
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: false },
    hostname: input.hostname,
    mounts,
    linux: {
      resources: {
        devices: [{ allow: false, access: "rwm" }],
        memory: { limit: input.memoryMiB * 1024 * 1024 },
        cpu: { quota: Math.round(input.vcpus * period), period },
        pids: { limit: 4096 },
      },
      cgroupsPath: input.cgroupsPath,
      namespaces,
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}
