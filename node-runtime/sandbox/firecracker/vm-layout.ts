import { join } from "node:path";

/**
 * Names of a VM's files as Firecracker sees them: relative to its working directory, which is the
 * jail's root (jailer: the chroot; direct: the VM directory). Every VM, boot or clone, uses these
 * same names, so the drive paths recorded in a snapshot resolve to the loading VM's own copies.
 */
export const IN_JAIL = {
  apiSocket: "api.socket",
  kernel: "vmlinux",
  rootfs: "rootfs.ext4",
  snapshotDir: "snapshot",
  vmstate: "snapshot/vmstate",
  memory: "snapshot/memory",
} as const;

/** Files a committed snapshot directory holds (relative to it). */
export const SNAPSHOT_FILES = {
  vmstate: "vmstate",
  memory: "memory",
  rootfs: "rootfs.ext4",
  meta: "firecracker-snapshot.json",
} as const;

export type JailMode =
  | { kind: "direct" }
  | { kind: "jailer"; jailerBin: string; uid: number; gid: number; chrootBaseDir: string };

/** Host directory that is the VM's root as Firecracker sees it. */
export function jailRoot(mode: JailMode, runDir: string, instanceId: string, firecrackerBin: string): string {
  if (mode.kind === "direct") return join(runDir, instanceId);
  // The jailer's layout: <chroot base>/<exec file name>/<id>/root.
  const execName = firecrackerBin.slice(firecrackerBin.lastIndexOf("/") + 1);
  return join(mode.chrootBaseDir, execName, instanceId, "root");
}

/** The command line that starts Firecracker for one VM (pure; the spawn happens elsewhere). */
export function buildVmmCommand(opts: {
  mode: JailMode;
  firecrackerBin: string;
  instanceId: string;
  root: string;
  netns?: string;
}): { file: string; args: string[]; cwd: string } {
  const { mode, firecrackerBin, instanceId, root, netns } = opts;
  if (mode.kind === "jailer") {
    const args = [
      "--id", instanceId,
      "--exec-file", firecrackerBin,
      "--uid", String(mode.uid),
      "--gid", String(mode.gid),
      "--chroot-base-dir", mode.chrootBaseDir,
    ];
    if (netns !== undefined) args.push("--netns", `/var/run/netns/${netns}`);
    args.push("--", "--api-sock", `/${IN_JAIL.apiSocket}`);
    return { file: mode.jailerBin, args, cwd: root };
  }
  const fcArgs = ["--api-sock", join(root, IN_JAIL.apiSocket), "--id", instanceId];
  if (netns !== undefined) return { file: "ip", args: ["netns", "exec", netns, firecrackerBin, ...fcArgs], cwd: root };
  return { file: firecrackerBin, args: fcArgs, cwd: root };
}

/** The jailer accepts ids of alphanumerics and hyphens, at most 64 characters. */
export function checkInstanceId(id: string): void {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) {
    throw new Error(`instanceId ${JSON.stringify(id)} must be 1-64 characters of letters, digits and '-' (it names the jail)`);
  }
}
