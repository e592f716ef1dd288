// REAP working sets are bound to their snapshot, tested with the real REAP handler and a process that
// plays the guest (tests/memory/fc-guest.c) under the orchestrator: a revision's snapshot is deleted
// while a recording on it is still in flight, the revision is snapshotted again, and the recording
// lands afterwards — no page of the old snapshot may reach a guest restored from the new one.
import { copyFile, readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Orchestrator } from "#node-runtime/orchestrator/orchestrator.js";
import { DriverRegistry } from "#node-runtime/orchestrator/driver-registry.js";
import { SnapshotStore } from "#node-runtime/snapshots/snapshot-store.js";
import { readWorkingSetHeader } from "#node-runtime/memory/working-set-file.js";
import { ImageStoreDouble } from "../doubles/driver/image-store-double.js";
import { ReapGuestDriver } from "../doubles/driver/reap-guest-driver.js";
import { buildGuest, ensureAddonBuilt, makeTempDir, pageSum, uffdUnavailableReason } from "../memory/guest-process.js";

const skipReason = uffdUnavailableReason();
if (skipReason) console.log(`tests/runtime/reap-working-set.integration.test.ts skipped: ${skipReason}`);

const PS = 4096;
const MEMORY_BYTES = 4 << 20;
const IMAGE = "helloworld:latest";
const REV = "bound-1";
// Pages the first invocation touches: spread over the memory file, in no particular order.
const TRACE = Array.from({ length: 64 }, (_, i) => (i * 397 + 11) % (MEMORY_BYTES / PS));

describe.skipIf(skipReason !== undefined)("REAP working sets bound to their snapshot (real handler, fc-guest)", () => {
  let tmp: { dir: string; cleanup: () => void };
  let guestBin: string;
  let store: SnapshotStore;
  let driver: ReapGuestDriver;
  let orchestrator: Orchestrator;

  beforeAll(async () => {
    ensureAddonBuilt();
    tmp = makeTempDir("reapbind"); // disk-backed: the handler reads working sets with O_DIRECT
    guestBin = buildGuest(tmp.dir);
    store = new SnapshotStore({ root: path.join(tmp.dir, "snapshots"), budgetBytes: 256 << 20 });
    await store.init();
    driver = new ReapGuestDriver(path.join(tmp.dir, "sandboxes"), guestBin, MEMORY_BYTES);
    driver.firstInvocationTrace = TRACE;
    const images = new ImageStoreDouble();
    images.add(IMAGE, "sha256:" + "ab".repeat(32));
    orchestrator = new Orchestrator({
      drivers: new DriverRegistry().register(driver),
      images,
      snapshots: store,
      defaults: { sandbox: "firecracker", snapshotMode: "reap", readyTimeoutMs: 30_000 },
    });
    await orchestrator.init();
  });
  afterAll(async () => {
    await orchestrator?.stopAll();
    await store?.close();
    tmp?.cleanup();
  });

  const snapDir = () => path.join(tmp.dir, "snapshots", "committed", REV);
  const memorySums = async (): Promise<number[]> => {
    const mem = await readFile(path.join(snapDir(), "memory.img"));
    return TRACE.map((p) => pageSum(mem.subarray(p * PS, (p + 1) * PS)));
  };
  const snapshotId = async (): Promise<string> => (await store.list()).find((s) => s.revision === REV)!.snapshotId;

  it("a recording that lands after its snapshot was deleted and retaken is never installed; restart drops it", async () => {
    await orchestrator.start({ revision: REV, image: IMAGE, instanceId: "a" });
    expect((await orchestrator.stop("a")).snapshot).toBe("taken");
    const oldId = await snapshotId();
    const oldSums = await memorySums();

    // A REAP load of the first snapshot records its working set; its first invocation is still to come.
    const b = await orchestrator.start({ revision: REV, image: IMAGE, instanceId: "b" });
    expect(b.startKind).toBe("restore");
    expect(driver.guest("b").memory).toMatchObject({ kind: "uffd", mode: "record" });

    // DeleteSnapshot (what the API runs), then the revision boots and is snapshotted again.
    await store.remove(REV);
    await orchestrator.start({ revision: REV, image: IMAGE, instanceId: "d" });
    expect((await orchestrator.stop("d")).snapshot).toBe("taken");
    const newId = await snapshotId();
    expect(newId).not.toBe(oldId);
    const newSums = await memorySums();
    expect(newSums.filter((s, i) => s === oldSums[i])).toEqual([]); // the two snapshots' pages differ

    // The old load's first invocation ends now: its recording (the old snapshot's pages) is written —
    // into the new snapshot's directory, but under the old snapshot's id.
    await orchestrator.invoke("b");
    const recorded = await orchestrator.coldStartRecord("b");
    expect(recorded).toBeDefined();
    expect(driver.firstInvocationResults.get("b")).toMatchObject({ mode: "record", workingSetPath: path.join(snapDir(), `working-set.${oldId}.reap`) });
    expect((await readdir(snapDir())).filter((f) => f.endsWith(".reap"))).toEqual([`working-set.${oldId}.reap`]);
    expect((await readWorkingSetHeader(path.join(snapDir(), `working-set.${oldId}.reap`))).snapshotId).toBe(oldId);
    await orchestrator.stop("b");
    // Even under the new snapshot's name (copied by hand, say), its header gives it away.
    await copyFile(path.join(snapDir(), `working-set.${oldId}.reap`), path.join(snapDir(), `working-set.${newId}.reap`));

    // A REAP load of the new snapshot records anew and sees only the new snapshot's pages.
    const e = await orchestrator.start({ revision: REV, image: IMAGE, instanceId: "e" });
    expect(e.notes).toContain(`REAP records the working set (unreadable: recorded on snapshot ${oldId}, not on this one (${newId}))`);
    const eGuest = driver.guest("e");
    expect(eGuest.memory).toEqual({ kind: "uffd", mode: "record", workingSetPath: path.join(snapDir(), `working-set.${newId}.reap`), snapshotId: newId });
    const seen = await eGuest.touch(TRACE);
    expect(seen.residentBefore).toBe(0);
    expect(seen.sums).toEqual(newSums);
    expect(seen.sums.filter((s, i) => s === oldSums[i])).toEqual([]);
    await orchestrator.invoke("e");
    await orchestrator.coldStartRecord("e");
    await orchestrator.stop("e");

    // The next load prefetches the new snapshot's own set: every traced page is there before the touch.
    await orchestrator.start({ revision: REV, image: IMAGE, instanceId: "f" });
    const fGuest = driver.guest("f");
    expect(fGuest.memory).toMatchObject({ mode: "prefetch", workingSetPath: path.join(snapDir(), `working-set.${newId}.reap`) });
    const prefetched = await fGuest.touch(TRACE);
    expect(prefetched.residentBefore).toBe(new Set(TRACE).size);
    expect(prefetched.sums).toEqual(newSums);
    await orchestrator.stop("f");

    // At the next start-up the store drops the stray recording of the old snapshot.
    const restarted = new SnapshotStore({ root: path.join(tmp.dir, "snapshots"), budgetBytes: 256 << 20, verifyInBackground: false });
    await restarted.init();
    expect((await readdir(snapDir())).filter((f) => f.endsWith(".reap"))).toEqual([`working-set.${newId}.reap`]);
    // And deleting the snapshot takes its working set with it.
    await restarted.remove(REV);
    await expect(stat(snapDir())).rejects.toThrow();
  });
});
