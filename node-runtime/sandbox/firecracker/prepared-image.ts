import { createHash } from "node:crypto";
import { access, mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { cloneDiskImage, injectGuestInit } from "./rootfs.js";

/**
 * The function image with our init and its config written in, built once per (image, config, init)
 * and cached: a boot then only clones it. Keyed by content, so a changed config or init makes a new
 * one; concurrent builders of one key race harmlessly (the rename is atomic, the result identical).
 */
export async function preparedImage(cacheDir: string, baseExt4: string, initBinary: string, config: string): Promise<string> {
  const [base, init] = await Promise.all([stat(baseExt4), stat(initBinary)]);
  const key = createHash("sha256")
    .update(JSON.stringify([baseExt4, base.size, base.mtimeMs, initBinary, init.size, init.mtimeMs, config]))
    .digest("hex")
    .slice(0, 24);
  const target = join(cacheDir, `${key}.ext4`);
  try {
    await access(target);
    return target;
  } catch {
    // not prepared yet
  }
  await mkdir(cacheDir, { recursive: true });
  const scratch = await mkdtemp(join(cacheDir, ".build-"));
  try {
    const disk = join(scratch, "rootfs.ext4");
    await cloneDiskImage(baseExt4, disk);
    await injectGuestInit(disk, initBinary, config, scratch);
    await rename(disk, target);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return target;
}
