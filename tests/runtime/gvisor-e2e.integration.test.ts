// End to end with the REAL gVisor driver and vHive's real helloworld image: start, invoke, snapshot on
// teardown, restore three instances concurrently, invoke each, stop — through the orchestrator, through
// the gRPC API (vHive's Orchestrator service and ours), and through the CLI against `node-runtime serve`;
// then the fault cases with their gRPC codes, and leak checks (processes, mounts, files) after each.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { startApiServer, type ApiServer } from "#node-runtime/api/api-server.js";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import { createNodeRuntime, type NodeRuntime } from "#node-runtime/index.js";
import { ensureHelloworldImage, type HelloworldImage } from "../fixtures/helloworld.js";
import { gvisorUnavailable } from "../sandbox/gvisor/helloworld-fixture.js";
import { hostLeftovers, settle } from "./leak-check.js";

const run = promisify(execFile);
// Upstream runsc by default, Debian's with VHIVE_RUNTIMES=debian.
const unavailable = gvisorUnavailable();
const skip = unavailable !== undefined;
if (skip) console.warn(`gvisor-e2e skipped: ${unavailable}`);

let root: string;
let img: HelloworldImage;
let rt: NodeRuntime;
let server: ApiServer;
let api: ApiClient;

async function grpcError(p: Promise<unknown>): Promise<[string, string]> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return [grpc.status[e.code] ?? String(e.code), e.details];
  }
  throw new Error("expected a gRPC error");
}

async function leftovers(): Promise<string[]> {
  const live = rt.orchestrator.list().map((i) => `instance ${i.instanceId} (${i.state})`);
  const staging = await readdir(path.join(root, "data", "snapshots", "staging")).catch(() => []);
  const sandboxes = await readdir(path.join(root, "gv", "instances")).catch(() => []);
  const runscState = (await readdir(path.join(root, "gv", "runsc")).catch(() => [])).filter((f) => !f.startsWith("runsc.") || f.endsWith(".state"));
  return [
    ...live,
    ...staging.map((s) => `staging ${s}`),
    ...sandboxes.map((s) => `sandbox dir ${s}`),
    ...runscState.map((s) => `runsc state ${s}`),
    ...(await hostLeftovers(root)),
  ];
}

describe.skipIf(skip)("gVisor end to end (real runsc, real helloworld)", () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "vhor-e2e-gv-"));
    img = await ensureHelloworldImage();
    rt = await createNodeRuntime(
      parseRuntimeConfig({
        sandbox: "gvisor",
        dataDir: path.join(root, "data"),
        snapshotMode: "vanilla",
        readyTimeoutMs: 15_000,
        logLevel: "warn",
        gvisorBaseDir: path.join(root, "gv"),
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
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("orchestrator: boot, invoke, snapshot on teardown, three concurrent restores, invoke each, stop", async () => {
    const o = rt.orchestrator;
    const first = await o.start({ revision: "hello-00001", image: img.ref, instanceId: "gv-first" });
    expect(first).toMatchObject({ startKind: "boot", state: "running", sandbox: "gvisor" });
    expect((await o.invoke("gv-first", "gvisor")).message).toBe("Hello, gvisor!");
    const stats = await o.stats("gv-first");
    expect(stats.rssBytes).toBeGreaterThan(5 * 1024 * 1024);
    expect((await o.stop("gv-first")).snapshot).toBe("taken");
    const [snap] = await rt.snapshots.list();
    expect(snap).toMatchObject({ revision: "hello-00001", sandbox: "gvisor" });
    expect(snap!.sizeBytes).toBeGreaterThan(1024 * 1024);

    const ids = ["gv-r1", "gv-r2", "gv-r3"];
    const restored = await Promise.all(ids.map((instanceId) => o.start({ revision: "hello-00001", image: img.ref, instanceId })));
    expect(restored.map((r) => r.startKind)).toEqual(["restore", "restore", "restore"]);
    for (const r of restored) expect(r.coldStart.LoadVMM ?? r.coldStart.FcResume).toBeGreaterThan(0);
    const replies = await Promise.all(ids.map((id) => o.invoke(id, id)));
    expect(replies.map((r) => r.message)).toEqual(ids.map((id) => `Hello, ${id}!`));
    expect((await Promise.all(ids.map((id) => o.stop(id)))).map((r) => r.snapshot)).toEqual(["exists", "exists", "exists"]);
    expect(await settle(leftovers)).toEqual([]);
  }, 300_000);

  it("gRPC API: vHive's StartVM/StopSingleVM/StopVMs and our StartInstance/Invoke/ListInstances/GetMetrics", async () => {
    // vHive's service: one revision per image digest.
    expect((await api.vhiveCall("StartVM", { image: img.ref, id: "vh-1" })).message).toMatch(/^started instance vh-1 of revision img-[0-9a-f]{16} by boot/);
    expect((await api.runtimeCall("Invoke", { instance_id: "vh-1", name: "vhive" })).message).toBe("Hello, vhive!");
    expect((await api.vhiveCall("StopSingleVM", { id: "vh-1" })).message).toBe("stopped instance vh-1 (snapshot: taken)");
    const started = await Promise.all(["vh-2", "vh-3", "vh-4"].map((id) => api.vhiveCall("StartVM", { image: img.ref, id })));
    for (const s of started) expect(s.message).toMatch(/by restore/);
    for (const id of ["vh-2", "vh-3", "vh-4"]) expect((await api.runtimeCall("Invoke", { instance_id: id, name: id })).message).toBe(`Hello, ${id}!`);
    expect((await api.vhiveCall("StopVMs", { all_vms: true })).message).toBe("stopped 3 instances; the runtime keeps running");

    // Ours, with an explicit revision; the server is still up after StopVMs.
    const a = await api.runtimeCall("StartInstance", { revision: "hello-00002", image: img.ref, instance_id: "ours-a" });
    expect(a).toMatchObject({ start_kind: "boot", state: "running", sandbox: "gvisor" });
    expect((await api.runtimeCall("Invoke", { instance_id: "ours-a", name: "ours" })).message).toBe("Hello, ours!");
    expect((await api.runtimeCall("StopInstance", { instance_id: "ours-a" })).snapshot).toBe("taken");
    const rs = await Promise.all(
      ["ours-b", "ours-c", "ours-d"].map((id) => api.runtimeCall("StartInstance", { revision: "hello-00002", image: img.ref, instance_id: id })),
    );
    expect(rs.map((r) => r.start_kind)).toEqual(["restore", "restore", "restore"]);
    for (const r of rs) expect((await api.runtimeCall("Invoke", { instance_id: r.instance_id, name: "x" })).message).toBe("Hello, x!");
    expect((await api.runtimeCall("ListInstances")).instances).toHaveLength(3);
    const metrics = await api.runtimeCall("GetMetrics");
    expect(metrics.prometheus_text).toMatch(
      /node_runtime_cold_start_stage_microseconds_count\{stage="AddInstance",sandbox="gvisor",start_kind="restore"\} [1-9]/,
    );
    expect(metrics.vhive_csv).toMatch(/\nhello-00002\/gvisor\/restore,\d+/);
    for (const r of rs) await api.runtimeCall("StopInstance", { instance_id: r.instance_id });
    expect((await api.runtimeCall("ListSnapshots")).snapshots.map((s: { revision: string }) => s.revision).sort()).toEqual(
      expect.arrayContaining(["hello-00002"]),
    );
    expect(await settle(leftovers)).toEqual([]);
  }, 300_000);

  it("faults answer with gRPC codes and leave nothing behind", async () => {
    expect(await grpcError(api.runtimeCall("StartInstance", { revision: "f-1", image: "sha256:" + "0".repeat(64) }))).toEqual([
      "NOT_FOUND",
      expect.stringMatching(/is not in the image store/),
    ]);
    expect((await grpcError(api.runtimeCall("StartInstance", { revision: "f-1", image: "127.0.0.1:1/nope:latest" })))[0]).toBe("NOT_FOUND");
    expect((await grpcError(api.runtimeCall("StartInstance", { revision: "bad revision!", image: img.ref })))[0]).toBe("INVALID_ARGUMENT");
    // The function listens on 50051; asking for 50052 is a function that never opens its port.
    const mute = await grpcError(api.runtimeCall("StartInstance", { revision: "f-mute", image: img.ref, port: 50052 }));
    expect(mute).toEqual(["DEADLINE_EXCEEDED", expect.stringMatching(/did not listen on port 50052 within 15000 ms/)]);
    // A function whose interpreter cannot start: the sandbox exits before the port opens.
    const crash = await grpcError(api.runtimeCall("StartInstance", { revision: "f-crash", image: img.ref, env: { PYTHONHOME: "/nonexistent" } }));
    expect(crash).toEqual(["UNAVAILABLE", expect.stringMatching(/exited/)]);
    expect(await settle(leftovers)).toEqual([]);

    // A sandbox killed while running shows as exited; invoke is UNAVAILABLE; stop releases it.
    const victim = await rt.orchestrator.start({ revision: "f-kill", image: img.ref, instanceId: "victim", snapshotMode: "off" });
    process.kill(victim.pid!, "SIGKILL");
    for (let i = 0; i < 50 && rt.orchestrator.status("victim").state !== "exited"; i++) await new Promise((r) => setTimeout(r, 100));
    expect(rt.orchestrator.status("victim").state).toBe("exited");
    expect((await grpcError(api.runtimeCall("Invoke", { instance_id: "victim" })))[0]).toBe("UNAVAILABLE");
    await api.runtimeCall("StopInstance", { instance_id: "victim" });
    expect(await settle(leftovers)).toEqual([]);

    // A truncated snapshot is discarded and the instance boots.
    await rt.orchestrator.start({ revision: "f-trunc", image: img.ref, instanceId: "t1" });
    expect((await rt.orchestrator.stop("t1")).snapshot).toBe("taken");
    const dir = path.join(root, "data", "snapshots", "committed", "f-trunc");
    const files = (await rt.snapshots.list()).find((s) => s.revision === "f-trunc")!;
    expect(files.files).toBeGreaterThan(0);
    const lease = await rt.snapshots.acquire("f-trunc");
    const biggest = [...lease!.manifest.files].sort((a, b) => b.size - a.size)[0]!;
    lease!.release();
    await truncate(path.join(dir, biggest.path), Math.floor(biggest.size / 2));
    const t2 = await rt.orchestrator.start({ revision: "f-trunc", image: img.ref, instanceId: "t2" });
    expect(t2.startKind).toBe("boot");
    expect(t2.notes.join()).toMatch(/corrupt and was discarded/);
    expect((await rt.orchestrator.invoke("t2")).message).toBe("Hello, world!");
    await rt.orchestrator.stop("t2");
    expect(await settle(leftovers)).toEqual([]);
  }, 300_000);

  it("CLI against `node-runtime serve`: start, invoke, stop (snapshot), start (restore), ls, snapshot ls; SIGTERM stops everything", async () => {
    const cliRoot = path.join(root, "cli");
    const sock = path.join(cliRoot, "api.sock");
    const cfgFile = path.join(cliRoot, "runtime.yaml");
    await mkdir(cliRoot, { recursive: true });
    await writeFile(cfgFile, `gvisorBaseDir: ${path.join(cliRoot, "gv")}\nsnapshotMode: vanilla\n`);
    const tsx = path.resolve("node_modules/.bin/tsx");
    const main = path.resolve("node-runtime/cli/main.ts");
    const serve: ChildProcess = spawn(
      tsx,
      [
        main,
        "serve",
        "--config",
        cfgFile,
        "--sandbox",
        "gvisor",
        "--socket",
        sock,
        "--data-dir",
        path.join(cliRoot, "data"),
        "--disk-budget",
        "2GiB",
        "--log-level",
        "warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let serveLog = "";
    serve.stderr!.on("data", (d) => (serveLog += d));
    const exited = new Promise<number | null>((r) => serve.once("exit", (code) => r(code)));
    try {
      for (
        let i = 0;
        i < 100 &&
        !(await access(sock).then(
          () => true,
          () => false,
        ));
        i++
      )
        await new Promise((r) => setTimeout(r, 200));
      const cli = (...args: string[]) => run(tsx, [main, ...args, "--api", `unix:${sock}`], { timeout: 120_000 }).then((r) => r.stdout);
      // The server's image store is a directory the CLI loads images into directly.
      const loaded = await run(tsx, [main, "image", "load", img.layoutDir, "--ref", img.ref, "--image-dir", path.join(cliRoot, "images")]);
      expect(loaded.stdout).toMatch(/^sha256:[0-9a-f]{64} /);
      expect(loaded.stdout).toContain(img.ref);
      expect(await cli("start", "--image", img.ref, "--revision", "cli-00001", "--id", "c1", "--invoke", "cli")).toMatch(
        /^c1: revision cli-00001 on gvisor, boot \(running\)[\s\S]*Hello, cli!/,
      );
      expect(await cli("stop", "c1")).toBe("stopped c1 (snapshot: taken)\n");
      expect(await cli("start", "--image", img.ref, "--revision", "cli-00001", "--id", "c2")).toMatch(/^c2: revision cli-00001 on gvisor, restore \(running\)/);
      expect(await cli("invoke", "c2", "--name", "again")).toMatch(/^Hello, again! /);
      expect(await cli("ls")).toMatch(/\nc2\s+cli-00001\s+gvisor\s+restore\s+running\s+unix:/);
      expect(await cli("snapshot", "ls")).toMatch(/\ncli-00001\s+gvisor\s+\d+\.\d MiB/);
    } finally {
      serve.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(serveLog).not.toMatch(/"level":(50|60)/);
    expect(await settle(() => hostLeftovers(cliRoot))).toEqual([]);
    expect(await readdir(path.join(cliRoot, "data", "instances"))).toEqual([]);
  }, 300_000);
});
