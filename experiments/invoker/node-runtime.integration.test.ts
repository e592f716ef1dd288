// The invoker driving a node-runtime instance through the node runtime's API (no Kubernetes):
// the trace function in a real containerd sandbox (private containerd + runc, as the containerd
// end-to-end tests run it), invoked open loop; every request accounted for, the replies the
// function's own reports.
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { startApiServer, type ApiServer } from "#node-runtime/api/api-server.js";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import { createNodeRuntime, type NodeRuntime } from "#node-runtime/index.js";
import { startContainerd, type ContainerdDaemon } from "#tests/fixtures/containerd-daemon.js";
import { ensureTraceFuncImage, type TraceFuncImage } from "#tests/fixtures/trace-func.js";
import { NodeRuntimeTarget, type InvokeReply } from "../targets/node-runtime-target.js";
import { encodeTraceRequest, parseTraceReply } from "../trace-func/protocol.js";
import { runInvoker } from "./run.js";

const haveContainerd = await access("/usr/bin/containerd").then(
  () => true,
  () => false,
);
const isRoot = process.getuid?.() === 0;
const skip = !haveContainerd || !isRoot;
if (skip) console.warn(`invoker node-runtime integration skipped: ${!haveContainerd ? "containerd is not installed" : "needs root"}`);

let root: string;
let img: TraceFuncImage;
let rt: NodeRuntime;
let server: ApiServer;
let api: ApiClient;
let containerd: ContainerdDaemon;

describe.skipIf(skip)("invoker → node runtime → trace function in containerd", () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "inv-ctd-"));
    img = await ensureTraceFuncImage();
    containerd = await startContainerd();
    rt = await createNodeRuntime(
      parseRuntimeConfig({
        sandbox: "containerd",
        dataDir: path.join(root, "data"),
        readyTimeoutMs: 30_000,
        logLevel: "warn",
        containerdAddress: containerd.address,
        containerdNamespace: "inv-e2e",
      }),
    );
    await rt.images.loadOciLayout(img.layoutDir, img.ref);
    server = await startApiServer(rt, { socket: path.join(root, "api.sock") });
    api = new ApiClient(server.target, 60_000);
  });

  afterAll(async () => {
    api?.close();
    await server?.close();
    await rt?.close();
    await containerd?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("invokes a running instance open loop through the API; a missing instance is NOT_FOUND by code", async () => {
    await api.runtimeCall("StartInstance", { instance_id: "tf-1", revision: "trace-func-1", image: img.ref });
    const replies: InvokeReply[] = [];
    const target = new NodeRuntimeTarget(api, "tf-1", (r) => replies.push(r));
    const { summary } = await runInvoker({
      targets: [target],
      rps: 20,
      durationS: 2,
      warmupS: 0,
      distribution: "poisson",
      seed: 4,
      deadlineMs: 30_000,
      payload: encodeTraceRequest({ durationMs: 5, memoryMiB: 4 }),
    });
    expect(summary).toMatchObject({ completed: summary.issued, failed: 0 });
    // Preflight + the run.
    expect(replies).toHaveLength(summary.issued + 1);
    const parsed = replies.map((r) => parseTraceReply(r.message)!);
    expect(parsed.every((p) => p.durationUs >= 5000 && p.memoryMiB === 4 && p.pages === 1024)).toBe(true);
    expect(replies.filter((r) => r.cold_start)).toHaveLength(1);
    expect(new Set(parsed.map((p) => p.pid)).size).toBe(1);
    await api.runtimeCall("StopInstance", { instance_id: "tf-1" });

    const gone = new NodeRuntimeTarget(api, "tf-1");
    const after = await runInvoker({
      targets: [gone],
      rps: 10,
      durationS: 0.5,
      warmupS: 0,
      distribution: "uniform",
      seed: 1,
      deadlineMs: 5000,
      payload: "x",
      preflight: false,
    });
    expect(after.summary).toMatchObject({ completed: 0, errorsByCode: { NOT_FOUND: 5 } });
    expect(after.summary.errorExamples.NOT_FOUND).toMatch(/node-runtime instance tf-1: NOT_FOUND: .*the node runtime has no such instance/);
  }, 300_000);
});
