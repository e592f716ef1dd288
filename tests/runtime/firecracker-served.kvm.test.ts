// The served runtime on a REAL Firecracker, built from a RuntimeConfig by createNodeRuntime (what
// `node-runtime serve` runs) and driven through vHive's gRPC Orchestrator API and ours: StartVM
// boots, StopSingleVM snapshots at the first teardown, the next StartVM restores (LoadVMM, no boot),
// REAP records then prefetches, and a snapshot that stops loading is discarded and retaken. A second
// runtime started under a smaller disk budget evicts the least recently used revision's snapshot and
// its working set, and restores the other.
// Needs KVM, FIRECRACKER_BIN and FIRECRACKER_KERNEL; tests/sandbox/firecracker-nested.integration.test.ts runs
// it inside the nested-KVM machine.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { startApiServer, type ApiServer } from "#node-runtime/api/api-server.js";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import type { ImageStore } from "#node-runtime/images/types.js";
import { createNodeRuntime, type NodeRuntime } from "#node-runtime/index.js";
import { ensureHelloworldImage } from "../fixtures/helloworld.js";

const bin = process.env.FIRECRACKER_BIN;
const kernel = process.env.FIRECRACKER_KERNEL;
const missing = [bin ? "" : "FIRECRACKER_BIN", kernel ? "" : "FIRECRACKER_KERNEL", existsSync("/dev/kvm") ? "" : "/dev/kvm"].filter(Boolean);
if (missing.length > 0) console.warn(`firecracker-served.kvm.test: skipped, ${missing.join(" and ")} missing`);

const octet = Math.floor(Math.random() * 255);
const tag = Math.random()
  .toString(36)
  .slice(2, 6)
  .replace(/[^a-z0-9]/g, "x");
const work = mkdtempSync(path.join(tmpdir(), "vhfc-served-kvm-"));
let rt: NodeRuntime | undefined;
let server: ApiServer | undefined;
let client: ApiClient | undefined;
let rt2: NodeRuntime | undefined;

afterAll(async () => {
  client?.close();
  await server?.close();
  await rt?.close();
  await rt2?.close();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)("served runtime on a real Firecracker, through vHive's API", () => {
  it("boots, snapshots at the first teardown, restores the next start, records and prefetches with REAP, and retakes a snapshot that no longer loads", async () => {
    const config = parseRuntimeConfig({
      sandbox: "firecracker",
      dataDir: path.join(work, "data"),
      // The suite's files share one image store (its ext4 conversion takes minutes under nested KVM).
      ...(process.env.KVM_TEST_IMAGE_DIR ? { imageDir: process.env.KVM_TEST_IMAGE_DIR } : {}),
      socket: path.join(work, "api.sock"),
      firecrackerBin: bin,
      firecrackerKernel: kernel,
      networkPrefix: `vhsk${tag}`,
      networkPoolSize: 2,
      networkCloneCidr: `10.157.${octet}.0/25`,
      networkTransitCidr: `10.157.${octet}.128/25`,
      // Nested KVM: a boot takes tens of seconds.
      readyTimeoutMs: 300_000,
      logLevel: "warn",
    });
    rt = await createNodeRuntime(config, { logger: pino({ level: "warn" }, pino.destination(2)) });
    server = await startApiServer(rt, { socket: path.join(work, "api.sock") });
    client = new ApiClient(server.target, 600_000);
    const hello = await ensureHelloworldImage();
    const image = (await (rt.images as LocalImageStore).loadOciLayout(hello.layoutDir, hello.ref)).digest;

    const first = await client.vhiveCall("StartVM", { image, id: `vm1-${tag}` });
    expect(first.message).toMatch(new RegExp(`^started instance vm1-${tag} of revision .* by boot`));
    expect((await client.runtimeCall("Invoke", { instance_id: `vm1-${tag}`, name: "served" })).message).toBe("Hello, served!");
    expect((await client.vhiveCall("StopSingleVM", { id: `vm1-${tag}` })).message).toBe(`stopped instance vm1-${tag} (snapshot: taken)`);

    const second = await client.vhiveCall("StartVM", { image, id: `vm2-${tag}` });
    expect(second.message).toMatch(/by restore/);
    const restored = await client.runtimeCall("GetInstance", { instance_id: `vm2-${tag}` });
    expect(Object.keys(restored.cold_start_us)).toContain("LoadVMM");
    expect(Object.keys(restored.cold_start_us)).not.toContain("FcCreateVM");
    expect((await client.runtimeCall("Invoke", { instance_id: `vm2-${tag}`, name: "clone" })).message).toBe("Hello, clone!");
    await client.vhiveCall("StopSingleVM", { id: `vm2-${tag}` });

    // REAP through our API: the first load records the working set, the next prefetches it.
    for (const [i, stage] of [
      [3, "record"],
      [4, "prefetch"],
    ] as const) {
      // Nothing but the handler's mode tells the two apart from outside: both must restore and answer.
      const inst = await client.runtimeCall("StartInstance", { revision: "", image, instance_id: `vm${i}-${tag}`, snapshot_mode: "reap" });
      expect(inst.start_kind).toBe("restore");
      expect((await client.runtimeCall("Invoke", { instance_id: `vm${i}-${tag}`, name: stage })).message).toBe(`Hello, ${stage}!`);
      await client.runtimeCall("StopInstance", { instance_id: `vm${i}-${tag}` });
    }

    // A snapshot that no longer loads (its memory file cut short): the start falls back to a boot,
    // the snapshot is discarded, and this instance's teardown takes it again.
    const [snap] = (await client.runtimeCall("ListSnapshots")).snapshots as { revision: string; dir?: string }[];
    expect(snap).toBeDefined();
    const snapDirs = readdirSync(path.join(work, "data", "snapshots"), { recursive: true }) as string[];
    const memory = snapDirs.find((f) => f.endsWith(`${path.sep}memory`) || f === "memory");
    expect(memory).toBeDefined();
    writeFileSync(path.join(work, "data", "snapshots", memory!), "");
    const fallback = await client.vhiveCall("StartVM", { image, id: `vm5-${tag}` });
    expect(fallback.message).toMatch(/by boot/);
    expect((await client.runtimeCall("Invoke", { instance_id: `vm5-${tag}`, name: "again" })).message).toBe("Hello, again!");
    expect((await client.vhiveCall("StopSingleVM", { id: `vm5-${tag}` })).message).toBe(`stopped instance vm5-${tag} (snapshot: taken)`);
    expect((await client.vhiveCall("StartVM", { image, id: `vm6-${tag}` })).message).toMatch(/by restore/);
    expect((await client.vhiveCall("StopVMs", { all_vms: true })).message).toMatch(/^stopped 1 instance/);
    expect((await client.runtimeCall("ListInstances")).instances).toEqual([]);
  }, 1_800_000);

  it("collects under the disk budget at start-up: the least recently used revision's snapshot goes with its working set, the other still restores", async () => {
    const hello = await ensureHelloworldImage();
    const shared = await sharedImages();
    const image = (await shared.loadOciLayout(hello.layoutDir, hello.ref)).digest;
    // The suite's shared image store stays outside this runtime's budget (its ext4 conversion takes
    // minutes here): everything else the runtime stores counts, as served.
    const images: ImageStore = {
      get: (ref) => shared.get(ref),
      loadOciLayout: (dir, ref) => shared.loadOciLayout(dir, ref),
      loadTarball: (file, ref) => shared.loadTarball(file, ref),
      rootfs: (digest) => shared.rootfs(digest),
      ext4: (digest) => shared.ext4(digest),
    };
    const dataDir = path.join(work, "gc-data");
    const configWith = (diskBudget?: number) =>
      parseRuntimeConfig({
        sandbox: "firecracker",
        dataDir,
        socket: path.join(work, "gc.sock"),
        firecrackerBin: bin,
        firecrackerKernel: kernel,
        networkPrefix: `vhgc${tag}`,
        networkPoolSize: 2,
        networkCloneCidr: `10.157.${(octet + 1) % 255}.0/25`,
        networkTransitCidr: `10.157.${(octet + 1) % 255}.128/25`,
        readyTimeoutMs: 300_000,
        logLevel: "warn",
        ...(diskBudget !== undefined ? { diskBudget } : {}),
      });
    const logger = pino({ level: "warn" }, pino.destination(2));
    const committed = path.join(dataDir, "snapshots", "committed");

    // Revision gc-a: booted, snapshotted, then restored with REAP, which records its working set.
    // Revision gc-b: booted and snapshotted after that, so gc-a is the least recently used.
    let first: NodeRuntime | undefined = await createNodeRuntime(configWith(), { logger, images });
    try {
      const o = first.orchestrator;
      for (const [id, revision, snapshotMode] of [
        ["gca1", "gc-a", undefined],
        ["gca2", "gc-a", "reap"],
        ["gcb1", "gc-b", undefined],
      ] as const) {
        const started = await o.start({ instanceId: `${id}-${tag}`, revision, image, ...(snapshotMode ? { snapshotMode } : {}) });
        expect(started.startKind).toBe(id === "gca2" ? "restore" : "boot");
        expect((await o.invoke(`${id}-${tag}`, id)).message).toBe(`Hello, ${id}!`);
        const stopped = await o.stop(`${id}-${tag}`);
        expect(stopped.snapshot).toBe(id === "gca2" ? "exists" : "taken");
      }
    } finally {
      await first.close();
      first = undefined;
    }
    const aFiles = readdirSync(path.join(committed, "gc-a"));
    expect(
      aFiles.filter((f) => /^working-set\..*\.reap$/.test(f)),
      "REAP recorded no working set beside gc-a's snapshot",
    ).toHaveLength(1);
    // A budget that the caches alone cannot meet but dropping gc-a's own files (not the image it
    // shares with gc-b) does: half of those files' bytes under what the runtime stores now.
    const used = duBytes(dataDir);
    const caches = duBytes(path.join(dataDir, "firecracker", "prepared-images"));
    const aOwn = aFiles.filter((f) => f !== "rootfs.ext4").reduce((sum, f) => sum + duBytes(path.join(committed, "gc-a", f)), 0);
    const budget = used - caches - Math.floor(aOwn / 2);
    console.log("disk budget case: stored", used, "B; caches", caches, "B; gc-a's own files", aOwn, "B; budget", budget, "B");

    const second = await createNodeRuntime(configWith(budget), { logger, images });
    rt2 = second;
    expect((await second.snapshots.list()).map((s) => s.revision)).toEqual(["gc-b"]);
    expect(existsSync(path.join(committed, "gc-a")), "gc-a's snapshot directory (and its working set) is still there").toBe(false);
    expect(duBytes(dataDir)).toBeLessThanOrEqual(budget);
    const restored = await second.orchestrator.start({ instanceId: `gcb2-${tag}`, revision: "gc-b", image });
    expect(restored.startKind).toBe("restore");
    expect((await second.orchestrator.invoke(`gcb2-${tag}`, "kept")).message).toBe("Hello, kept!");
    await second.orchestrator.stop(`gcb2-${tag}`);
  }, 1_800_000);
});

/** Allocated bytes under a path, as the runtime's disk budget counts them (du). */
function duBytes(p: string): number {
  return Number(execFileSync("du", ["-s", "-B1", "--", p], { encoding: "utf8" }).split("\t")[0]);
}

/** The image store the suite's files share (KVM_TEST_IMAGE_DIR), or this file's own. */
async function sharedImages(): Promise<LocalImageStore> {
  return new LocalImageStore({ root: process.env.KVM_TEST_IMAGE_DIR ?? path.join(work, "images") });
}
