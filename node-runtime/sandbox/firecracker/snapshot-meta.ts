import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readProcFile } from "#node-runtime/system/proc-file.js";
import { SNAPSHOT_FILES } from "./vm-layout.js";
import type { SnapshotType } from "./api-types.js";

/** Written beside a snapshot's files: what a later load must match. */
export interface FirecrackerSnapshotMeta {
  format: 1;
  snapshotType: SnapshotType;
  /** Firecracker version that wrote the snapshot (its /version answer). */
  firecrackerVersion: string;
  /** The host CPU it was taken on (see describeHostCpu): a vCPU's saved state only loads on the same model. */
  hostCpu?: string;
  vcpus: number;
  memoryMiB: number;
  network?: { ifaceId: string; tapName: string; guestIp: string; guestMac: string };
  /** For Diff: the snapshot directory whose memory the diff was written on top of, if any. */
  baseSnapshotDir?: string;
  createdAt: string;
}

/** What is here when a snapshot is about to be loaded, compared field by field with its metadata. */
export interface SnapshotLoadSite {
  /** The VMM that will load it (its /version answer). */
  firecrackerVersion: string;
  hostCpu: string;
  /** The machine the request asks for. */
  vcpus: number;
  memoryMiB: number;
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
  if (m.hostCpu !== undefined && typeof m.hostCpu !== "string") throw new Error(`snapshot metadata ${path}: field hostCpu must be a string`);
  return m as FirecrackerSnapshotMeta;
}

/**
 * Why a snapshot cannot be loaded at `site`, one reason per differing field; empty when it can.
 * Firecracker loads only snapshots of its own snapshot-format version and a vCPU state saved on
 * the same CPU model, so the version and the CPU must match exactly (a version of "unknown" —
 * the VMM did not answer /version — matches nothing). The machine must be the one the request
 * asks for: a restored VM keeps the snapshot's vCPUs and memory, whatever the request says.
 */
export function snapshotLoadProblems(meta: FirecrackerSnapshotMeta, site: SnapshotLoadSite): string[] {
  const problems: string[] = [];
  if (meta.firecrackerVersion !== site.firecrackerVersion || site.firecrackerVersion === "unknown") {
    problems.push(`written by Firecracker ${meta.firecrackerVersion}, this is Firecracker ${site.firecrackerVersion}`);
  }
  if (meta.hostCpu === undefined) problems.push("no host CPU recorded");
  else if (meta.hostCpu !== site.hostCpu) problems.push(`taken on CPU ${JSON.stringify(meta.hostCpu)}, this host has ${JSON.stringify(site.hostCpu)}`);
  if (meta.vcpus !== site.vcpus || meta.memoryMiB !== site.memoryMiB) {
    problems.push(`machine of ${meta.vcpus} vCPU(s) and ${meta.memoryMiB} MiB, the request asks for ${site.vcpus} and ${site.memoryMiB} MiB`);
  }
  return problems;
}

let hostCpu: Promise<string> | undefined;

/**
 * The host CPU as vendor, family, model and stepping (and its name) on x86, or implementer, part,
 * variant and revision on Arm, from the first processor in /proc/cpuinfo.
 */
export function describeHostCpu(): Promise<string> {
  hostCpu ??= readProcFile("/proc/cpuinfo").then(parseCpuinfo);
  return hostCpu;
}

export function parseCpuinfo(text: string): string {
  const first = text.split(/\n\s*\n/)[0] ?? "";
  const field = (name: string): string => fieldOf(first, name);
  const vendor = field("vendor_id");
  if (vendor !== "?") return `${vendor} family ${field("cpu family")} model ${field("model")} stepping ${field("stepping")} (${field("model name")})`;
  return `Arm implementer ${field("CPU implementer")} part ${field("CPU part")} variant ${field("CPU variant")} revision ${field("CPU revision")}`;
}

function fieldOf(block: string, name: string): string {
  for (const line of block.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim() === name) return line.slice(colon + 1).trim();
  }
  return "?";
}
