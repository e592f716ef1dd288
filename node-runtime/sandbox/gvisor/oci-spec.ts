import type { ImageConfig } from "#node-runtime/images/types.js";
import type { ResolvedUser } from "./image-user.js";

/** Where the relay and its socket directory appear inside every sandbox (same for all restores). */
export const SANDBOX_RELAY_PATH = "/.vhgv/relay";
export const SANDBOX_SOCKET_DIR = "/.vhgv/sock";
export const SOCKET_NAME = "fn.sock";

const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The default capability set container engines grant; nothing that reaches beyond the sandbox.
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

export interface SandboxSpecInput {
  image: ImageConfig;
  user: ResolvedUser;
  /** Read-only unpacked image root (runsc --overlay2 gives the sandbox a writable layer in memory). */
  rootfs: string;
  /** Host path of the static relay binary. */
  relayBinary: string;
  /** Host directory that holds the function's Unix socket. */
  socketDir: string;
  port: number;
  /** Added to the image's environment; later sources win: image, then driverEnv, then requestEnv. */
  driverEnv?: Record<string, string>;
  requestEnv?: Record<string, string>;
  vcpus: number;
  memoryMiB: number;
  /** Network namespace to join (runsc --network=sandbox); absent means a private empty one. */
  netnsPath?: string;
}

/** Merges KEY=VALUE lists, keeping first-seen order and letting later sources replace values. */
export function mergeEnv(base: string[], ...overrides: (Record<string, string> | undefined)[]): string[] {
  const merged = new Map<string, string>();
  for (const entry of base) {
    const eq = entry.indexOf("=");
    if (eq > 0) merged.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const o of overrides) for (const [k, v] of Object.entries(o ?? {})) merged.set(k, v);
  if (!merged.has("PATH")) merged.set("PATH", DEFAULT_PATH.slice("PATH=".length));
  return [...merged].map(([k, v]) => `${k}=${v}`);
}

/**
 * The OCI runtime spec (config.json) for one function sandbox. Pure: the same input gives the same
 * spec, and a snapshot restores only into a bundle built from the same input (apart from host
 * paths), which is what makes restores of one checkpoint interchangeable.
 */
export function buildSandboxSpec(input: SandboxSpecInput): Record<string, unknown> {
  const program = [...input.image.entrypoint, ...input.image.cmd];
  if (program.length === 0) throw new Error("image config has neither entrypoint nor cmd: nothing to start");
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) throw new Error(`port ${input.port} is not a TCP port`);
  if (!Number.isInteger(input.vcpus) || input.vcpus < 1) throw new Error(`vcpus ${input.vcpus} must be a positive integer`);
  if (!Number.isInteger(input.memoryMiB) || input.memoryMiB < 16) throw new Error(`memoryMiB ${input.memoryMiB} must be an integer of at least 16`);
  const socket = `${SANDBOX_SOCKET_DIR}/${SOCKET_NAME}`;
  const namespaces: Record<string, string>[] = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
  namespaces.push(input.netnsPath ? { type: "network", path: input.netnsPath } : { type: "network" });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: input.user.uid, gid: input.user.gid },
      args: [SANDBOX_RELAY_PATH, socket, String(input.port), "--", ...program],
      env: mergeEnv(input.image.env, input.driverEnv, input.requestEnv),
      cwd: input.image.workingDir || "/",
      capabilities: {
        bounding: CAPABILITIES,
        effective: CAPABILITIES,
        permitted: CAPABILITIES,
        inheritable: [],
        ambient: [],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1048576, soft: 1048576 }],
      noNewPrivileges: true,
    },
    root: { path: input.rootfs, readonly: false },
    hostname: "function",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"] },
      { destination: SANDBOX_RELAY_PATH, type: "bind", source: input.relayBinary, options: ["rbind", "ro"] },
      { destination: SANDBOX_SOCKET_DIR, type: "bind", source: input.socketDir, options: ["rbind", "rw"] },
    ],
    linux: {
      namespaces,
      resources: {
        memory: { limit: input.memoryMiB * 1024 * 1024 },
        cpu: { period: 100_000, quota: input.vcpus * 100_000 },
      },
    },
  };
}
