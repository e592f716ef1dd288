// End to end with the REAL containerd driver and vHive's real helloworld image, through the gRPC API:
// boot, invoke, stop (containerd has no snapshots, so every start boots), concurrent instances, a
// function that never opens its port, and leak checks.
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../node-runtime/api/api-client.js";
import { startApiServer, type ApiServer } from "../../node-runtime/api/api-server.js";
import { parseRuntimeConfig } from "../../node-runtime/config/runtime-config.js";
import { createNodeRuntime, type NodeRuntime } from "../../node-runtime/index.js";
import { ensureHelloworldImage, type HelloworldImage } from "../fixtures/helloworld.js";
import { hostLeftovers, settle } from "./leak-check.js";

const haveContainerd = await access("/usr/bin/containerd").then(() => true, () => false);
const isRoot = process.getuid?.() === 0;
const skip = !haveContainerd || !isRoot;
if (skip) console.warn(`containerd-e2e skipped: ${!haveContainerd ? "containerd is not installed" : "needs root"}`);

let root: string;
let img: HelloworldImage;
let rt: NodeRuntime;
let server: ApiServer;
let api: ApiClient;

describe.skipIf(skip)("containerd end to end (real containerd + runc, real helloworld)", () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "vhor-e2e-ctd-"));
    img = await ensureHelloworldImage();
    rt = await createNodeRuntime(
      parseRuntimeConfig({ sandbox: "containerd", dataDir: path.join(root, "data"), snapshotMode: "vanilla", readyTimeoutMs: 30_000, logLevel: "warn" }),
    );
    await rt.images.loadOciLayout(img.layoutDir, img.ref);
    server = await startApiServer(rt, { socket: path.join(root, "api.sock") });
    api = new ApiClient(server.target, 120_000);
  });

  afterAll(async () => {
    api?.close();
    await server?.close();
    await rt?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("boots, invokes and stops through the API; no snapshots, so the next start boots too", async () => {
    const a = await api.runtimeCall("StartInstance", { revision: "ctd-00001", image: img.ref, instance_id: "ctd-a" });
    expect(a).toMatchObject({ sandbox: "containerd", start_kind: "boot", state: "running" });
    expect((await api.runtimeCall("Invoke", { instance_id: "ctd-a", name: "containerd" })).message).toBe("Hello, containerd!");
    expect((await api.runtimeCall("StopInstance", { instance_id: "ctd-a" })).snapshot).toBe("unsupported");
    const more = await Promise.all(["ctd-b", "ctd-c"].map((id) => api.runtimeCall("StartInstance", { revision: "ctd-00001", image: img.ref, instance_id: id })));
    expect(more.map((m) => m.start_kind)).toEqual(["boot", "boot"]);
    for (const m of more) expect((await api.runtimeCall("Invoke", { instance_id: m.instance_id, name: "x" })).message).toBe("Hello, x!");
    expect((await api.vhiveCall("StopVMs", { all_vms: true })).message).toBe("stopped 2 instances; the runtime keeps running");
    expect((await api.runtimeCall("ListSnapshots")).snapshots).toEqual([]);
    expect(await settle(() => hostLeftovers(root))).toEqual([]);
  });

  it("a function that never opens its port is DEADLINE_EXCEEDED and leaves nothing behind", async () => {
    (rt.orchestrator as unknown as { defaults: { readyTimeoutMs: number } }).defaults.readyTimeoutMs = 5_000;
    try {
      await api.runtimeCall("StartInstance", { revision: "ctd-mute", image: img.ref, port: 50052 });
      throw new Error("expected DEADLINE_EXCEEDED");
    } catch (err) {
      expect(grpc.status[(err as grpc.ServiceError).code]).toBe("DEADLINE_EXCEEDED");
    }
    expect(rt.orchestrator.list()).toEqual([]);
    expect(await settle(() => hostLeftovers(root))).toEqual([]);
  });
});
