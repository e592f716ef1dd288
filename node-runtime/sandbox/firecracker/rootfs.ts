import { randomUUID } from "node:crypto";
import { access, mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execCommand } from "./exec-command.js";
import { GUEST_CONFIG_PATH, GUEST_INIT_PATH, GUEST_LAYER_DIRS } from "./boot-args.js";

/**
 * Copy-on-write clone of an ext4 image: `cp --reflink=auto --sparse=always` shares extents on
 * filesystems with reflinks (XFS, btrfs) and otherwise makes a sparse copy (only written blocks
 * take space). Either way the clone is private to one VM.
 */
export async function cloneDiskImage(source: string, target: string): Promise<void> {
  await execCommand("cp", ["--reflink=auto", "--sparse=always", source, target]);
}

/**
 * An empty ext4 file system of `sizeMiB`, made once and cloned for each VM's writable layer: a sparse
 * copy moves only its metadata (a few MiB), so a VM start copies no disk. Lazy inode-table and
 * journal initialisation keep the template small.
 */
export async function writableLayerTemplate(dir: string, sizeMiB: number): Promise<string> {
  const target = join(dir, `writable-layer-${sizeMiB}MiB.ext4`);
  try {
    await access(target);
    return target;
  } catch {
    // not made yet
  }
  await mkdir(dir, { recursive: true });
  // Unique per maker: runtimes sharing the directory may make it at the same time (the rename is atomic).
  const tmp = `${target}.${process.pid}.${randomUUID()}.tmp`;
  await execCommand("mkfs.ext4", ["-q", "-F", "-L", "vhfc-rw", "-E", "lazy_itable_init=1,lazy_journal_init=1", tmp, `${sizeMiB}M`]);
  await rename(tmp, target);
  return target;
}

/** debugfs commands that (re)place our init and its config in an ext4 image. Pure. */
export function buildInjectScript(initOnHost: string, configOnHost: string): string {
  const dir = GUEST_INIT_PATH.slice(0, GUEST_INIT_PATH.lastIndexOf("/"));
  return [
    `mkdir ${dir}`,
    // Already there in most images; debugfs reports that and goes on.
    ...GUEST_LAYER_DIRS.map((d) => `mkdir ${d}`),
    `rm ${GUEST_INIT_PATH}`,
    `write ${initOnHost} ${GUEST_INIT_PATH}`,
    `sif ${GUEST_INIT_PATH} mode 0100755`,
    `sif ${GUEST_INIT_PATH} uid 0`,
    `sif ${GUEST_INIT_PATH} gid 0`,
    `rm ${GUEST_CONFIG_PATH}`,
    `write ${configOnHost} ${GUEST_CONFIG_PATH}`,
    `sif ${GUEST_CONFIG_PATH} mode 0100644`,
    "",
  ].join("\n");
}

/**
 * Writes the init binary and its config into a VM's (unmounted) disk with `debugfs -w`, then reads
 * them back: debugfs reports most failures on stderr yet exits 0, so the read-back is the check.
 */
export async function injectGuestInit(disk: string, initOnHost: string, config: string, workDir: string): Promise<void> {
  for (const p of [initOnHost, workDir]) {
    if (/\s/.test(p)) throw new Error(`path ${JSON.stringify(p)} contains whitespace, which debugfs scripts cannot quote`);
  }
  const configOnHost = join(workDir, "guest-config");
  const script = join(workDir, "inject.debugfs");
  await writeFile(configOnHost, config);
  await writeFile(script, buildInjectScript(initOnHost, configOnHost));
  await execCommand("debugfs", ["-w", "-f", script, disk]);
  const back = await execCommand("debugfs", ["-R", `cat ${GUEST_CONFIG_PATH}`, disk]);
  if (back !== config) throw new Error(`guest init config did not land in ${disk} (debugfs could not write it; is the image full or not ext4?)`);
  const stat = await execCommand("debugfs", ["-R", `stat ${GUEST_INIT_PATH}`, disk]);
  if (!/Mode:\s+0755/.test(stat)) throw new Error(`guest init did not land in ${disk} as an executable`);
}
