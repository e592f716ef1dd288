import { open } from "node:fs/promises";
import { runCommand } from "./run-command.js";

const MiB = 1024 * 1024;

export interface Ext4Sizing {
  bytes: number;
  inodes: number;
}

/**
 * Size for an ext4 image holding `usedBytes` of blocks and `files` inodes: a quarter more than
 * the data (directories, extent trees, journal) plus 64 MiB so the guest can write a little, and
 * twice the inodes with a floor, rounded up to whole MiB.
 */
export function ext4Sizing(usedBytes: number, files: number): Ext4Sizing {
  const bytes = Math.ceil((usedBytes * 1.25 + 64 * MiB + files * 256) / MiB) * MiB;
  const inodes = Math.max(4096, files * 2);
  return { bytes, inodes };
}

async function measure(rootfs: string): Promise<{ usedBytes: number; files: number }> {
  const du = await runCommand("du", ["-s", "-x", "--block-size=1", rootfs]);
  const usedBytes = Number.parseInt(du.stdout.split(/\s/)[0] ?? "", 10);
  const find = await runCommand("find", [rootfs, "-xdev", "-printf", "."]);
  if (!Number.isFinite(usedBytes)) throw new Error(`cannot measure ${rootfs}: du printed "${du.stdout.trim()}"`);
  return { usedBytes, files: find.stdout.length };
}

/**
 * Writes `image` as an ext4 file system holding a copy of `rootfs`. mke2fs's -d copies owners,
 * modes, times, symlinks, hard links, device nodes and extended attributes as they are on disk.
 */
export async function buildExt4Image(rootfs: string, image: string): Promise<Ext4Sizing> {
  const { usedBytes, files } = await measure(rootfs);
  const sizing = ext4Sizing(usedBytes, files);
  const handle = await open(image, "w", 0o644);
  try {
    await handle.truncate(sizing.bytes);
  } finally {
    await handle.close();
  }
  await runCommand("mkfs.ext4", [
    "-q",
    "-F",
    "-b",
    "4096",
    "-m",
    "0",
    "-N",
    String(sizing.inodes),
    "-L",
    "rootfs",
    "-E",
    "lazy_itable_init=0,lazy_journal_init=0",
    "-d",
    rootfs,
    image,
  ]).catch((error: Error) => {
    throw new Error(`cannot build ext4 image from ${rootfs}: ${error.message}`);
  });
  return sizing;
}
