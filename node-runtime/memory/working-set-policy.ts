import { rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readWorkingSetHeader } from "./working-set-file.js";

/**
 * Working sets belong to a snapshot, not to a VM nor to a revision: the file sits in the snapshot's
 * directory, named by the snapshot's id, and every instance restored from that snapshot prefetches
 * it. It goes with the snapshot, and a set recorded on another snapshot of the same revision (one
 * deleted and taken again) is never at the path a load of this one reads. When a load sees too many
 * faults outside the set, the set is marked stale and the next load records anew.
 */
export const WORKING_SET_FILE = "working-set.reap";
const STALE_SUFFIX = ".stale";

/** Default share of lazily served pages (outside the set) above which the set is re-recorded. */
export const DEFAULT_RERECORD_THRESHOLD = 0.25;

/**
 * The working-set file of a snapshot: `working-set.<snapshotId>.reap` in its directory, or
 * `working-set.reap` for a memory file that is not a committed snapshot (benchmarks, tests).
 */
export function workingSetPathFor(snapshotDir: string, snapshotId?: string): string {
  if (snapshotId === undefined) return join(snapshotDir, WORKING_SET_FILE);
  if (!/^[0-9a-f]{32}$/.test(snapshotId)) throw new Error(`snapshotId must be 32 hex digits, got ${JSON.stringify(snapshotId)}`);
  return join(snapshotDir, `working-set.${snapshotId}.reap`);
}

export interface ReapLoadPlan {
  mode: "record" | "prefetch";
  workingSetPath: string;
  /** Why this mode: "no working set yet", "stale: …", "unreadable: …" or "ok". */
  reason: string;
}

export interface WorkingSetExpectations {
  /** Size of the memory file the set must have been recorded on. */
  memFileSize?: number;
  /** When the snapshot was taken: a set recorded before it cannot be of this snapshot. */
  notBefore?: Date;
  /** The snapshot the set must have been recorded on (its id in the set's header). */
  snapshotId?: string;
}

/**
 * Decides how the next restore of `snapshotDir` uses REAP: prefetch when a usable working set
 * exists for this memory file size, record otherwise.
 */
export async function planReapLoad(snapshotDir: string, memFileSize?: number): Promise<ReapLoadPlan> {
  return planWorkingSet(workingSetPathFor(snapshotDir), { memFileSize });
}

/** Same decision for a working set at a given path (a committed snapshot's: see workingSetPathFor). */
export async function planWorkingSet(workingSetPath: string, expect: WorkingSetExpectations = {}): Promise<ReapLoadPlan> {
  const exists = await stat(workingSetPath).then(
    () => true,
    () => false,
  );
  if (!exists) return { mode: "record", workingSetPath, reason: "no working set yet" };
  const stale = await stat(workingSetPath + STALE_SUFFIX).then(
    () => true,
    () => false,
  );
  if (stale) return { mode: "record", workingSetPath, reason: "stale: too many faults outside it on a previous load" };
  try {
    const h = await readWorkingSetHeader(workingSetPath);
    if (expect.memFileSize !== undefined && h.memFileSize !== expect.memFileSize) {
      return { mode: "record", workingSetPath, reason: `unreadable: recorded for a ${h.memFileSize}-byte memory file` };
    }
    if (expect.snapshotId !== undefined && h.snapshotId !== expect.snapshotId) {
      const of = h.snapshotId === undefined ? "no snapshot" : `snapshot ${h.snapshotId}`;
      return { mode: "record", workingSetPath, reason: `unreadable: recorded on ${of}, not on this one (${expect.snapshotId})` };
    }
    if (expect.notBefore !== undefined && h.recordedAtMs < expect.notBefore.getTime()) {
      return {
        mode: "record",
        workingSetPath,
        reason: `unreadable: recorded at ${new Date(h.recordedAtMs).toISOString()}, before its snapshot was taken (${expect.notBefore.toISOString()})`,
      };
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
  return stat(workingSetPath + STALE_SUFFIX).then(
    () => true,
    () => false,
  );
}
