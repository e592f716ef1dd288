import { rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readWorkingSetHeader } from "./working-set-file.js";

/**
 * Working sets belong to a snapshot (one function revision), not to a VM: the file sits in the
 * snapshot directory and every instance restored from that snapshot prefetches it. When a load
 * sees too many faults outside the set, the set is marked stale and the next load records anew.
 */
export const WORKING_SET_FILE = "working-set.reap";
const STALE_SUFFIX = ".stale";

/** Default share of lazily served pages (outside the set) above which the set is re-recorded. */
export const DEFAULT_RERECORD_THRESHOLD = 0.25;

export function workingSetPathFor(snapshotDir: string): string {
  return join(snapshotDir, WORKING_SET_FILE);
}

export interface ReapLoadPlan {
  mode: "record" | "prefetch";
  workingSetPath: string;
  /** Why this mode: "no working set yet", "stale: …", "unreadable: …" or "ok". */
  reason: string;
}

/**
 * Decides how the next restore of `snapshotDir` uses REAP: prefetch when a usable working set
 * exists for this memory file size, record otherwise.
 */
export async function planReapLoad(snapshotDir: string, memFileSize?: number): Promise<ReapLoadPlan> {
  return planWorkingSet(workingSetPathFor(snapshotDir), memFileSize);
}

/** Same decision for a working set kept elsewhere than the snapshot directory (one file per revision). */
export async function planWorkingSet(workingSetPath: string, memFileSize?: number): Promise<ReapLoadPlan> {
  const exists = await stat(workingSetPath).then(() => true, () => false);
  if (!exists) return { mode: "record", workingSetPath, reason: "no working set yet" };
  const stale = await stat(workingSetPath + STALE_SUFFIX).then(() => true, () => false);
  if (stale) return { mode: "record", workingSetPath, reason: "stale: too many faults outside it on a previous load" };
  try {
    const h = await readWorkingSetHeader(workingSetPath);
    if (memFileSize !== undefined && h.memFileSize !== memFileSize) {
      return { mode: "record", workingSetPath, reason: `unreadable: recorded for a ${h.memFileSize}-byte memory file` };
    }
  } catch (err) {
    return { mode: "record", workingSetPath, reason: `unreadable: ${(err as Error).message}` };
  }
  return { mode: "prefetch", workingSetPath, reason: "ok" };
}

/** Marks the set for re-recording; the marker carries the reason for whoever looks. */
export async function markWorkingSetStale(workingSetPath: string, reason: string): Promise<void> {
  await writeFile(workingSetPath + STALE_SUFFIX, `${reason}\n`);
}

export async function clearWorkingSetStale(workingSetPath: string): Promise<void> {
  await rm(workingSetPath + STALE_SUFFIX, { force: true });
}

export async function isWorkingSetStale(workingSetPath: string): Promise<boolean> {
  return stat(workingSetPath + STALE_SUFFIX).then(() => true, () => false);
}
