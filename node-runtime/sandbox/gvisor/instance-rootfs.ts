import { mkdir } from "node:fs/promises";
import path from "node:path";
import { runCommand } from "#node-runtime/images/run-command.js";
import { readProcFile } from "#node-runtime/system/proc-file.js";

/**
 * Each sandbox gets its root as a kernel overlay: the image store's rootfs as the read-only lower
 * layer, an upper layer in the instance directory. runsc creates mount points (and a few files) in
 * the root it is given even when the spec says read-only; the overlay keeps those out of the shared
 * rootfs. The function's own writes never reach it either: runsc --overlay2=root:memory keeps them
 * in sandbox memory, which is also what makes them part of a checkpoint.
 */
export interface InstanceRootfs {
  /** Mounted root for the bundle. */
  mountPoint: string;
  upper: string;
  work: string;
}

export function instanceRootfsLayout(instanceDir: string): InstanceRootfs {
  return {
    mountPoint: path.join(instanceDir, "rootfs"),
    upper: path.join(instanceDir, "upper"),
    work: path.join(instanceDir, "work"),
  };
}

/** overlayfs mount options; refuses paths that would break the option syntax. */
export function overlayOptions(lower: string, layout: InstanceRootfs): string {
  for (const p of [lower, layout.upper, layout.work]) {
    if (/[,:\\\n]/.test(p)) throw new Error(`path ${JSON.stringify(p)} cannot be used in an overlay mount (it holds , : or \\)`);
  }
  return `lowerdir=${lower},upperdir=${layout.upper},workdir=${layout.work}`;
}

/**
 * The instance root's directories and its overlay options, not yet mounted: the driver has the
 * reaper mount it right before runsc runs (one mount(2), no `mount` process on the start path).
 */
export async function prepareInstanceRootfs(lower: string, instanceDir: string): Promise<InstanceRootfs & { options: string }> {
  const layout = instanceRootfsLayout(instanceDir);
  const options = overlayOptions(lower, layout);
  for (const d of [layout.mountPoint, layout.upper, layout.work]) await mkdir(d, { recursive: true, mode: 0o755 });
  return { ...layout, options };
}

export async function mountInstanceRootfs(lower: string, instanceDir: string): Promise<InstanceRootfs> {
  const layout = await prepareInstanceRootfs(lower, instanceDir);
  await runCommand("mount", ["-t", "overlay", "vhgv-rootfs", "-o", layout.options, layout.mountPoint]);
  return layout;
}

export async function isMounted(mountPoint: string): Promise<boolean> {
  const info = await readProcFile("/proc/self/mountinfo");
  // field 5 is the mount point; spaces in it are escaped as \040
  return info.split("\n").some((line) => line.split(" ")[4]?.replaceAll("\\040", " ") === mountPoint);
}

/** Unmounts the instance root; falls back to a lazy unmount when something still holds it. */
export async function unmountInstanceRootfs(instanceDir: string): Promise<void> {
  const { mountPoint } = instanceRootfsLayout(instanceDir);
  if (!(await isMounted(mountPoint))) return;
  try {
    await runCommand("umount", [mountPoint]);
  } catch {
    await runCommand("umount", ["-l", mountPoint]);
  }
  if (await isMounted(mountPoint)) throw new Error(`cannot unmount ${mountPoint}`);
}
