import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execCommand } from "./exec-command.js";
import { GUEST_CONFIG_PATH, GUEST_INIT_PATH } from "./boot-args.js";

/**
 * Copy-on-write clone of an ext4 image: `cp --reflink=auto --sparse=always` shares extents on
 * filesystems with reflinks (XFS, btrfs) and otherwise makes a sparse copy (only written blocks
 * take space). Either way the clone is private to one VM.
 */
export async function cloneDiskImage(source: string, target: string): Promise<void> {
  await execCommand("cp", ["--reflink=auto", "--sparse=always", source, target]);
}

/** debugfs commands that (re)place our init and its config in an ext4 image. Pure. */
export function buildInjectScript(initOnHost: string, configOnHost: string): string {
  const dir = GUEST_INIT_PATH.slice(0, GUEST_INIT_PATH.lastIndexOf("/"));
  return [
    `mkdir ${dir}`,
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
