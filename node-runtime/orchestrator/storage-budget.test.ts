import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SnapshotStore } from "../snapshots/snapshot-store.js";
import { StorageBudget, type CollectedEntry } from "./storage-budget.js";

const KiB = 1024;
let root: string;
const stores: SnapshotStore[] = [];
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "vhor-budget-"));
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await rm(root, { recursive: true, force: true });
});

/** A file of `bytes` non-zero bytes (so it takes its blocks) last used `ageS` seconds ago. */
async function file(p: string, bytes: number, ageS: number): Promise<void> {
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, Buffer.alloc(bytes, 1));
  const t = Date.now() / 1000 - ageS;
  await utimes(p, t, t);
}

async function layout() {
  const data = path.join(root, "data");
  const images = path.join(root, "images");
  const prepared = path.join(data, "firecracker", "prepared-images");
  const hexA = "a".repeat(64);
  const hexB = "b".repeat(64);
  await file(path.join(prepared, "old.ext4"), 256 * KiB, 500);
  await file(path.join(prepared, "new.ext4"), 256 * KiB, 10);
  await file(path.join(prepared, ".build-x", "rootfs.ext4"), 64 * KiB, 900); // a builder's, never collected
  await file(path.join(images, "ext4", `${hexA}.ext4`), 256 * KiB, 400); // its image is in use
  await file(path.join(images, "ext4", `${hexB}.ext4`), 256 * KiB, 300);
  await file(path.join(images, "rootfs", hexB, "rootfs", "bin", "sh"), 128 * KiB, 200);
  const rootfsDir = path.join(images, "rootfs", hexB);
  await utimes(rootfsDir, Date.now() / 1000 - 200, Date.now() / 1000 - 200);
  await file(path.join(images, "blobs", "sha256", hexA), 128 * KiB, 1000); // the source of all: never collected
  const snapshots = new SnapshotStore({ root: path.join(data, "snapshots"), budgetBytes: 64 * 1024 * KiB, verifyInBackground: false });
  stores.push(snapshots);
  await snapshots.init();
  for (const revision of ["r-old", "r-new"]) {
    const dir = await snapshots.stage(revision);
    await writeFile(path.join(dir, "memory"), Buffer.alloc(512 * KiB, 7));
    await snapshots.commit(dir, { revision, sandbox: "firecracker", imageDigest: `sha256:${hexA}` });
  }
  // r-new is the one loaded last.
  const lease = await snapshots.acquire("r-new");
  lease!.release();
  const collected: CollectedEntry[] = [];
  const evicted: string[] = [];
  const budget = (budgetBytes: number) =>
    new StorageBudget({
      budgetBytes,
      roots: [data, images, path.join(images, "ext4")],
      caches: [
        { kind: "prepared-image", dir: prepared },
        { kind: "ext4", dir: path.join(images, "ext4"), digestHexOf: (n) => n.replace(/\.ext4$/, "") },
        { kind: "rootfs", dir: path.join(images, "rootfs"), digestHexOf: (n) => n },
      ],
      snapshots,
      imagesInUse: () => [hexA],
      onCollected: (e) => collected.push(e),
      onEvicted: (r) => evicted.push(r),
    });
  return { data, images, prepared, hexA, hexB, rootfsDir, snapshots, budget, collected, evicted };
}

describe("StorageBudget", () => {
  it("counts everything the runtime stores, once, and collects nothing within the budget", async () => {
    const l = await layout();
    const b = l.budget(1024 * 1024 * KiB);
    const usage = await b.usage();
    // Caches, blobs and two snapshots; the nested root is not counted twice.
    expect(usage).toBeGreaterThanOrEqual((2 * 256 + 64 + 2 * 256 + 128 + 128 + 2 * 512) * KiB);
    expect(usage).toBeLessThan((2 * 256 + 64 + 2 * 256 + 128 + 128 + 2 * 512 + 200) * KiB);
    const report = await b.collect();
    expect(report).toMatchObject({ usageBytes: usage, removed: [], evicted: [] });
  });

  it("collects caches least recently used first, keeping in-use images' and builders' entries, before any snapshot", async () => {
    const l = await layout();
    const usage = await l.budget(1).usage();
    // Room for everything but ~600 KiB: the old prepared disk, image B's ext4 and rootfs go (in that order).
    const report = await l.budget(usage - 600 * KiB).collect();
    expect(report.removed.map((e) => `${e.kind} ${path.basename(e.path)}`)).toEqual([
      "prepared-image old.ext4",
      "ext4 " + `${l.hexB}.ext4`,
      "rootfs " + l.hexB,
    ]);
    expect(report.evicted).toEqual([]);
    expect(report.afterBytes).toBeLessThanOrEqual(usage - 600 * KiB);
    expect((await readdir(l.prepared)).sort()).toEqual([".build-x", "new.ext4"]);
    expect(existsSync(path.join(l.images, "ext4", `${l.hexA}.ext4`))).toBe(true);
    expect(existsSync(path.join(l.images, "blobs", "sha256", l.hexA))).toBe(true);
    expect((await l.snapshots.list()).map((s) => s.revision).sort()).toEqual(["r-new", "r-old"]);
  });

  it("evicts snapshots, least recently used first, once the caches are not enough", async () => {
    const l = await layout();
    const usage = await l.budget(1).usage();
    const report = await l.budget(usage - 1200 * KiB).collect();
    expect(report.removed).toHaveLength(4); // every cache entry not in use
    expect(report.evicted).toEqual(["r-old"]);
    expect((await l.snapshots.list()).map((s) => s.revision)).toEqual(["r-new"]);
    expect(report.afterBytes).toBeLessThanOrEqual(usage - 1200 * KiB);
  });

  it.skipIf(process.getuid?.() !== 0)("keeps a root filesystem an overlay mount reads from", async () => {
    const l = await layout();
    const mnt = path.join(root, "mnt");
    for (const d of ["upper", "work", "mnt"]) await mkdir(path.join(root, d));
    execFileSync("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${path.join(l.rootfsDir, "rootfs")},upperdir=${path.join(root, "upper")},workdir=${path.join(root, "work")}`,
      mnt,
    ]);
    try {
      const usage = await l.budget(1).usage();
      const report = await l.budget(usage - 600 * KiB).collect();
      expect(report.removed.map((e) => e.kind)).not.toContain("rootfs");
      expect(existsSync(path.join(l.rootfsDir, "rootfs", "bin", "sh"))).toBe(true);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
