import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SNAPSHOT_FILES } from "./vm-layout.js";
import type { SnapshotType } from "./api-types.js";

/** Written beside a snapshot's files: what a later load must match. */
export interface FirecrackerSnapshotMeta {
  format: 1;
  snapshotType: SnapshotType;
  /** Firecracker version that wrote the snapshot (its /version answer). */
  firecrackerVersion: string;
  vcpus: number;
  memoryMiB: number;
  network?: { ifaceId: string; tapName: string; guestIp: string; guestMac: string };
  /** For Diff: the snapshot directory whose memory the diff was written on top of, if any. */
  baseSnapshotDir?: string;
  createdAt: string;
}

export async function writeSnapshotMeta(dir: string, meta: FirecrackerSnapshotMeta): Promise<void> {
  await writeFile(join(dir, SNAPSHOT_FILES.meta), JSON.stringify(meta, null, 2) + "\n");
}

export async function readSnapshotMeta(dir: string): Promise<FirecrackerSnapshotMeta> {
  const path = join(dir, SNAPSHOT_FILES.meta);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new Error(`snapshot metadata ${path} is missing or not JSON: ${(e as Error).message}`);
  }
  const m = parsed as Partial<FirecrackerSnapshotMeta>;
  if (m.format !== 1) throw new Error(`snapshot metadata ${path}: unknown format ${String(m.format)}`);
  for (const field of ["vcpus", "memoryMiB"] as const) {
    if (typeof m[field] !== "number" || !(m[field] > 0)) throw new Error(`snapshot metadata ${path}: field ${field} must be a positive number`);
  }
  if (typeof m.firecrackerVersion !== "string") throw new Error(`snapshot metadata ${path}: field firecrackerVersion is missing`);
  return m as FirecrackerSnapshotMeta;
}
