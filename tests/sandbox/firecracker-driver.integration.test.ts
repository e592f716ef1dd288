// The Firecracker driver against the Firecracker API test double (tests/doubles/firecracker), for
// both spec versions, with real network namespaces from the pool (prefix vhnt) and real ext4 disks
// (prefix vhfc). The double validates every request against the official spec and enforces the
// state machine, but runs no guest: these tests check the API conversation, the processes, the
// files and the cleanup, not a booted function (see firecracker-real.test.ts for that).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  readSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { FirecrackerDriver, FIRECRACKER_DEFAULT_MACHINE, type FirecrackerDriverOptions } from "#node-runtime/sandbox/firecracker/driver.js";
import { FirecrackerApiError } from "#node-runtime/sandbox/firecracker/api-client.js";
import type { FirecrackerApiVersion } from "#node-runtime/sandbox/firecracker/api-types.js";
import type { UffdHandlerLauncher, UffdHandlerStart } from "#node-runtime/sandbox/firecracker/uffd-seam.js";
import { buildGuestInit } from "#node-runtime/sandbox/firecracker/guest-init/build.js";
import { NamespaceNetworkPool } from "#node-runtime/network/namespace-pool.js";
import type { NetworkSlot } from "#node-runtime/network/types.js";
import type { BootRequest, SandboxHandle } from "#node-runtime/sandbox/driver.js";
import { StageTimer } from "#node-runtime/metrics/stages.js";
import { installFirecrackerDouble } from "../doubles/firecracker/install-double.js";
import { skipReason } from "../requirements.js";
import { firecrackerSpec } from "../upstream-specs.js";
import { vmName } from "#node-runtime/sandbox/firecracker/vm-layout.js";
import { SandboxExitedError, SandboxRequestError, SandboxStateError, SandboxTimeoutError } from "#node-runtime/sandbox/errors.js";
import { ReapUffdLauncher } from "#node-runtime/sandbox/firecracker/reap-uffd-launcher.js";
import { describeHostCpu } from "#node-runtime/sandbox/firecracker/snapshot-meta.js";
import { loadUffdNative } from "#node-runtime/memory/native-binding.js";

let reapNative = "";
try {
  loadUffdNative();
} catch (e) {
  reapNative = (e as Error).message;
  console.warn(`firecracker-driver.test: REAP handler case skipped: ${reapNative}`);
}

// The double validates requests against Firecracker's API spec of each version.
const runnable =
  skipReason("firecracker-driver.test", { root: "network namespaces", specs: [firecrackerSpec("1.13.1"), firecrackerSpec("1.16.1")] }) === undefined;
const JAILER_DOUBLE = fileURLToPath(new URL("../doubles/firecracker/jailer-double.sh", import.meta.url));

const DIGEST = "sha256:" + "ab".repeat(32);
// This suite's address block: 10.152.<random>.0/24.
const octet = Math.floor(Math.random() * 256);
const tag = Math.random()
  .toString(36)
  .slice(2, 6)
  .replace(/[^a-z0-9]/g, "x");
const work = mkdtempSync(join(tmpdir(), "vhfc-drv-"));
let pool: NamespaceNetworkPool | undefined;
let baseImage = "";
let guestInit = "";
let kernel = "";
/** Every VMM pid the tests saw, checked for leaks at the end. */
const spawnedPids: number[] = [];

interface Exchange {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
  status: number;
}

function readRecord(file: string): Exchange[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Exchange);
}

/** The conversation without the readiness probes (GET / and GET /version). */
function writes(file: string): Exchange[] {
  return readRecord(file).filter((e) => e.method !== "GET");
}

function debugfsCat(image: string, path: string): string {
  return execFileSync("debugfs", ["-R", `cat ${path}`, image], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function netnsInode(pid: number): number {
  return statSync(`/proc/${pid}/ns/net`).ino;
}

/** Stands in for the REAP page-fault handler (engineer H4's, node-runtime/memory): listens and records. */
class UffdLauncherDouble implements UffdHandlerLauncher {
  readonly starts: UffdHandlerStart[] = [];
  readonly received: string[] = [];
  finished = 0;
  private servers: Server[] = [];
  /** After the load, the handler ends after `ms` with this outcome (a crash, or an end that is not one). */
  constructor(private readonly endAfterLoad?: { ms: number; ok: boolean; reason: string }) {}
  async start(req: UffdHandlerStart) {
    this.starts.push(req);
    let failNow: (r: { ok: boolean; reason?: string }) => void = () => undefined;
    const exited = new Promise<{ ok: boolean; reason?: string }>((ok) => (failNow = ok));
    let greeted: () => void = () => undefined;
    const ready = new Promise<void>((ok) => (greeted = ok));
    const server = createServer((sock) => {
      let text = "";
      sock.on("data", (d) => (text += d.toString()));
      sock.on("end", () => {
        this.received.push(text);
        greeted();
        const end = this.endAfterLoad;
        if (end !== undefined) setTimeout(() => failNow({ ok: end.ok, reason: end.reason }), end.ms);
      });
    });
    await new Promise<void>((ok) => server.listen(req.socketPath, ok));
    this.servers.push(server);
    return {
      socketPath: req.socketPath,
      ready,
      exited,
      finishFirstInvocation: async () => {
        this.finished += 1;
        return { mode: req.mode };
      },
      stop: async () => {
        await new Promise<void>((ok) => server.close(() => ok()));
        failNow({ ok: true });
      },
    };
  }
}

beforeAll(async () => {
  if (!runnable) return;
  const root = join(work, "image-root");
  mkdirSync(join(root, "etc"), { recursive: true });
  mkdirSync(join(root, "app"), { recursive: true });
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n");
  writeFileSync(join(root, "app/server.py"), "print('hello')\n");
  baseImage = join(work, "image.ext4");
  execFileSync("mkfs.ext4", ["-q", "-F", "-d", root, baseImage, "16M"]);
  // The double opens the kernel file but boots nothing: any file stands in for vmlinux here.
  kernel = join(work, "vmlinux");
  writeFileSync(kernel, "not a kernel: the API double only checks that it opens\n");
  guestInit = await buildGuestInit(join(work, "init"));
  pool = await NamespaceNetworkPool.create({
    namePrefix: `vhnt${tag}`,
    size: 4,
    cloneCidr: `10.152.${octet}.0/25`,
    transitCidr: `10.152.${octet}.128/25`,
    acquireTimeoutMs: 0,
  });
});

afterAll(async () => {
  await pool?.destroy();
  rmSync(work, { recursive: true, force: true });
  if (runnable) {
    // No namespace of ours and no double process outlives the suite.
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(`vhnt${tag}`);
    expect(spawnedPids.filter(alive)).toEqual([]);
  }
});

/** Slots and drivers of the running test, released and stopped after it even when it fails. */
const heldSlots = new Set<NetworkSlot>();
const drivers: FirecrackerDriver[] = [];

async function take(): Promise<NetworkSlot> {
  const s = await pool!.acquire();
  heldSlots.add(s);
  return s;
}

async function give(s: NetworkSlot): Promise<void> {
  if (heldSlots.delete(s)) await pool!.release(s);
}

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.stopAll();
  for (const s of [...heldSlots]) await give(s);
});

function makeDriver(version: FirecrackerApiVersion, name: string, extra: Partial<FirecrackerDriverOptions> = {}) {
  const dir = join(work, `${name}-${version}`);
  mkdirSync(dir, { recursive: true });
  const record = join(dir, "api.jsonl");
  const driver = new FirecrackerDriver({
    firecrackerBin: installFirecrackerDouble(dir, version, record),
    kernelPath: kernel,
    // Stands in for the image store (engineer H5's ImageStore): one ext4 made with mkfs.ext4 -d.
    images: {
      ext4: async (digest: string) => {
        if (digest !== DIGEST) throw new Error(`unknown image ${digest}`);
        return baseImage;
      },
    },
    guestInitBinary: guestInit,
    runDir: join(dir, "run"),
    // The double is a Node process compiled on start: slow when the machine is busy.
    apiStartTimeoutMs: 60_000,
    ...extra,
  });
  drivers.push(driver);
  for (const method of ["boot", "restore"] as const) {
    const original = driver[method].bind(driver) as (...a: unknown[]) => Promise<SandboxHandle>;
    (driver as unknown as Record<string, unknown>)[method] = async (...a: unknown[]) => {
      const h = await original(...a);
      if (h.pid !== undefined) spawnedPids.push(h.pid);
      return h;
    };
  }
  return { driver, record, dir, runDir: join(dir, "run") };
}

/** Owner and permission bits that matter for a file shared into jails. */
function sharedReadOnly(file: string): { uid: number; writableByOthers: boolean; readableByOthers: boolean } {
  const st = statSync(file);
  return { uid: st.uid, writableByOthers: (st.mode & 0o022) !== 0, readableByOthers: (st.mode & 0o004) !== 0 };
}

function request(id: string, slot: NetworkSlot): BootRequest {
  return {
    instanceId: id,
    revision: "helloworld-00001",
    imageDigest: DIGEST,
    image: { entrypoint: ["python3"], cmd: ["/app/server.py"], env: ["PYTHONUNBUFFERED=1"], workingDir: "/app", user: "app", exposedPorts: [50051] },
    port: 50051,
    vcpus: FIRECRACKER_DEFAULT_MACHINE.vcpus,
    memoryMiB: FIRECRACKER_DEFAULT_MACHINE.memoryMiB,
    env: { GUEST_PORT: "50051" },
    network: slot,
  };
}

describe.skipIf(!runnable).each(["1.13.1", "1.16.1"] as const)("FirecrackerDriver against the API double v%s", (version) => {
  const snapDir = join(work, `snap-full-${version}`);

  it("boots: configures machine, kernel, disk and tap, then InstanceStart, inside the slot's namespace", async () => {
    const { driver, record, runDir } = makeDriver(version, "boot");
    const slot = await take();
    const timer = new StageTimer();
    const h = await driver.boot(request(`boot-${tag}`, slot), timer);
    try {
      expect(h.endpoint).toEqual({ kind: "tcp", host: slot.cloneIp, port: 50051 });
      expect(netnsInode(h.pid!)).toBe(statSync(`/var/run/netns/${slot.netns}`).ino);
      const w = writes(record);
      expect(w.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
        "PUT /machine-config 204",
        "PUT /boot-source 204",
        "PUT /drives/rootfs 204",
        "PUT /drives/rw 204",
        "PUT /network-interfaces/eth0 204",
        "PUT /actions 204",
      ]);
      expect(w[0]!.body).toEqual({ vcpu_count: 1, mem_size_mib: 512, smt: false, track_dirty_pages: false });
      expect(w[1]!.body!.kernel_image_path).toBe("vmlinux");
      expect(w[1]!.body!.boot_args).toContain("init=/.vhfc/init");
      expect(w[1]!.body!.boot_args).toContain("vhfc.rw=vdb");
      expect(w[1]!.body!.boot_args).toContain(`ip=${slot.guestIp}::${slot.gatewayIp}:255.255.255.252:boot-${tag}:eth0:off`);
      // The image is shared read-only; the VM writes into a small writable layer of its own.
      expect(w[2]!.body).toEqual({ drive_id: "rootfs", path_on_host: "rootfs.ext4", is_root_device: true, is_read_only: true });
      expect(w[3]!.body).toEqual({ drive_id: "rw", path_on_host: "rw.ext4", is_root_device: false, is_read_only: false });
      expect(w[4]!.body).toEqual({ iface_id: "eth0", host_dev_name: slot.tapName, guest_mac: slot.guestMac });
      expect(w[5]!.body).toEqual({ action_type: "InstanceStart" });
      // The VM's disk is the prepared image itself (a link: no copy), with our init and the image's
      // start command; the image store's ext4 did not get them.
      const disk = join(runDir, `boot-${tag}`, "rootfs.ext4");
      expect(statSync(disk).nlink).toBeGreaterThan(1);
      const layer = join(runDir, `boot-${tag}`, "rw.ext4");
      expect(execFileSync("dumpe2fs", ["-h", layer], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })).toContain("vhfc-rw");
      // Sparse: the layer's blocks on disk are a small part of its size.
      expect(statSync(layer).blocks * 512).toBeLessThan(statSync(layer).size / 8);
      expect(debugfsCat(disk, "/.vhfc/config")).toContain("arg python3\narg /app/server.py\n");
      expect(debugfsCat(disk, "/.vhfc/config")).toContain("user app\n");
      const initStat = execFileSync("debugfs", ["-R", "stat /.vhfc/init", disk], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      expect(initStat).toMatch(new RegExp(`Mode:\\s+0755[\\s\\S]*Size: ${statSync(guestInit).size}\\b`));
      expect(execFileSync("debugfs", ["-R", "ls /", baseImage], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })).not.toContain(".vhfc");
      expect(Object.keys(timer.snapshot()).sort()).toEqual(["FcCreateVM", "GetImage"]);
      const stats = await driver.stats(h);
      expect(stats.rssBytes).toBeGreaterThan(1024 * 1024);

      // Snapshot only while paused: the double refuses otherwise, with Firecracker's fault message.
      mkdirSync(snapDir);
      await expect(driver.snapshot(h, snapDir)).rejects.toThrow(FirecrackerApiError);
      await expect(driver.snapshot(h, snapDir)).rejects.toThrow(/must be paused/);
      await driver.pause(h);
      const files = await driver.snapshot(h, snapDir);
      await driver.resume(h);
      expect(files.files.sort()).toEqual(["firecracker-snapshot.json", "memory", "rootfs.ext4", "rw.ext4", "vmstate"]);
      // The snapshot links the read-only image instead of copying it.
      expect(statSync(join(snapDir, "rootfs.ext4")).ino).toBe(statSync(disk).ino);
      expect(statSync(join(snapDir, "memory")).size).toBe(512 * 1024 * 1024);
      expect(
        writes(record)
          .slice(6)
          .map((e) => `${e.method} ${e.path} ${e.status}`),
      ).toEqual(["PUT /snapshot/create 400", "PUT /snapshot/create 400", "PATCH /vm 204", "PUT /snapshot/create 204", "PATCH /vm 204"]);
      const create = writes(record).find((e) => e.path === "/snapshot/create" && e.status === 204)!;
      expect(create.body).toEqual({ snapshot_path: "snapshot/vmstate", mem_file_path: "snapshot/memory", snapshot_type: "Full" });
      expect(
        writes(record)
          .filter((e) => e.path === "/vm")
          .map((e) => e.body!.state),
      ).toEqual(["Paused", "Resumed"]);
      const meta = JSON.parse(readFileSync(join(snapDir, "firecracker-snapshot.json"), "utf8"));
      expect(meta).toMatchObject({
        format: 1,
        snapshotType: "Full",
        firecrackerVersion: version,
        hostCpu: await describeHostCpu(),
        vcpus: 1,
        memoryMiB: 512,
        network: { tapName: slot.tapName, guestIp: slot.guestIp },
      });
    } finally {
      await driver.stop(h);
      await give(slot);
    }
    expect(alive(h.pid)).toBe(false);
    expect(readdirSync(runDir)).toEqual([]);
  });

  it("restores two clones at once from the Full snapshot, with the same drive and tap names", async () => {
    const { driver, record, runDir } = makeDriver(version, "restore");
    const slots = [await take(), await take()];
    const timers = [new StageTimer(), new StageTimer()];
    const handles = await Promise.all(
      slots.map((s, i) => driver.restore({ ...request(`clone${i}-${tag}`, s), snapshotDir: snapDir, memory: { kind: "file" } }, timers[i]!)),
    );
    try {
      const loads = writes(record).filter((e) => e.path === "/snapshot/load");
      expect(loads).toHaveLength(2);
      for (const l of loads) {
        expect(l.status).toBe(204);
        expect(l.body).toEqual({
          snapshot_path: "snapshot/vmstate",
          mem_backend: { backend_type: "File", backend_path: "snapshot/memory" },
          track_dirty_pages: false,
          resume_vm: false,
        });
      }
      expect(
        writes(record)
          .filter((e) => e.path === "/vm")
          .map((e) => e.body!.state),
      ).toEqual(["Resumed", "Resumed"]);
      // Nothing but the load may precede it on a fresh process.
      expect(writes(record).filter((e) => e.path !== "/snapshot/load" && e.path !== "/vm")).toEqual([]);
      for (const [i, h] of handles.entries()) {
        expect(h.endpoint).toEqual({ kind: "tcp", host: slots[i]!.cloneIp, port: 50051 });
        expect(netnsInode(h.pid!)).toBe(statSync(`/var/run/netns/${slots[i]!.netns}`).ino);
        expect(Object.keys(timers[i]!.snapshot()).sort()).toEqual(["FcResume", "LoadVMM"]);
        // Each clone shares the read-only image and writes its own copy of the snapshotted layer.
        expect(statSync(join(runDir, h.instanceId, "rootfs.ext4")).ino).toBe(statSync(join(snapDir, "rootfs.ext4")).ino);
        expect(statSync(join(runDir, h.instanceId, "rw.ext4")).ino).not.toBe(statSync(join(snapDir, "rw.ext4")).ino);
      }
      expect(driver.liveInstances().sort()).toEqual([`clone0-${tag}`, `clone1-${tag}`]);
    } finally {
      for (const h of handles) await driver.stop(h);
      for (const s of slots) await give(s);
    }
    expect(handles.map((h) => alive(h.pid))).toEqual([false, false]);
    expect(readdirSync(runDir)).toEqual([]);
  });

  it("restores into a slot whose tap has another name through network_overrides", async () => {
    const { driver, record } = makeDriver(version, "override");
    const slot = await take();
    execFileSync("ip", ["-n", slot.netns, "tuntap", "add", "dev", "vhfctap1", "mode", "tap"]);
    try {
      const h = await driver.restore(
        { ...request(`ovr-${tag}`, { ...slot, tapName: "vhfctap1" }), snapshotDir: snapDir, memory: { kind: "file" } },
        new StageTimer(),
      );
      const load = writes(record).find((e) => e.path === "/snapshot/load")!;
      expect(load.status).toBe(204);
      expect(load.body!.network_overrides).toEqual([{ iface_id: "eth0", host_dev_name: "vhfctap1" }]);
      await driver.stop(h);
    } finally {
      execFileSync("ip", ["-n", slot.netns, "link", "del", "vhfctap1"]);
    }
  });

  it("refuses a snapshot of another Firecracker version, CPU or machine before loading it, leaving nothing", async () => {
    const { driver, record, runDir } = makeDriver(version, "incompatible");
    const other = join(work, `snap-other-${version}`);
    mkdirSync(other);
    for (const f of ["vmstate", "memory", "rootfs.ext4", "rw.ext4"]) linkSync(join(snapDir, f), join(other, f));
    const meta = JSON.parse(readFileSync(join(snapDir, "firecracker-snapshot.json"), "utf8"));
    const otherVersion = version === "1.13.1" ? "1.16.1" : "1.13.1";
    writeFileSync(
      join(other, "firecracker-snapshot.json"),
      JSON.stringify({ ...meta, firecrackerVersion: otherVersion, hostCpu: "SomeVendor family 1 model 2 stepping 3 (elsewhere)" }),
    );
    const slot = await take();
    try {
      const err = await driver
        .restore({ ...request(`incomp-${tag}`, slot), snapshotDir: other, memory: { kind: "file" } }, new StageTimer())
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SandboxStateError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `cannot be loaded here: written by Firecracker ${otherVersion}, this is Firecracker ${version}; taken on CPU "SomeVendor family 1 model 2 stepping 3 \\(elsewhere\\)", this host has `,
        ),
      );
      // The request's machine must be the snapshot's too.
      const bigger = await driver
        .restore({ ...request(`incomp2-${tag}`, slot), vcpus: 2, snapshotDir: snapDir, memory: { kind: "file" } }, new StageTimer())
        .catch((e: unknown) => e);
      expect((bigger as Error).message).toMatch(/cannot be loaded here: machine of 1 vCPU\(s\) and 512 MiB, the request asks for 2 and 512 MiB$/);
      expect(writes(record).filter((e) => e.path === "/snapshot/load")).toEqual([]);
      expect(driver.liveInstances()).toEqual([]);
      expect(readdirSync(runDir)).toEqual([]);
    } finally {
      await give(slot);
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("restores with a Uffd backend through the page-fault handler's socket", async () => {
    const uffd = new UffdLauncherDouble();
    const { driver, record, runDir } = makeDriver(version, "uffd", { uffd });
    const slot = await take();
    const h = await driver.restore({ ...request(`uffd-${tag}`, slot), snapshotDir: snapDir, memory: { kind: "uffd", mode: "record" } }, new StageTimer());
    try {
      const load = writes(record).find((e) => e.path === "/snapshot/load")!;
      expect(load.status).toBe(204);
      expect(load.body!.mem_backend).toEqual({ backend_type: "Uffd", backend_path: "uffd.socket" });
      expect(uffd.starts[0]).toMatchObject({
        instanceId: `uffd-${tag}`,
        memoryFile: join(snapDir, "memory"),
        socketPath: join(runDir, `uffd-${tag}`, "uffd.socket"),
        mode: "record",
      });
      // Firecracker (here its double) connected to the handler and described the guest memory.
      expect(JSON.parse(uffd.received[0]!)[0]).toMatchObject({ size: 512 * 1024 * 1024, offset: 0 });
      // The memory file is the handler's business: it is not linked into the jail.
      expect(existsSync(join(runDir, h.instanceId, "snapshot/memory"))).toBe(false);
      expect(uffd.starts[0]!.vmmPid).toBe(h.pid);
      await driver.firstInvocationDone(h);
      expect(uffd.finished).toBe(1);
    } finally {
      await driver.stop(h);
      await give(slot);
    }
    expect(readdirSync(runDir)).toEqual([]);
  });

  it("kills the VMM when the page-fault handler fails", async () => {
    const uffd = new UffdLauncherDouble({ ms: 50, ok: false, reason: "handler crashed (test)" });
    const { driver } = makeDriver(version, "uffd-fail", { uffd });
    const slot = await take();
    const h = await driver.restore({ ...request(`uffdfail-${tag}`, slot), snapshotDir: snapDir, memory: { kind: "uffd", mode: "lazy" } }, new StageTimer());
    try {
      expect(await h.exited).toEqual({ code: null, signal: "SIGKILL" });
    } finally {
      await driver.stop(h);
      await give(slot);
    }
  });

  it("kills the VMM when the page-fault handler ends without failing while the VM runs (its vCPUs would wait on faults forever)", async () => {
    const uffd = new UffdLauncherDouble({ ms: 50, ok: true, reason: "closed" });
    const { driver } = makeDriver(version, "uffd-end", { uffd });
    const slot = await take();
    const h = await driver.restore({ ...request(`uffdend-${tag}`, slot), snapshotDir: snapDir, memory: { kind: "uffd", mode: "lazy" } }, new StageTimer());
    try {
      expect(await h.exited).toEqual({ code: null, signal: "SIGKILL" });
    } finally {
      await driver.stop(h);
      await give(slot);
    }
  });

  it("writes Diff snapshots on top of the memory they continue, and loads them with dirty tracking", async () => {
    const { driver, record } = makeDriver(version, "diff", { snapshotType: "Diff" });
    const slot = await take();
    const first = join(work, `snap-diff1-${version}`);
    const second = join(work, `snap-diff2-${version}`);
    mkdirSync(first);
    mkdirSync(second);
    let h: SandboxHandle = await driver.boot(request(`diffboot-${tag}`, slot), new StageTimer());
    try {
      expect(writes(record)[0]!.body).toMatchObject({ track_dirty_pages: true });
      await driver.pause(h);
      await driver.snapshot(h, first);
      expect(writes(record).find((e) => e.path === "/snapshot/create")!.body!.snapshot_type).toBe("Diff");
      await driver.stop(h);
      // Mark the base memory so we can see the diff land on top of a copy of it.
      const fd = openSync(join(first, "memory"), "r+");
      writeSync(fd, Buffer.from("base-page"), 0, 9, 0);
      closeSync(fd);
      h = await driver.restore({ ...request(`diffclone-${tag}`, slot), snapshotDir: first, memory: { kind: "file" } }, new StageTimer());
      const load = writes(record).find((e) => e.path === "/snapshot/load")!;
      expect(load.body).toMatchObject({ track_dirty_pages: true, resume_vm: false });
      await driver.pause(h);
      await driver.snapshot(h, second);
      const mem = openSync(join(second, "memory"), "r");
      const head = Buffer.alloc(4096 + 9);
      readSync(mem, head, 0, head.length, 0);
      closeSync(mem);
      expect(head.subarray(0, 9).toString()).toBe("base-page");
      expect(head.subarray(4096, 4096 + 9).toString()).toBe("diff-page");
      const meta = JSON.parse(readFileSync(join(second, "firecracker-snapshot.json"), "utf8"));
      expect(meta).toMatchObject({ snapshotType: "Diff", baseSnapshotDir: first });
    } finally {
      await driver.stop(h);
      await give(slot);
    }
  });

  it("surfaces Firecracker's fault_message and cleans up when a boot fails", async () => {
    const { driver, runDir } = makeDriver(version, "fault");
    const slot = await take();
    try {
      // A tap that does not exist in the namespace: Firecracker refuses the network interface.
      const timer = new StageTimer();
      const boot = driver.boot(request(`fault-${tag}`, { ...slot, tapName: "no-such-tap" }), timer);
      await expect(boot).rejects.toThrow(FirecrackerApiError);
      await expect(boot).rejects.toThrow(/Open tap device failed.*no-such-tap/);
      expect(readdirSync(runDir)).toEqual([]);
      expect(driver.liveInstances()).toEqual([]);
    } finally {
      await give(slot);
    }
  });

  it("writes the init into a cached copy of the image once per config; boots only clone it", async () => {
    const { driver, dir } = makeDriver(version, "prepared");
    const slot = await take();
    const cache = join(dir, "prepared-images");
    try {
      for (const [i, env] of [{ A: "1" }, { A: "1" }, { A: "2" }].entries()) {
        const h = await driver.boot({ ...request(`prep${i}-${tag}`, slot), env }, new StageTimer());
        await driver.stop(h);
        expect(readdirSync(cache).filter((f) => f.endsWith(".ext4") && !f.startsWith("writable-layer-"))).toHaveLength(i < 2 ? 1 : 2);
      }
      for (const f of readdirSync(cache).filter((f) => !f.startsWith("writable-layer-")))
        expect(debugfsCat(join(cache, f), "/.vhfc/config")).toMatch(/env A=[12]\n/);
    } finally {
      await give(slot);
    }
  });

  it("makes the writable-layer template once when the first boots come at the same time", async () => {
    const { driver, dir } = makeDriver(version, "template");
    const slots = [await take(), await take()];
    try {
      const handles = await Promise.all(slots.map((slot, i) => driver.boot(request(`tmpl${i}-${tag}`, slot), new StageTimer())));
      for (const h of handles) await driver.stop(h);
      const cache = readdirSync(join(dir, "prepared-images"));
      expect(cache.filter((f) => f.startsWith("writable-layer-"))).toEqual(["writable-layer-1024MiB.ext4"]);
    } finally {
      for (const slot of slots) await give(slot);
    }
  });

  it("cleans up a VMM that never opens its socket, one that dies at once, and refuses a duplicate id", async () => {
    const silent = join(work, "silent-firecracker");
    writeFileSync(silent, "#!/bin/sh\n# Stands in for a VMM that hangs before opening its API socket.\nexec sleep 600\n", { mode: 0o755 });
    const slot = await take();
    const hung = makeDriver(version, "hung", { firecrackerBin: silent, apiStartTimeoutMs: 1_000 });
    const hanging = hung.driver.boot(request(`hung-${tag}`, slot), new StageTimer());
    await expect(hanging).rejects.toThrow(/did not open .*api\.socket within 1000 ms/);
    await expect(hanging).rejects.toBeInstanceOf(SandboxTimeoutError);
    expect(hung.driver.liveInstances()).toEqual([]);
    expect(readdirSync(hung.runDir)).toEqual([]);
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toMatch(/sleep 600/);

    const dying = join(work, "dying-firecracker");
    writeFileSync(dying, "#!/bin/sh\necho 'cannot open /dev/kvm' >&2\nexit 1\n", { mode: 0o755 });
    const dead = makeDriver(version, "dead", { firecrackerBin: dying });
    const diedEarly = dead.driver.boot(request(`dead-${tag}`, slot), new StageTimer());
    await expect(diedEarly).rejects.toThrow(/exited before opening its API socket: cannot open \/dev\/kvm/);
    await expect(diedEarly).rejects.toBeInstanceOf(SandboxExitedError);
    expect(readdirSync(dead.runDir)).toEqual([]);

    const { driver, runDir } = makeDriver(version, "dup");
    const h = await driver.boot(request(`dup-${tag}`, slot), new StageTimer());
    await expect(driver.boot(request(`dup-${tag}`, slot), new StageTimer())).rejects.toThrow(/already running/);
    await expect(driver.boot(request(`dup-${tag}`, slot), new StageTimer())).rejects.toBeInstanceOf(SandboxStateError);
    await expect(driver.restore({ ...request(`dup-${tag}`, slot), snapshotDir: snapDir, memory: { kind: "file" } }, new StageTimer())).rejects.toThrow(
      /already running/,
    );
    expect(driver.liveInstances()).toEqual([`dup-${tag}`]);
    expect(alive(h.pid)).toBe(true);
    await driver.stop(h);
    expect(alive(h.pid)).toBe(false);
    expect(readdirSync(runDir)).toEqual([]);
  });

  it("reclaims one adopted VM by its instance id, then every VM a crashed predecessor left behind", async () => {
    const first = makeDriver(version, "reclaim");
    const [slotA, slotB] = [await take(), await take()];
    // A long id with characters the jailer refuses: its VM directory is named by vmName().
    const adopted = `orphan.adopted_${tag}-${"x".repeat(40)}`;
    const a = await first.driver.boot(request(adopted, slotA), new StageTimer());
    const b = await first.driver.boot(request(`orphan-${tag}`, slotB), new StageTimer());
    expect(readdirSync(first.runDir).sort()).toEqual([vmName(adopted), `orphan-${tag}`].sort());
    // A new driver on the same directories, as after a daemon restart; the first one is forgotten.
    const { driver: second } = makeDriver(version, "reclaim");
    await second.reclaim(adopted);
    expect(await a.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(readdirSync(first.runDir)).toEqual([`orphan-${tag}`]);
    expect(alive(b.pid)).toBe(true);
    await second.reclaim(adopted); // nothing left: still fine
    expect(await second.reclaimStale()).toEqual([`orphan-${tag}`]);
    expect(await b.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(readdirSync(first.runDir)).toEqual([]);
    expect(await second.reclaimStale()).toEqual([]);
  });

  it("rejects bad requests naming the field, before starting anything", async () => {
    const { driver, runDir } = makeDriver(version, "bad");
    const slot = await take();
    try {
      await expect(driver.boot({ ...request(`bad-${tag}`, slot), vcpus: 0 }, new StageTimer())).rejects.toThrow(/vcpus/);
      await expect(driver.boot({ ...request(`bad-${tag}`, slot), vcpus: 0 }, new StageTimer())).rejects.toBeInstanceOf(SandboxRequestError);
      await expect(driver.boot({ ...request("bad id!", slot) }, new StageTimer())).rejects.toThrow(/instanceId/);
      await expect(driver.boot({ ...request(`bad-${tag}`, slot), network: undefined }, new StageTimer())).rejects.toThrow(/network/);
      await expect(driver.boot({ ...request(`bad-${tag}`, slot), imageDigest: "sha256:00" }, new StageTimer())).rejects.toThrow(/unknown image/);
      await expect(
        driver.restore({ ...request(`bad-${tag}`, slot), snapshotDir: join(work, "nope"), memory: { kind: "file" } }, new StageTimer()),
      ).rejects.toThrow(/snapshot metadata .* missing/);
      await expect(
        driver.restore({ ...request(`bad-${tag}`, { ...slot, guestIp: "172.16.0.6" }), snapshotDir: snapDir, memory: { kind: "file" } }, new StageTimer()),
      ).rejects.toThrow(/differs from slot/);
      await expect(
        driver.restore({ ...request(`bad-${tag}`, { ...slot, guestIp: "172.16.0.6" }), snapshotDir: snapDir, memory: { kind: "file" } }, new StageTimer()),
      ).rejects.toBeInstanceOf(SandboxStateError);
      await expect(
        driver.restore({ ...request(`bad-${tag}`, slot), snapshotDir: snapDir, memory: { kind: "uffd", mode: "lazy" } }, new StageTimer()),
      ).rejects.toThrow(/option `uffd`/);
      expect(existsSync(runDir) ? readdirSync(runDir) : []).toEqual([]);
    } finally {
      await give(slot);
    }
  });
});

describe.skipIf(!runnable || reapNative !== "")("FirecrackerDriver with the REAP userfaultfd handler (node-runtime/memory)", () => {
  it("fails the restore and kills the VMM when the handler gets no userfaultfd (the double cannot send one)", async () => {
    const snapDir = join(work, "snap-reap");
    const { driver, runDir } = makeDriver("1.16.1", "reap", { uffd: new ReapUffdLauncher({ handshakeTimeoutMs: 5_000 }) });
    const slot = await take();
    try {
      const booted = await driver.boot(request(`reapboot-${tag}`, slot), new StageTimer());
      mkdirSync(snapDir);
      await driver.pause(booted);
      await driver.snapshot(booted, snapDir);
      await driver.stop(booted);
      const restore = driver.restore({ ...request(`reap-${tag}`, slot), snapshotDir: snapDir, memory: { kind: "uffd", mode: "record" } }, new StageTimer());
      await expect(restore).rejects.toThrow(/no userfaultfd arrived/);
      expect(driver.liveInstances()).toEqual([]);
      expect(readdirSync(runDir)).toEqual([]);
    } finally {
      await give(slot);
    }
  });
});

describe.skipIf(!runnable)("FirecrackerDriver in jailer mode (jailer double, v1.16.1)", () => {
  it("jails each VM: chroot layout, dropped uid/gid, slot namespace; snapshots and restores through the chroot", async () => {
    // The jailed VMM (uid 10000) must reach its chroot below the test's directory.
    chmodSync(work, 0o755);
    const base = join(work, "jail");
    const uffd = new UffdLauncherDouble();
    const { driver, record } = makeDriver("1.16.1", "jailed", { jailer: { jailerBin: JAILER_DOUBLE, uid: 10000, gid: 10000, chrootBaseDir: base }, uffd });
    writeFileSync(record, "");
    chmodSync(record, 0o666);
    const jailOf = (id: string) => join(base, "firecracker-double-1.16.1", id);
    const slot = await take();
    const booted = await driver.boot(request(`jboot-${tag}`, slot), new StageTimer());
    const status = readFileSync(`/proc/${booted.pid}/status`, "utf8");
    expect(status).toMatch(/^Uid:\s+10000\s+10000/m);
    expect(status).toMatch(/^Gid:\s+10000\s+10000/m);
    expect(netnsInode(booted.pid!)).toBe(statSync(`/var/run/netns/${slot.netns}`).ino);
    const root = join(jailOf(`jboot-${tag}`), "root");
    expect(readdirSync(root).sort()).toEqual(["api.socket", "firecracker-double-1.16.1", "rootfs.ext4", "rw.ext4", "vmlinux"]);
    // The image is shared read-only and stays ours; only the VM's writable layer is the jail's.
    expect(sharedReadOnly(join(root, "rootfs.ext4")).writableByOthers).toBe(false);
    expect(statSync(join(root, "rootfs.ext4")).uid).toBe(0);
    expect(statSync(join(root, "rw.ext4")).uid).toBe(10000);
    // The kernel every VM shares is linked in, still ours and writable by no jail.
    expect(statSync(join(root, "vmlinux")).ino).toBe(statSync(kernel).ino);
    expect(sharedReadOnly(kernel)).toEqual({ uid: 0, writableByOthers: false, readableByOthers: true });
    expect(writes(record).map((e) => `${e.method} ${e.path} ${e.status}`)).toContain("PUT /actions 204");
    expect(writes(record).find((e) => e.path === "/drives/rootfs")!.body!.path_on_host).toBe("rootfs.ext4");

    const snap = join(work, "snap-jailed");
    mkdirSync(snap);
    await driver.pause(booted);
    await driver.snapshot(booted, snap);
    await driver.stop(booted);
    expect(existsSync(jailOf(`jboot-${tag}`))).toBe(false);
    expect(readdirSync(snap).sort()).toEqual(["firecracker-snapshot.json", "memory", "rootfs.ext4", "rw.ext4", "vmstate"]);
    // Written by the jailed VMM, taken back before any other jail links them.
    for (const f of ["vmstate", "memory"]) expect(sharedReadOnly(join(snap, f))).toEqual({ uid: 0, writableByOthers: false, readableByOthers: true });

    const fileClone = await driver.restore({ ...request(`jfile-${tag}`, slot), snapshotDir: snap, memory: { kind: "file" } }, new StageTimer());
    const fileRoot = join(jailOf(`jfile-${tag}`), "root");
    for (const f of ["vmstate", "memory"]) {
      expect(statSync(join(fileRoot, "snapshot", f)).ino).toBe(statSync(join(snap, f)).ino);
      expect(sharedReadOnly(join(fileRoot, "snapshot", f)).writableByOthers).toBe(false);
    }
    expect(statSync(join(fileRoot, "rw.ext4")).uid).toBe(10000);
    await driver.stop(fileClone);

    const clone = await driver.restore({ ...request(`jclone-${tag}`, slot), snapshotDir: snap, memory: { kind: "uffd", mode: "lazy" } }, new StageTimer());
    // The jailed VMM could connect to the handler's socket and loaded the snapshot.
    expect(JSON.parse(uffd.received[0]!)[0]).toMatchObject({ size: 512 * 1024 * 1024 });
    expect(
      writes(record)
        .filter((e) => e.path === "/snapshot/load")
        .map((e) => e.status),
    ).toEqual([204, 204]);
    expect(readFileSync(`/proc/${clone.pid}/status`, "utf8")).toMatch(/^Uid:\s+10000/m);
    await driver.stop(clone);
    expect(existsSync(jailOf(`jclone-${tag}`))).toBe(false);
    expect(alive(clone.pid)).toBe(false);
  });
});
