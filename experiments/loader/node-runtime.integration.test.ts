// The node runtime as a direct target, for real: a small generated trace replayed against trace
// functions in gVisor sandboxes (real runsc), started on demand through the node runtime's gRPC API
// and stopped when idle, so later minutes restore from the revision's snapshot. Every invocation
// is accounted for; cold starts per minute come from the node runtime's metrics.
import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "#node-runtime/api/api-server.js";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import { createNodeRuntime, type NodeRuntime } from "#node-runtime/index.js";
import { ensureTraceFuncImage, type TraceFuncImage } from "#tests/fixtures/trace-func.js";
import { readTrace } from "../trace/azure-trace.js";
import { writeGeneratedTrace } from "../trace/generate.js";
import { NodeRuntimeBackend } from "./backends.js";
import { runLoader } from "./run.js";

const haveRunsc = await access("/usr/bin/runsc").then(
  () => true,
  () => false,
);
const isRoot = process.getuid?.() === 0;
const skip = !haveRunsc || !isRoot;
if (skip) console.warn(`loader node-runtime integration skipped: ${!haveRunsc ? "runsc is not installed" : "needs root"}`);

let root: string;
let img: TraceFuncImage;
let rt: NodeRuntime;
let server: ApiServer;

describe.skipIf(skip)("loader → node runtime → trace functions in gVisor", () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "loader-gv-"));
    img = await ensureTraceFuncImage();
    rt = await createNodeRuntime(
      parseRuntimeConfig({
        sandbox: "gvisor",
        dataDir: path.join(root, "data"),
        snapshotMode: "vanilla",
        readyTimeoutMs: 30_000,
        logLevel: "warn",
        gvisorBaseDir: path.join(root, "gv"),
      }),
    );
    await rt.images.loadOciLayout(img.layoutDir, img.ref);
    server = await startApiServer(rt, { socket: path.join(root, "api.sock") });
  });

  afterAll(async () => {
    await server?.close();
    await rt?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("replays a generated trace with every invocation accounted for, cold starts per minute from the metrics", async () => {
    const files = await writeGeneratedTrace(path.join(root, "trace"), {
      functions: 6,
      minutes: 3,
      seed: 5,
      maxPerMinute: 5,
      maxDurationMs: 60,
      maxMemoryMb: 24,
    });
    const trace = await readTrace(files);
    // Instances idle for 2 s are stopped: with 6 s minutes, quiet stretches make later invocations cold again.
    const backend = new NodeRuntimeBackend({ api: server.target, image: img.ref, keepAliveMs: 2_000, runId: "it", startTimeoutMs: 120_000 });
    let result: Awaited<ReturnType<typeof runLoader>>;
    try {
      result = await runLoader({
        trace,
        backend,
        functions: 2,
        seed: 3,
        minutes: 3,
        minuteSeconds: 6,
        interArrival: "exponential",
        deadlineMs: 120_000,
        outDir: path.join(root, "out"),
      });
    } finally {
      await backend.close();
    }
    const { summary, rows, minutes } = result;
    const expected = summary.functions.reduce((a, f) => a + f.invocations, 0);
    expect(expected).toBeGreaterThan(2);
    expect(rows.filter(Boolean)).toHaveLength(expected);
    expect(summary).toMatchObject({ backend: "node-runtime", scheduled: expected, completed: expected, failed: 0 });
    for (const r of rows) {
      expect(r.code).toBe("OK");
      expect(r.actualDurationUs!).toBeGreaterThanOrEqual(r.requestedDurationMs * 1000);
      expect(r.actualMemoryMiB).toBe(r.requestedMemoryMiB);
    }
    // Cold starts: at least one per function, each instance the loader started counted once by the
    // node runtime, and exactly as many rows met a cold instance.
    const cs = summary.coldStarts!;
    expect(cs.total).toBeGreaterThanOrEqual(2);
    expect(cs.total).toBe(cs.instancesStarted);
    expect(rows.filter((r) => r.coldStart === true)).toHaveLength(cs.total);
    expect(minutes.reduce((a, m) => a + (m.coldStarts ?? 0), 0)).toBe(cs.total);
    // The first start of each revision boots; a start after its first teardown restores from the
    // snapshot that teardown took. The loader retires an idle instance and starts the next one
    // without waiting for the stop, so a start that comes while the first teardown is still taking
    // its snapshot boots too: at least two boots, not exactly two (the snapshot takes longer on a
    // busy machine).
    const boots = cs.perMinute.reduce((a, m) => a + m.boot, 0);
    const restores = cs.perMinute.reduce((a, m) => a + m.restore, 0);
    expect(boots).toBeGreaterThanOrEqual(2);
    expect(restores).toBeGreaterThanOrEqual(1);
    expect(boots + restores).toBe(cs.total);
    // The loader stopped everything it started.
    expect(rt.orchestrator.list()).toEqual([]);
  }, 600_000);
});
