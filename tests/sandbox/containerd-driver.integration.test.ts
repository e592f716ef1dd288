// containerd end to end: the real helloworld image from the image store, imported into a private
// containerd, run with runc, invoked over gRPC with SayHello, paused, resumed and stopped; then
// nothing may be left (containers, tasks, active snapshots, mounts, processes, files).
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import type { StoredImage } from "#node-runtime/images/types.js";
import { StageTimer } from "#node-runtime/metrics/stages.js";
import { SandboxRequestError } from "#node-runtime/sandbox/errors.js";
import { ContainerdDriver } from "#node-runtime/sandbox/containerd/driver.js";
import type { BootRequest, SandboxHandle } from "#node-runtime/sandbox/driver.js";
import { containerdUnavailable, startContainerd, type ContainerdDaemon } from "../fixtures/containerd-daemon.js";
import { ensureHelloworldImage } from "../fixtures/helloworld.js";

// Upstream containerd and runc by default, Debian's with VHIVE_RUNTIMES=debian.
const unavailable = containerdUnavailable();
const skip = unavailable !== undefined;
if (skip) console.log(`containerd driver tests skipped: ${unavailable}`);

const PROTO = path.resolve("node-runtime/api/protos/helloworld.proto");
type GreeterClient = grpc.Client & {
  SayHello(req: { name: string }, options: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: { message: string }) => void): void;
};
const Greeter = (
  grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as unknown as {
    helloworld: { Greeter: new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => GreeterClient };
  }
).helloworld.Greeter;

function sayHello(handle: SandboxHandle, name: string, timeoutMs: number): Promise<string> {
  if (handle.endpoint.kind !== "tcp") throw new Error("expected a TCP endpoint");
  // Short reconnect backoff: grpc-js waits a full second before its second connect attempt otherwise.
  const client = new Greeter(`${handle.endpoint.host}:${handle.endpoint.port}`, grpc.credentials.createInsecure(), {
    "grpc.initial_reconnect_backoff_ms": 10,
    "grpc.min_reconnect_backoff_ms": 10,
    "grpc.max_reconnect_backoff_ms": 50,
  });
  const deadline = Date.now() + timeoutMs;
  return new Promise<string>((resolve, reject) => {
    // Wait for the channel (the function may still be starting), then call within the same deadline.
    client.waitForReady(deadline, (notReady) => {
      if (notReady) {
        client.close();
        reject(Object.assign(notReady, { code: grpc.status.DEADLINE_EXCEEDED }));
        return;
      }
      client.SayHello({ name }, { deadline }, (error, reply) => {
        client.close();
        if (error) reject(error);
        else resolve(reply!.message);
      });
    });
  });
}

let daemon: ContainerdDaemon | undefined;
let driver: ContainerdDriver;
let store: LocalImageStore;
let image: StoredImage;
let storeRoot: string;

function request(instanceId: string, overrides: Partial<BootRequest> = {}): BootRequest {
  return {
    instanceId,
    revision: "helloworld-00001",
    imageDigest: image.digest,
    image: image.config,
    port: 50051,
    vcpus: 1,
    memoryMiB: 256,
    ...overrides,
  };
}

async function mountsMentioning(text: string): Promise<string[]> {
  return (await readFile("/proc/self/mounts", "utf8")).split("\n").filter((line) => line.includes(text));
}

/** PIDs of processes whose command line names our containerd's socket (its shims). */
async function shimsOfDaemon(): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === daemon!.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(daemon!.address) || cmdline.includes(`vhctr-${daemon!.id}`)) found.push(Number(entry));
  }
  return found;
}

/** Asserts containerd holds no containers, tasks or active snapshots, and no mount names `id`. */
async function expectNothingLeft(ids: string[]): Promise<void> {
  expect(await shimsOfDaemon()).toEqual([]);
  expect(execFileSync("ip", ["netns", "list"]).toString()).not.toContain("vhctr");
  expect((await driver.client.listContainers()).containers).toEqual([]);
  expect((await driver.client.listTasks()).tasks).toEqual([]);
  const active = (await driver.client.listSnapshots("overlayfs")).filter((s) => s.kind !== "COMMITTED");
  expect(active).toEqual([]);
  for (const id of ids) {
    expect(await mountsMentioning(id)).toEqual([]);
    expect(existsSync(path.join(daemon!.state, "instances", id))).toBe(false);
    expect(await driver.cgroupDirs(id)).toEqual([]);
  }
}

beforeAll(async () => {
  if (skip) return;
  const hello = await ensureHelloworldImage();
  storeRoot = await mkdtemp("/var/tmp/vhimg-store-");
  store = new LocalImageStore({ root: storeRoot });
  image = await store.loadTarball(hello.tarball);
  daemon = await startContainerd();
  driver = new ContainerdDriver({ address: daemon.address, namespace: `vhctr-${daemon.id}`, images: store, stateDir: path.join(daemon.state, "instances") });
});

afterAll(async () => {
  if (driver) {
    await driver.close();
    expect(await driver.cgroupDirs()).toEqual([]);
  }
  await daemon?.stop();
  if (storeRoot) await rm(storeRoot, { recursive: true, force: true });
});

describe.skipIf(skip)("containerd driver", () => {
  it("boots helloworld, answers SayHello, pauses, resumes and stops without leaks", async () => {
    const timer = new StageTimer();
    const handle = await driver.boot(request("vhctr-hello-1"), timer);
    expect(handle.kind).toBe("containerd");
    expect(driver.capabilities.snapshots).toBe(false);
    const stages = timer.snapshot();
    for (const stage of ["GetImage", "NewContainer", "NewTask", "TaskWait", "TaskStart"] as const) expect(stages[stage]).toBeGreaterThan(0);
    expect(await sayHello(handle, "vhive", 30_000)).toBe("Hello, vhive!");
    // The leak check's shim probe sees the live instance's shim.
    expect((await shimsOfDaemon()).length).toBeGreaterThan(0);

    const stats = await driver.stats(handle);
    expect(stats.rssBytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(stats.cpuMicros).toBeGreaterThan(0);
    expect(handle.pid).toBeGreaterThan(0);

    await driver.pause(handle);
    await expect(sayHello(handle, "paused", 1500)).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    await driver.resume(handle);
    expect(await sayHello(handle, "again", 10_000)).toBe("Hello, again!");
    expect(await driver.logs(handle)).toContain("serving helloworld.Greeter");

    // A second boot of the same image finds it in containerd: GetImage does no import.
    const second = new StageTimer();
    const other = await driver.boot(request("vhctr-hello-2"), second);
    expect(second.snapshot().GetImage!).toBeLessThan(stages.GetImage!);
    expect(other.endpoint).not.toEqual(handle.endpoint);
    expect(await sayHello(other, "two", 30_000)).toBe("Hello, two!");

    // A second instance with a live instance's id is refused and leaves the live one alone.
    await expect(driver.boot(request("vhctr-hello-1"), new StageTimer())).rejects.toThrow("instance vhctr-hello-1 already exists");
    expect(await sayHello(handle, "still", 10_000)).toBe("Hello, still!");
    expect(await driver.logs(handle)).toContain("serving helloworld.Greeter");

    await driver.stop(handle);
    await driver.stop(other);
    expect(await handle.exited).toEqual({ code: 0, signal: null });
    expect(() => process.kill(handle.pid!, 0)).toThrow();
    await expectNothingLeft(["vhctr-hello-1", "vhctr-hello-2"]);
  });

  it("reports a function that exits by itself, and still cleans up on stop", async () => {
    const crashing = { ...image.config, entrypoint: ["/usr/bin/python3", "-c"], cmd: ["import sys; sys.exit(3)"] };
    const handle = await driver.boot(request("vhctr-crash", { image: crashing }), new StageTimer());
    expect(await handle.exited).toEqual({ code: 3, signal: null });
    await driver.stop(handle);
    await expectNothingLeft(["vhctr-crash"]);
  });

  it("enforces the memory limit through the cgroup", async () => {
    const hog = { ...image.config, entrypoint: ["/usr/bin/python3", "-c"], cmd: ["x = bytearray(200 * 1024 * 1024); print(len(x))"] };
    const handle = await driver.boot(request("vhctr-oom", { image: hog, memoryMiB: 64 }), new StageTimer());
    expect(await handle.exited).toEqual({ code: null, signal: "SIGKILL" });
    await driver.stop(handle);
    await expectNothingLeft(["vhctr-oom"]);
  });

  it("runs each instance in its own network namespace on the image's port when asked", async () => {
    const netDriver = new ContainerdDriver({
      address: daemon!.address,
      namespace: `vhctr-${daemon!.id}`,
      images: store,
      stateDir: path.join(daemon!.state, "instances"),
      network: { mode: "netns", subnet: "10.213.7.0/29", prefix: "vhctr" },
    });
    try {
      const [a, b] = await Promise.all(["vhctr-net-a", "vhctr-net-b"].map((id) => netDriver.boot(request(id), new StageTimer())));
      // Same guest port in both, distinct addresses inside namespaces this test's driver made.
      expect([a!.endpoint, b!.endpoint].map((e) => (e.kind === "tcp" ? e.port : 0))).toEqual([50051, 50051]);
      expect(new Set([a!.endpoint, b!.endpoint].map((e) => (e.kind === "tcp" ? e.host : "")))).toEqual(new Set(["10.213.7.2", "10.213.7.6"]));
      const namespaces = execFileSync("ip", ["netns", "list"]).toString();
      expect(namespaces).toContain("vhctr-ns-0");
      expect(namespaces).toContain("vhctr-ns-1");
      expect(await sayHello(a!, "a", 30_000)).toBe("Hello, a!");
      expect(await sayHello(b!, "b", 30_000)).toBe("Hello, b!");
      // A third instance does not fit in a /29 (two /30 blocks).
      await expect(netDriver.boot(request("vhctr-net-c"), new StageTimer())).rejects.toThrow("containerd network subnet 10.213.7.0/29 is full");
      await netDriver.stop(a!);
      await netDriver.stop(b!);
      expect(() => execFileSync("ip", ["link", "show", "vhctrh0"], { stdio: "ignore" })).toThrow();
      await expectNothingLeft(["vhctr-net-a", "vhctr-net-b", "vhctr-net-c"]);
    } finally {
      netDriver.client.close();
    }
  });

  it("reclaims an adopted instance another driver started: task, container, snapshot, network namespace, files", async () => {
    const options = {
      address: daemon!.address,
      namespace: `vhctr-${daemon!.id}`,
      images: store,
      stateDir: path.join(daemon!.state, "instances"),
      network: { mode: "netns" as const, subnet: "10.213.9.0/30", prefix: "vhctr" },
    };
    // The first driver stands for a runtime that was restarted: its in-memory state is forgotten.
    const first = new ContainerdDriver(options);
    const successor = new ContainerdDriver(options);
    try {
      const h = await first.boot(request("vhctr-adopted"), new StageTimer());
      expect(await sayHello(h, "adopted", 30_000)).toBe("Hello, adopted!");
      await successor.reclaim("vhctr-adopted");
      expect(() => process.kill(h.pid!, 0)).toThrow();
      await successor.reclaim("vhctr-adopted"); // nothing left: still fine
      await expect(successor.reclaim("bad/id")).rejects.toBeInstanceOf(SandboxRequestError);
      await expectNothingLeft(["vhctr-adopted"]);
    } finally {
      first.client.close();
      successor.client.close();
    }
  });

  it("rejects unknown images and bad requests with clear errors and creates nothing", async () => {
    const unknown = `sha256:${"ab".repeat(32)}`;
    await expect(driver.boot(request("vhctr-unknown", { imageDigest: unknown }), new StageTimer())).rejects.toThrow(
      `image ${unknown} is not in the image store`,
    );
    await expect(driver.boot(request("bad/id"), new StageTimer())).rejects.toThrow(`instanceId "bad/id"`);
    await expect(driver.boot(request("vhctr-mem", { memoryMiB: 0 }), new StageTimer())).rejects.toThrow("memoryMiB must be at least 16");
    const empty = { ...image.config, entrypoint: [], cmd: [] };
    await expect(driver.boot(request("vhctr-empty", { image: empty }), new StageTimer())).rejects.toThrow("neither Entrypoint nor Cmd");
    await expect(driver.restore({ ...request("vhctr-restore"), snapshotDir: "/nonexistent", memory: { kind: "file" } }, new StageTimer())).rejects.toThrow(
      "containerd sandboxes have no snapshots",
    );
    await expectNothingLeft(["vhctr-unknown", "vhctr-mem", "vhctr-empty"]);
    expect(
      await stat(path.join(daemon!.state, "instances")).then(
        (s) => s.isDirectory(),
        () => true,
      ),
    ).toBe(true);
  });
});
