// Orchestrator logic against the process driver double (tests/doubles/driver): boot, snapshot on
// teardown, concurrent restores, snapshot modes, corrupt snapshots, faults and their error codes,
// reconciliation after a restart, and leak checks after each case.
import { execFileSync } from "node:child_process";
import { open, readdir, stat, truncate, writeFile } from "node:fs/promises";
import { buildWorkingSetImage } from "#node-runtime/memory/working-set-file.js";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RuntimeError } from "#node-runtime/orchestrator/errors.js";
import { SandboxRequestError } from "#node-runtime/sandbox/errors.js";
import { Orchestrator } from "#node-runtime/orchestrator/orchestrator.js";
import { DriverRegistry } from "#node-runtime/orchestrator/driver-registry.js";
import { InstanceStateStore } from "#node-runtime/orchestrator/instance-state-store.js";
import { IMAGE, orchestratorHarness } from "./orchestrator-on-process-driver.js";
import { NetworkPoolDouble } from "../doubles/driver/network-pool-double.js";
import { ProcessDriver } from "../doubles/driver/process-driver.js";

type Harness = Awaited<ReturnType<typeof orchestratorHarness>>;

async function flipByte(file: string): Promise<void> {
  const fh = await open(file, "r+");
  const byte = Buffer.alloc(1);
  await fh.read(byte, 0, 1, 1000);
  byte[0] = byte[0]! ^ 0xff;
  await fh.write(byte, 0, 1, 1000);
  await fh.close();
}
let h: Harness | undefined;
afterEach(async () => {
  await h?.dispose();
  h = undefined;
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RuntimeError);
    return (err as RuntimeError).code + ": " + (err as Error).message;
  }
  throw new Error("expected a rejection");
}

describe("orchestrator with the driver double", () => {
  it("boots the first instance, snapshots it on teardown, restores three later ones concurrently", async () => {
    h = await orchestratorHarness();
    const { orchestrator, driver } = h;
    const first = await orchestrator.start({ revision: "hello-00001", image: IMAGE, instanceId: "first" });
    expect(first.startKind).toBe("boot");
    expect(first.state).toBe("running");
    expect(first.coldStart.AddInstance).toBeGreaterThan(0);
    expect(first.coldStart.GetImage).toBeGreaterThan(0);
    expect(first.coldStart.ConnectFuncClient).toBeGreaterThan(0);
    expect((await orchestrator.invoke("first", "ann")).message).toBe("Hello, ann! [boot]");

    const stopped = await orchestrator.stop("first");
    expect(stopped.snapshot).toBe("taken");
    expect(driver.calls).toMatchObject({ boot: 1, pause: 1, snapshot: 1, resume: 1, stop: 1 });
    const [snap] = await h.snapshots.list();
    expect(snap).toMatchObject({ revision: "hello-00001", sandbox: "gvisor", files: 2 });

    const ids = ["r1", "r2", "r3"];
    const restored = await Promise.all(ids.map((instanceId) => orchestrator.start({ revision: "hello-00001", image: IMAGE, instanceId })));
    expect(restored.map((r) => r.startKind)).toEqual(["restore", "restore", "restore"]);
    expect(driver.calls.restore).toBe(3);
    expect(driver.restores[0]!.memory).toEqual({ kind: "file" });
    for (const id of ids) {
      expect((await orchestrator.invoke(id, id)).message).toBe(`Hello, ${id}! [restore snap-of-first]`);
    }
    const results = await Promise.all(ids.map((id) => orchestrator.stop(id)));
    expect(results.map((r) => r.snapshot)).toEqual(["exists", "exists", "exists"]);
    expect(driver.calls.snapshot).toBe(1);
    expect(orchestrator.list()).toEqual([]);
    expect(await h.leftovers()).toEqual([]);
  });

  it("records cold starts in the metrics: Prometheus histograms per stage and vHive CSV", async () => {
    h = await orchestratorHarness();
    await h.orchestrator.start({ revision: "m-1", image: IMAGE, instanceId: "m" });
    const first = await h.orchestrator.invoke("m");
    const second = await h.orchestrator.invoke("m");
    expect(first.coldStart).toBe(true);
    expect(second.coldStart).toBe(false);
    expect(await h.orchestrator.coldStartRecord("m")).toMatchObject({ instanceId: "m" });
    const [rec] = h.metrics.coldStarts();
    expect(rec).toMatchObject({ instanceId: "m", startKind: "boot" });
    expect(rec!.stages.FuncInvocation).toBe(first.durationUs);
    expect(rec!.rssBytes).toBeGreaterThan(1024 * 1024);
    const text = await h.metrics.prometheusText();
    expect(text).toMatch(/node_runtime_cold_start_stage_microseconds_count\{stage="AddInstance",sandbox="gvisor",start_kind="boot"\} 1/);
    expect(text).toMatch(/node_runtime_sandbox_rss_bytes\{instance="m",revision="m-1",sandbox="gvisor"\} \d+/);
    const csv = h.metrics.csv().trim().split("\n");
    expect(csv[0]).toBe("FuncName,AddInstance,StdDev,ConnectFuncClient,StdDev,FuncInvocation,StdDev,GetImage,StdDev,NewTask,StdDev,Total,StdDev");
    expect(csv[1]).toMatch(/^m-1\/gvisor\/boot,\d+,0\.0,/);
  });

  it("never snapshots with mode off, nor for drivers without snapshots", async () => {
    h = await orchestratorHarness();
    await h.orchestrator.start({ revision: "off-1", image: IMAGE, instanceId: "a", snapshotMode: "off" });
    expect((await h.orchestrator.stop("a")).snapshot).toBe("off");
    const b = await h.orchestrator.start({ revision: "off-1", image: IMAGE, instanceId: "b", snapshotMode: "off" });
    expect(b.startKind).toBe("boot");
    await h.orchestrator.stop("b");
    expect(h.driver.calls.snapshot).toBe(0);
    await h.dispose();

    h = await orchestratorHarness({ snapshots: false });
    await h.orchestrator.start({ revision: "plain-1", image: IMAGE, instanceId: "c" });
    expect((await h.orchestrator.stop("c")).snapshot).toBe("unsupported");
    expect((await h.orchestrator.start({ revision: "plain-1", image: IMAGE, instanceId: "d" })).startKind).toBe("boot");
    expect(await h.snapshots.list()).toEqual([]);
  });

  it("only the first teardown of a booted revision snapshots, even when two booted instances stop together", async () => {
    h = await orchestratorHarness();
    await Promise.all(["x", "y"].map((instanceId) => h!.orchestrator.start({ revision: "two-1", image: IMAGE, instanceId })));
    const results = await Promise.all(["x", "y"].map((id) => h!.orchestrator.stop(id)));
    // The loser either finds the snapshot in progress or already committed; either way one snapshot.
    expect(results.filter((r) => r.snapshot === "taken")).toHaveLength(1);
    expect(results.filter((r) => r.snapshot !== "taken").map((r) => r.snapshot)).toEqual([expect.stringMatching(/^(not-first|exists)$/)]);
    expect(h.driver.calls.snapshot).toBe(1);
  });

  it("a start while the revision's first teardown takes its snapshot waits for it and restores", async () => {
    h = await orchestratorHarness();
    const { orchestrator, driver } = h;
    await orchestrator.start({ revision: "wait-1", image: IMAGE, instanceId: "first" });
    driver.faults.slowSnapshotMs.set("wait-1", 400);
    const stopping = orchestrator.stop("first");
    while (driver.calls.snapshot === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await orchestrator.start({ revision: "wait-1", image: IMAGE, instanceId: "second" });
    expect(second.startKind).toBe("restore");
    expect(second.notes).toEqual([expect.stringMatching(/^waited \d+ ms for the snapshot of revision wait-1 being taken$/)]);
    expect((await stopping).snapshot).toBe("taken");
    expect((await orchestrator.invoke("second", "x")).message).toBe("Hello, x! [restore snap-of-first]");
    // A snapshot that fails ends the wait too: the start boots.
    await orchestrator.start({ revision: "wait-2", image: IMAGE, instanceId: "third" });
    driver.faults.slowSnapshotMs.set("wait-2", 300);
    driver.faults.failSnapshot.add("wait-2");
    const failing = orchestrator.stop("third");
    while (driver.calls.snapshot === 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const fourth = await orchestrator.start({ revision: "wait-2", image: IMAGE, instanceId: "fourth" });
    expect(fourth.startKind).toBe("boot");
    expect((await failing).snapshot).toBe("failed");
    for (const id of ["second", "fourth"]) await orchestrator.stop(id);
    expect(await h.leftovers()).toEqual([]);
  });

  it("passes REAP's uffd memory backend: record on the first load, prefetch once its snapshot has a working set", async () => {
    h = await orchestratorHarness({ defaults: { snapshotMode: "reap" } });
    await h.orchestrator.start({ revision: "reap-1", image: IMAGE, instanceId: "a" });
    await h.orchestrator.stop("a");
    await h.orchestrator.start({ revision: "reap-1", image: IMAGE, instanceId: "b" });
    const [snap] = await h.snapshots.list();
    const snapDir = path.join(h.root, "snapshots", "committed", "reap-1");
    // The set lives in the snapshot's directory under the snapshot's id.
    const wsPath = path.join(snapDir, `working-set.${snap!.snapshotId}.reap`);
    expect(h.driver.restores[0]!.memory).toEqual({ kind: "uffd", mode: "record", workingSetPath: wsPath, snapshotId: snap!.snapshotId });
    expect(h.orchestrator.status("b").notes).toContain("REAP records the working set (no working set yet)");
    await h.orchestrator.invoke("b");
    await h.orchestrator.coldStartRecord("b");
    expect(h.driver.firstInvocations).toEqual(["b"]);
    // What the REAP handler leaves after recording: a working-set file in its format.
    const pages = Uint32Array.from([0, 3]);
    await writeFile(
      wsPath,
      buildWorkingSetImage(
        { pageSize: 4096, memFileSize: 16 * 4096, pages, data: Buffer.alloc(2 * 4096, 1), recordedAtMs: Date.now(), snapshotId: snap!.snapshotId },
        () => 0n,
      ),
    );
    await h.orchestrator.start({ revision: "reap-1", image: IMAGE, instanceId: "c" });
    expect(h.driver.restores[1]!.memory).toEqual({ kind: "uffd", mode: "prefetch", workingSetPath: wsPath, snapshotId: snap!.snapshotId });
    expect((await h.snapshots.list())[0]!.sizeBytes).toBe(snap!.sizeBytes + (await stat(wsPath)).size);
    // DeleteSnapshot takes the working set along; a new snapshot of the revision starts without one.
    await h.orchestrator.stop("b");
    await h.orchestrator.stop("c");
    await h.snapshots.remove("reap-1");
    await expect(stat(wsPath)).rejects.toThrow();
    await h.orchestrator.start({ revision: "reap-1", image: IMAGE, instanceId: "d" });
    expect((await h.orchestrator.stop("d")).snapshot).toBe("taken");
    await h.orchestrator.start({ revision: "reap-1", image: IMAGE, instanceId: "e" });
    const [again] = await h.snapshots.list();
    expect(again!.snapshotId).not.toBe(snap!.snapshotId);
    expect(h.driver.restores[2]!.memory).toEqual({
      kind: "uffd",
      mode: "record",
      workingSetPath: path.join(snapDir, `working-set.${again!.snapshotId}.reap`),
      snapshotId: again!.snapshotId,
    });
  });

  it("a working set recorded before its snapshot was taken is recorded again", async () => {
    h = await orchestratorHarness({ defaults: { snapshotMode: "reap" } });
    await h.orchestrator.start({ revision: "old-1", image: IMAGE, instanceId: "a" });
    await h.orchestrator.stop("a");
    const [snap] = await h.snapshots.list();
    const wsPath = path.join(h.root, "snapshots", "committed", "old-1", `working-set.${snap!.snapshotId}.reap`);
    const recordedAtMs = Date.parse(snap!.createdAt) - 60_000;
    await writeFile(
      wsPath,
      buildWorkingSetImage(
        { pageSize: 4096, memFileSize: 16 * 4096, pages: Uint32Array.from([1]), data: Buffer.alloc(4096), recordedAtMs, snapshotId: snap!.snapshotId },
        () => 0n,
      ),
    );
    const b = await h.orchestrator.start({ revision: "old-1", image: IMAGE, instanceId: "b" });
    expect(h.driver.restores[0]!.memory).toMatchObject({ mode: "record", workingSetPath: wsPath });
    expect(b.notes.join()).toMatch(/REAP records the working set \(unreadable: recorded at .*, before its snapshot was taken/);
  });

  it("discards a truncated snapshot and boots instead, then snapshots again", async () => {
    h = await orchestratorHarness();
    await h.orchestrator.start({ revision: "t-1", image: IMAGE, instanceId: "a" });
    await h.orchestrator.stop("a");
    const mem = path.join(h.root, "snapshots", "committed", "t-1", "memory.img");
    await truncate(mem, 100);
    const b = await h.orchestrator.start({ revision: "t-1", image: IMAGE, instanceId: "b" });
    expect(b.startKind).toBe("boot");
    expect(b.notes.join()).toMatch(/snapshot of revision t-1 is corrupt and was discarded: file memory.img has 100 bytes, manifest says 262144/);
    expect(await h.snapshots.list()).toEqual([]);
    expect((await h.orchestrator.invoke("b")).message).toMatch(/\[boot\]/);
    expect((await h.orchestrator.stop("b")).snapshot).toBe("taken");
    expect(await h.leftovers()).toEqual([]);
  });

  it("detects a same-size rewrite at load without hashing, and with every-load one that keeps the file's mtime", async () => {
    h = await orchestratorHarness();
    await h.orchestrator.start({ revision: "w-1", image: IMAGE, instanceId: "a" });
    await h.orchestrator.stop("a");
    const memW = path.join(h.root, "snapshots", "committed", "w-1", "memory.img");
    await flipByte(memW);
    const b = await h.orchestrator.start({ revision: "w-1", image: IMAGE, instanceId: "b" });
    expect(b.startKind).toBe("boot");
    expect(b.notes.join()).toMatch(/file memory.img was replaced or rewritten after the commit/);
    await h.dispose();

    h = await orchestratorHarness({ checksums: "every-load" });
    await h.orchestrator.start({ revision: "c-1", image: IMAGE, instanceId: "a" });
    await h.orchestrator.stop("a");
    const mem = path.join(h.root, "snapshots", "committed", "c-1", "memory.img");
    const { mtimeNs } = await stat(mem, { bigint: true });
    await flipByte(mem);
    // Set the mtime back to the nanosecond (GNU touch does; Node's utimes rounds), so only a checksum can tell.
    execFileSync("touch", ["-m", "-d", `@${mtimeNs / 1_000_000_000n}.${(mtimeNs % 1_000_000_000n).toString().padStart(9, "0")}`, mem]);
    expect((await stat(mem, { bigint: true })).mtimeNs).toBe(mtimeNs);
    const c = await h.orchestrator.start({ revision: "c-1", image: IMAGE, instanceId: "c" });
    expect(c.startKind).toBe("boot");
    expect(c.notes.join()).toMatch(/file memory.img has sha256 [0-9a-f]{64}, manifest says/);
  });

  it("falls back to a boot when the driver's restore fails", async () => {
    h = await orchestratorHarness();
    await h.orchestrator.start({ revision: "rf-1", image: IMAGE, instanceId: "a" });
    await h.orchestrator.stop("a");
    h.driver.faults.failRestore.add("rf-1");
    const b = await h.orchestrator.start({ revision: "rf-1", image: IMAGE, instanceId: "b" });
    expect(b.startKind).toBe("boot");
    expect(b.notes.join()).toMatch(
      /restore from snapshot failed \(injected restore failure\); booted instead; the snapshot was discarded and is taken again at this instance's teardown/,
    );
    expect(await h.snapshots.list()).toEqual([]);
    expect((await h.orchestrator.invoke("b")).message).toMatch(/\[boot\]/);
    // The snapshot that could not load is replaced by the teardown of the instance that booted instead.
    expect((await h.orchestrator.stop("b")).snapshot).toBe("taken");
    h.driver.faults.failRestore.delete("rf-1");
    const c = await h.orchestrator.start({ revision: "rf-1", image: IMAGE, instanceId: "c" });
    expect(c.startKind).toBe("restore");
    expect((await h.orchestrator.invoke("c")).message).toBe("Hello, world! [restore snap-of-b]");
    await h.orchestrator.stop("c");
    expect(await h.leftovers()).toEqual([]);
  });

  it("keeps the snapshot when the driver refused the restore request itself", async () => {
    h = await orchestratorHarness();
    await h.orchestrator.start({ revision: "rq-1", image: IMAGE, instanceId: "a" });
    await h.orchestrator.stop("a");
    // Stands in for a driver that rejects a field of the request (nothing about the snapshot).
    h.driver.restore = async () => {
      throw new SandboxRequestError("vcpus: 3 is more than this driver allows");
    };
    const b = await h.orchestrator.start({ revision: "rq-1", image: IMAGE, instanceId: "b" });
    expect(b.startKind).toBe("boot");
    expect(b.notes).toContain("restore from snapshot failed (vcpus: 3 is more than this driver allows); booted instead");
    expect((await h.snapshots.list()).map((s) => s.revision)).toEqual(["rq-1"]);
    expect((await h.orchestrator.stop("b")).snapshot).toBe("exists");
  });

  it("a failing snapshot leaves no staging files and still stops the sandbox", async () => {
    h = await orchestratorHarness();
    h.driver.faults.failSnapshot.add("fs-1");
    await h.orchestrator.start({ revision: "fs-1", image: IMAGE, instanceId: "a" });
    const res = await h.orchestrator.stop("a");
    expect(res).toMatchObject({ snapshot: "failed", snapshotError: "injected snapshot failure" });
    expect(h.driver.calls.resume).toBe(1);
    expect(await h.snapshots.list()).toEqual([]);
    expect(await h.leftovers()).toEqual([]);
  });

  it("rejects bad input with clear errors and codes", async () => {
    h = await orchestratorHarness();
    const o = h.orchestrator;
    expect(await codeOf(o.start({ revision: "ok-1", image: "nope:latest" }))).toMatch(/^NOT_FOUND: .*image "nope:latest" is not available/);
    expect(await codeOf(o.start({ revision: "../etc", image: IMAGE }))).toMatch(/^INVALID_ARGUMENT: revision "..\/etc" is invalid/);
    expect(await codeOf(o.start({ revision: "", image: IMAGE }))).toMatch(/^INVALID_ARGUMENT: revision "" is invalid/);
    expect(await codeOf(o.start({ revision: "ok-1", image: "" }))).toMatch(/^INVALID_ARGUMENT: image is required/);
    expect(await codeOf(o.start({ revision: "ok-1", image: IMAGE, port: 70000 }))).toMatch(/^INVALID_ARGUMENT: port 70000/);
    expect(await codeOf(o.start({ revision: "ok-1", image: IMAGE, sandbox: "qemu" as never }))).toMatch(
      /^INVALID_ARGUMENT: sandbox "qemu" is not a sandbox kind/,
    );
    expect(await codeOf(o.start({ revision: "ok-1", image: IMAGE, sandbox: "firecracker" }))).toMatch(
      /^FAILED_PRECONDITION: sandbox "firecracker" is not available on this node \(available: gvisor\)/,
    );
    expect(await codeOf(o.start({ revision: "ok-1", image: IMAGE, snapshotMode: "fast" as never }))).toMatch(/^INVALID_ARGUMENT: snapshot mode "fast"/);
    expect(await codeOf(o.invoke("ghost"))).toMatch(/^NOT_FOUND: no instance "ghost"/);
    expect(await codeOf(o.stop("ghost"))).toMatch(/^NOT_FOUND/);
    await o.start({ revision: "ok-1", image: IMAGE, instanceId: "dup" });
    expect(await codeOf(o.start({ revision: "ok-1", image: IMAGE, instanceId: "dup" }))).toMatch(/^ALREADY_EXISTS: instance dup already exists/);
    await o.stop("dup");
    expect(h.driver.calls.boot).toBe(1);
    expect(await h.leftovers()).toEqual([]);
  });

  it("a function that never opens its port: DEADLINE_EXCEEDED, nothing left behind", async () => {
    h = await orchestratorHarness({ defaults: { readyTimeoutMs: 800 } });
    h.driver.faults.neverListen.add("mute-1");
    expect(await codeOf(h.orchestrator.start({ revision: "mute-1", image: IMAGE }))).toMatch(
      /^DEADLINE_EXCEEDED: function of revision mute-1 did not accept connections on port 50051 within 800 ms/,
    );
    expect(h.orchestrator.list()).toEqual([]);
    expect(h.driver.calls.stop).toBe(1);
    expect(await h.leftovers()).toEqual([]);
  });

  it("a sandbox that crashes while starting: UNAVAILABLE, nothing left behind", async () => {
    h = await orchestratorHarness();
    h.driver.faults.neverListen.add("crash-1");
    h.driver.faults.crashAfterMs.set("crash-1", 100);
    expect(await codeOf(h.orchestrator.start({ revision: "crash-1", image: IMAGE }))).toMatch(
      /^UNAVAILABLE: sandbox of instance crash-1-[0-9a-f]{8} exited \(code 3, signal null\) before its function was ready/,
    );
    expect(await h.leftovers()).toEqual([]);
  });

  it("a sandbox that crashes while running shows as exited; invoke is UNAVAILABLE; stop cleans up", async () => {
    h = await orchestratorHarness();
    h.driver.faults.crashAfterMs.set("late-1", 1500);
    await h.orchestrator.start({ revision: "late-1", image: IMAGE, instanceId: "late" });
    await new Promise((r) => setTimeout(r, 2000));
    expect(h.orchestrator.status("late")).toMatchObject({ state: "exited", exit: { code: 3, signal: null }, exitedAt: expect.stringMatching(/^\d{4}-/) });
    expect(await codeOf(h.orchestrator.invoke("late"))).toMatch(/^UNAVAILABLE: instance late cannot be invoked: its sandbox exited \(code 3/);
    expect((await h.orchestrator.stop("late")).snapshot).toBe("not-running");
    expect(await h.snapshots.list()).toEqual([]);
    expect(await h.leftovers()).toEqual([]);
  });

  it("a revision's image cannot change under its snapshot", async () => {
    h = await orchestratorHarness();
    h.images.add("other:1", "sha256:" + "cd".repeat(32));
    await h.orchestrator.start({ revision: "img-1", image: IMAGE, instanceId: "a" });
    await h.orchestrator.stop("a");
    expect(await codeOf(h.orchestrator.start({ revision: "img-1", image: "other:1" }))).toMatch(
      /^INVALID_ARGUMENT: revision img-1 was snapshotted from image sha256:abab.*a revision's image cannot change/,
    );
    expect(await h.leftovers()).toEqual([]);
  });

  it("reconciles persisted instances after a restart: live ones are adopted and invokable", async () => {
    h = await orchestratorHarness();
    const a = await h.orchestrator.start({ revision: "rec-1", image: IMAGE, instanceId: "a" });
    const again = new Orchestrator({
      drivers: new DriverRegistry().register(h.driver),
      images: h.images,
      snapshots: h.snapshots,
      state: new InstanceStateStore(path.join(h.root, "instances")),
    });
    await again.init();
    expect(again.list()).toMatchObject([{ instanceId: "a", state: "running", recovered: true, pid: a.pid }]);
    expect((await again.invoke("a", "back")).message).toBe("Hello, back! [boot]");
    await again.stop("a");
    expect(h.driver.reclaimed).toEqual(["a"]);
    expect(await readdir(path.join(h.root, "instances"))).toEqual([]);
    // The double's process is this test's child, so it is gone once reaped (the driver sees its exit).
    for (let i = 0; i < 50 && h.driver.live.has(a.pid!); i++) await new Promise((r) => setTimeout(r, 20));
    expect(h.driver.live.has(a.pid!)).toBe(false);
    await expect(stat(`/proc/${a.pid}`)).rejects.toThrow();
  });

  it("takes a network slot for drivers that need one and gives it back on stop and on every failure", async () => {
    h = await orchestratorHarness();
    const pool = new NetworkPoolDouble(2);
    const fc = new ProcessDriver("firecracker", path.join(h.root, "sandboxes"), { needsNetwork: true });
    const o = new Orchestrator({
      drivers: new DriverRegistry().register(h.driver).register(fc),
      images: h.images,
      snapshots: h.snapshots,
      network: pool,
      defaults: { readyTimeoutMs: 30_000 },
    });
    await o.init();
    await o.start({ revision: "net-1", image: IMAGE, instanceId: "a", sandbox: "firecracker" });
    await o.start({ revision: "net-1", image: IMAGE, instanceId: "g" }); // gVisor: no slot
    expect([...pool.out]).toEqual([0]);
    await o.start({ revision: "net-1", image: IMAGE, instanceId: "b", sandbox: "firecracker" });
    expect(await codeOf(o.start({ revision: "net-1", image: IMAGE, sandbox: "firecracker" }))).toMatch(
      /^RESOURCE_EXHAUSTED: no network slot available: all network slots are in use/,
    );
    await o.stop("a");
    fc.faults.neverListen.add("mute-1");
    expect(await codeOf(o.start({ revision: "mute-1", image: IMAGE, sandbox: "firecracker" }))).toMatch(/^DEADLINE_EXCEEDED/);
    expect(await codeOf(o.start({ revision: "net-1", image: "missing", sandbox: "firecracker" }))).toMatch(/^NOT_FOUND/);
    expect([...pool.out]).toEqual([1]);
    await o.stopAll();
    expect([...pool.out]).toEqual([]);
    expect(fc.live.size + h.driver.live.size).toBe(0);
  });
});
