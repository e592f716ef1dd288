// The gRPC API (vHive's Orchestrator service and ours) over a Unix socket, against the orchestrator
// wired to the process driver double: status codes, StopVMs not exiting, snapshots and metrics.
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { startApiServer, type ApiServer } from "#node-runtime/api/api-server.js";
import { startMetricsExporter } from "#node-runtime/metrics/http-exporter.js";
import { IMAGE, orchestratorHarness } from "./orchestrator-on-process-driver.js";

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup() {
  const h = await orchestratorHarness();
  const server: ApiServer = await startApiServer(h, { socket: path.join(h.root, "api.sock") });
  const client = new ApiClient(server.target, 30_000);
  cleanup.push(
    () => h.dispose(),
    () => server.close(),
    async () => client.close(),
  );
  return { h, client };
}

async function grpcCode(p: Promise<unknown>): Promise<[string, string]> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return [grpc.status[e.code], e.details];
  }
  throw new Error("expected a gRPC error");
}

describe("gRPC API", () => {
  it("vHive's Orchestrator service: StartVM boots, StopSingleVM snapshots, StartVM restores, StopVMs stops all and the server stays up", async () => {
    const { h, client } = await setup();
    const first = await client.vhiveCall("StartVM", { image: IMAGE, id: "vm-1" });
    expect(first.message).toMatch(/^started instance vm-1 of revision img-abababababababab by boot, function at unix:/);
    expect((await client.runtimeCall("Invoke", { instance_id: "vm-1", name: "vhive" })).message).toBe("Hello, vhive! [boot]");
    expect((await client.vhiveCall("StopSingleVM", { id: "vm-1" })).message).toBe("stopped instance vm-1 (snapshot: taken)");
    for (const id of ["vm-2", "vm-3"]) {
      expect((await client.vhiveCall("StartVM", { image: IMAGE, id })).message).toMatch(/by restore/);
    }
    expect((await client.vhiveCall("StopVMs", { all_vms: true })).message).toBe("stopped 2 instances; the runtime keeps running");
    expect((await client.runtimeCall("ListInstances")).instances).toEqual([]);
    // Still serving after StopVMs.
    expect((await client.runtimeCall("ListSnapshots")).snapshots).toMatchObject([{ revision: "img-abababababababab", files: 2 }]);
    expect(await h.leftovers()).toEqual([]);
  });

  it("our service: start with revision, invoke, list, metrics, delete snapshot", async () => {
    const { client } = await setup();
    const inst = await client.runtimeCall("StartInstance", { revision: "hello-1", image: IMAGE, instance_id: "a", snapshot_mode: "vanilla" });
    expect(inst).toMatchObject({ instance_id: "a", revision: "hello-1", start_kind: "boot", state: "running", sandbox: "gvisor", port: 50051 });
    expect(inst.endpoint.kind).toBe("unix");
    expect(inst.cold_start_us.AddInstance).toBeGreaterThan(0);
    const inv = await client.runtimeCall("Invoke", { instance_id: "a", name: "x" });
    expect(inv).toMatchObject({ message: "Hello, x! [boot]", cold_start: true });
    expect((await client.runtimeCall("GetInstance", { instance_id: "a" })).cold_start_us.FuncInvocation).toBeCloseTo(inv.duration_us);
    expect((await client.runtimeCall("ListInstances")).instances.map((i: { instance_id: string }) => i.instance_id)).toEqual(["a"]);
    expect(await client.runtimeCall("StopInstance", { instance_id: "a" })).toEqual({ instance_id: "a", snapshot: "taken", snapshot_error: "" });
    const snaps = await client.runtimeCall("ListSnapshots");
    expect(snaps.snapshots[0]).toMatchObject({ revision: "hello-1", sandbox: "gvisor", in_use: 0 });
    expect(snaps.total_bytes).toBe(snaps.snapshots[0].size_bytes);
    const m = await client.runtimeCall("GetMetrics");
    expect(m.prometheus_text).toContain('node_runtime_cold_start_stage_microseconds_bucket{le="100",stage="AddInstance",sandbox="gvisor",start_kind="boot"}');
    expect(m.vhive_csv.split("\n")[1]).toMatch(/^hello-1\/gvisor\/boot,/);
    expect(m.cold_starts[0]).toMatchObject({ instance_id: "a", start_kind: "boot" });
    await client.runtimeCall("DeleteSnapshot", { revision: "hello-1" });
    expect((await client.runtimeCall("ListSnapshots")).snapshots).toEqual([]);
  });

  it("keeps vHive's Orchestrator wire format: package, methods, field names and numbers", async () => {
    const protoLoader = await import("@grpc/proto-loader");
    const def = protoLoader.loadSync(path.resolve("node-runtime/api/protos/orchestrator.proto"), { keepCase: true });
    expect(Object.keys(def["proto.Orchestrator"]!).sort()).toEqual(["StartVM", "StopSingleVM", "StopVMs"]);
    const fields = (name: string) =>
      (def[`proto.${name}`] as { type: { field: { name: string; number: number; type: string }[] } }).type.field.map((f) => [f.name, f.number, f.type]);
    expect(fields("StartVMReq")).toEqual([
      ["image", 1, "TYPE_STRING"],
      ["id", 2, "TYPE_STRING"],
    ]);
    expect(fields("StopVMsReq")).toEqual([["all_vms", 1, "TYPE_BOOL"]]);
    expect(fields("StopSingleVMReq")).toEqual([["id", 1, "TYPE_STRING"]]);
    expect(fields("Status")).toEqual([["message", 1, "TYPE_STRING"]]);
  });

  it("answers with proper gRPC status codes and messages", async () => {
    const { client } = await setup();
    expect(await grpcCode(client.vhiveCall("StartVM", { image: "missing:1", id: "x" }))).toEqual([
      "NOT_FOUND",
      expect.stringMatching(/image "missing:1" is not available/),
    ]);
    expect(await grpcCode(client.runtimeCall("StartInstance", { revision: "bad/rev", image: IMAGE }))).toEqual([
      "INVALID_ARGUMENT",
      expect.stringMatching(/revision "bad\/rev" is invalid/),
    ]);
    expect(await grpcCode(client.runtimeCall("StartInstance", { revision: "r", image: IMAGE, sandbox: "firecracker" }))).toEqual([
      "FAILED_PRECONDITION",
      expect.stringMatching(/not available on this node/),
    ]);
    expect(await grpcCode(client.vhiveCall("StopSingleVM", { id: "ghost" }))).toEqual(["NOT_FOUND", 'no instance "ghost"']);
    expect(await grpcCode(client.runtimeCall("Invoke", { instance_id: "" }))).toEqual(["INVALID_ARGUMENT", "instance_id is required"]);
    expect(await grpcCode(client.runtimeCall("DeleteSnapshot", { revision: "none" }))).toEqual(["NOT_FOUND", "no snapshot for revision none"]);
    await client.runtimeCall("StartInstance", { revision: "r", image: IMAGE, instance_id: "dup" });
    expect((await grpcCode(client.runtimeCall("StartInstance", { revision: "r", image: IMAGE, instance_id: "dup" })))[0]).toBe("ALREADY_EXISTS");
  });

  it("DEADLINE_EXCEEDED for a function that never opens its port, UNAVAILABLE for one that crashed", async () => {
    const { h, client } = await setup();
    h.driver.faults.neverListen.add("mute");
    h.driver.faults.neverListen.add("crash");
    h.driver.faults.crashAfterMs.set("crash", 100);
    (h.orchestrator as unknown as { defaults: { readyTimeoutMs: number } }).defaults.readyTimeoutMs = 3000;
    expect((await grpcCode(client.runtimeCall("StartInstance", { revision: "mute", image: IMAGE })))[0]).toBe("DEADLINE_EXCEEDED");
    expect((await grpcCode(client.runtimeCall("StartInstance", { revision: "crash", image: IMAGE })))[0]).toBe("UNAVAILABLE");
    expect(await h.leftovers()).toEqual([]);
  });

  it("exports Prometheus text and the vHive CSV over HTTP", async () => {
    const { h } = await setup();
    const exporter = await startMetricsExporter(h.metrics, "127.0.0.1", 0);
    cleanup.push(() => exporter.close());
    await h.orchestrator.start({ revision: "p-1", image: IMAGE, instanceId: "p" });
    await h.orchestrator.invoke("p");
    await h.orchestrator.coldStartRecord("p");
    const text = await (await fetch(`http://127.0.0.1:${exporter.port}/metrics`)).text();
    expect(text).toMatch(/node_runtime_cold_start_stage_microseconds_count\{stage="FuncInvocation",sandbox="gvisor",start_kind="boot"\} 1/);
    const csv = await (await fetch(`http://127.0.0.1:${exporter.port}/metrics.csv`)).text();
    expect(csv.startsWith("FuncName,AddInstance,StdDev,")).toBe(true);
    expect((await fetch(`http://127.0.0.1:${exporter.port}/other`)).status).toBe(404);
    expect(await (await fetch(`http://127.0.0.1:${exporter.port}/healthz`)).text()).toBe("ok\n");
  });
});
