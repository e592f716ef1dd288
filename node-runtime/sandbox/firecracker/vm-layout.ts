import { createHash } from "node:crypto";
import { join } from "node:path";
import { SandboxRequestError } from "../errors.js";

/**
 * Names of a VM's files as Firecracker sees them: relative to its working directory, which is the
 * jail's root (jailer: the chroot; direct: the VM directory). Every VM, boot or clone, uses these
 * same names, so the drive paths recorded in a snapshot resolve to the loading VM's own copies.
 */
export const IN_JAIL = {
  apiSocket: "api.socket",
  /** Where the REAP page-fault handler listens for the VMM (restores with a Uffd backend). */
  uffdSocket: "uffd.socket",
  kernel: "vmlinux",
  /** The prepared function image: read-only, shared by every VM of the revision (a hard link, no copy). */
  rootfs: "rootfs.ext4",
  /** The VM's own small writable disk, laid over the image by our init (overlayfs). */
  writableLayer: "rw.ext4",
  snapshotDir: "snapshot",
  vmstate: "snapshot/vmstate",
  memory: "snapshot/memory",
} as const;

/** Files a committed snapshot directory holds (relative to it). */
export const SNAPSHOT_FILES = {
  vmstate: "vmstate",
  memory: "memory",
  /** The read-only image the VM ran on, linked (it never changes, so nothing is copied). */
  rootfs: "rootfs.ext4",
  /** The VM's writable layer as it was at the pause. */
  writableLayer: "rw.ext4",
  meta: "firecracker-snapshot.json",
} as const;

export type JailMode = { kind: "direct" } | { kind: "jailer"; jailerBin: string; uid: number; gid: number; chrootBaseDir: string };

/** The host directory holding every VM's directory (direct: runDir; jailer: <chroot base>/<exec file name>). */
export function vmsDir(mode: JailMode, runDir: string, firecrackerBin: string): string {
  if (mode.kind === "direct") return runDir;
  const execName = firecrackerBin.slice(firecrackerBin.lastIndexOf("/") + 1);
  return join(mode.chrootBaseDir, execName);
}

/** Host directory that is the VM's root as Firecracker sees it. */
export function jailRoot(mode: JailMode, runDir: string, instanceId: string, firecrackerBin: string): string {
  const home = join(vmsDir(mode, runDir, firecrackerBin), instanceId);
  // The jailer's layout: <chroot base>/<exec file name>/<id>/root.
  return mode.kind === "direct" ? home : join(home, "root");
}

/** The command line that starts Firecracker for one VM (pure; the spawn happens elsewhere). */
export function buildVmmCommand(opts: { mode: JailMode; firecrackerBin: string; instanceId: string; root: string; netns?: string }): {
  file: string;
  args: string[];
  cwd: string;
} {
  const { mode, firecrackerBin, instanceId, root, netns } = opts;
  if (mode.kind === "jailer") {
    const args = [
      "--id",
      instanceId,
      "--exec-file",
      firecrackerBin,
      "--uid",
      String(mode.uid),
      "--gid",
      String(mode.gid),
      "--chroot-base-dir",
      mode.chrootBaseDir,
    ];
    if (netns !== undefined) args.push("--netns", `/var/run/netns/${netns}`);
    args.push("--", "--api-sock", `/${IN_JAIL.apiSocket}`);
    return { file: mode.jailerBin, args, cwd: root };
  }
  const fcArgs = ["--api-sock", join(root, IN_JAIL.apiSocket), "--id", instanceId];
  if (netns !== undefined) return { file: "ip", args: ["netns", "exec", netns, firecrackerBin, ...fcArgs], cwd: root };
  return { file: firecrackerBin, args: fcArgs, cwd: root };
}

/** Unix socket paths must fit sockaddr_un.sun_path: 108 bytes with the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** vmName() returns ids of at most this many characters. */
export const MAX_VM_NAME_LENGTH = 25;

/**
 * The name of an instance's VM directory and its jailer `--id`: the instance id itself when it is
 * short and of the jailer's alphabet, else a 8-character prefix of it (other characters made '-')
 * and 16 hex digits of its SHA-256. Bounded, so the sockets in a VM's directory fit in a Unix
 * socket address whatever id the orchestrator generates; the lengths keep the two forms apart.
 */
export function vmName(instanceId: string): string {
  if (/^[A-Za-z0-9-]{1,24}$/.test(instanceId)) return instanceId;
  const prefix = instanceId.slice(0, 8).replace(/[^A-Za-z0-9-]/g, "-");
  return `${prefix}-${createHash("sha256").update(instanceId).digest("hex").slice(0, 16)}`;
}

/**
 * Checked when a driver starts: the longest socket path any VM can have (the API socket, and the
 * page-fault handler's) fits in a Unix socket address. `field` names the setting to shorten.
 */
export function checkSocketPathRoom(mode: JailMode, runDir: string, firecrackerBin: string): void {
  const root = jailRoot(mode, runDir, "x".repeat(MAX_VM_NAME_LENGTH), firecrackerBin);
  const longest = [IN_JAIL.apiSocket, IN_JAIL.uffdSocket].map((f) => join(root, f)).sort((a, b) => Buffer.byteLength(b) - Buffer.byteLength(a))[0]!;
  const bytes = Buffer.byteLength(longest);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    const field = mode.kind === "direct" ? `runDir ${runDir}` : `jailer.chrootBaseDir ${mode.chrootBaseDir} (or the firecracker binary's file name)`;
    throw new Error(
      `Firecracker socket paths would be ${bytes} bytes (e.g. ${longest}), more than the ${MAX_SOCKET_PATH_BYTES} a Unix socket address holds: use a shorter ${field}`,
    );
  }
}

/** Instance ids the driver accepts: the orchestrator's alphabet and length (vmName() makes them jailer ids). */
export function checkInstanceId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id) || id.includes("..")) {
    throw new SandboxRequestError(
      `instanceId ${JSON.stringify(id)} must be 1-64 characters of letters, digits, '.', '_' and '-', starting with a letter or digit`,
    );
  }
}
