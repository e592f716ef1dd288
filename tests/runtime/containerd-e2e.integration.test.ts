// End to end with the REAL containerd driver and vHive's real helloworld image, through the gRPC API:
// boot, invoke, stop (containerd has no snapshots, so every start boots), concurrent instances, a
// function that crashes at start, and leak checks. (This driver runs functions on the host network
// at a port it picks and passes as PORT, so a "wrong port" cannot be provoked here.)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { startApiServer, type ApiServer } from "#node-runtime/api/api-server.js";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import { createNodeRuntime, type NodeRuntime } from "#node-runtime/index.js";
import { ensureHelloworldImage, type HelloworldImage } from "../fixtures/helloworld.js";
import { containerdUnavailable, startContainerd, type ContainerdDaemon } from "../fixtures/containerd-daemon.js";
import { hostLeftovers, settle } from "./leak-check.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Containers, tasks and snapshots left in the test's containerd namespace, plus host leftovers. */
async function leftovers(): Promise<string[]> {
  const ctr = (...args: string[]) => run("ctr", ["-a", containerd.address, "-n", "vhor-e2e", ...args]).then((r) => r.stdout.trim());
  const containers = (await ctr("containers", "ls", "-q")).split("\n").filter(Boolean);
  const tasks = (await ctr("tasks", "ls", "-q")).split("\n").filter(Boolean);
  return [...containers.map((c) => `container ${c}`), ...tasks.map((t) => `task ${t}`), ...(await hostLeftovers(root))];
}

// Upstream containerd and runc by default, Debian's with VHIVE_RUNTIMES=debian.
const unavailable = containerdUnavailable();
const skip = unavailable !== undefined;
if (skip) console.warn(`containerd-e2e skipped: ${unavailable}`);

let root: string;
let img: HelloworldImage;
let rt: NodeRuntime;
let server: ApiServer;
let api: ApiClient;
let containerd: ContainerdDaemon;

describe.skipIf(skip)("containerd end to end (real containerd + runc, real helloworld)", () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "vhor-e2e-ctd-"));
    img = await ensureHelloworldImage();
    // A private containerd (the image store author's fixture), so the host's daemon is never touched.
    containerd = await startContainerd();
    rt = await createNodeRuntime(
      parseRuntimeConfig({
        sandbox: "containerd",
        dataDir: path.join(root, "data"),
        snapshotMode: "vanilla",
        readyTimeoutMs: 30_000,
        logLevel: "warn",
        containerdAddress: containerd.address,
        containerdNamespace: "vhor-e2e",
      }),
    );
    await rt.images.loadOciLayout(img.layoutDir, img.ref);
    server = await startApiServer(rt, { socket: path.join(root, "api.sock") });
    api = new ApiClient(server.target, 120_000);
  });

  afterAll(async () => {
    api?.close();
    await server?.close();
    await rt?.close();
    await containerd?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("boots, invokes and stops through the API; no snapshots, so the next start boots too", async () => {
    const a = await api.runtimeCall("StartInstance", { revision: "ctd-00001", image: img.ref, instance_id: "ctd-a" });
    expect(a).toMatchObject({ sandbox: "containerd", start_kind: "boot", state: "running" });
    expect((await api.runtimeCall("Invoke", { instance_id: "ctd-a", name: "containerd" })).message).toBe("Hello, containerd!");
    expect((await api.runtimeCall("StopInstance", { instance_id: "ctd-a" })).snapshot).toBe("unsupported");
    const more = await Promise.all(
      ["ctd-b", "ctd-c"].map((id) => api.runtimeCall("StartInstance", { revision: "ctd-00001", image: img.ref, instance_id: id })),
    );
    expect(more.map((m) => m.start_kind)).toEqual(["boot", "boot"]);
    for (const m of more) expect((await api.runtimeCall("Invoke", { instance_id: m.instance_id, name: "x" })).message).toBe("Hello, x!");
    expect((await api.vhiveCall("StopVMs", { all_vms: true })).message).toBe("stopped 2 instances; the runtime keeps running");
    expect((await api.runtimeCall("ListSnapshots")).snapshots).toEqual([]);
    expect(await settle(leftovers)).toEqual([]);
  });

  it("a function that crashes at start is UNAVAILABLE and leaves nothing behind", async () => {
    try {
      await api.runtimeCall("StartInstance", { revision: "ctd-crash", image: img.ref, env: { PYTHONHOME: "/nonexistent" } });
      throw new Error("expected UNAVAILABLE");
    } catch (err) {
      expect(grpc.status[(err as grpc.ServiceError).code]).toBe("UNAVAILABLE");
      expect((err as grpc.ServiceError).details).toMatch(/ctd-crash/);
    }
    expect(rt.orchestrator.list()).toEqual([]);
    expect(await settle(leftovers)).toEqual([]);
  });
});
