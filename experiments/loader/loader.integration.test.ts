// The loader against the real trace function (experiments/trace-func/trace_func.py) run on this
// host over loopback, as a Knative-style endpoint: a generated trace replayed with short minutes,
// every invocation accounted for, the function's reports of what it did in the rows.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTrace } from "../trace/azure-trace.js";
import { writeGeneratedTrace } from "../trace/generate.js";
import { KnativeBackend } from "./backends.js";
import { INVOCATION_HEADER, runLoader } from "./run.js";

const FUNC = path.resolve("experiments/trace-func/trace_func.py");
// Debian's python3 (what the image has: python3-grpcio, python3-protobuf), else the first on PATH.
const probes = ["/usr/bin/python3", "python3"].map((python) => ({
  python,
  r: spawnSync(python, ["-c", "import grpc, google.protobuf"], { encoding: "utf8" }),
}));
const found = probes.find((p) => p.r.status === 0);
const PYTHON = found?.python ?? "python3";
const pythonGrpc = found?.r ?? probes[probes.length - 1]!.r;
const skip = !found;
if (skip)
  console.warn(
    `loader integration skipped: the trace function needs python3 with grpcio and protobuf on this host (${(pythonGrpc.stderr || pythonGrpc.error?.message || "").trim().split("\n").pop()})`,
  );

let func: ChildProcess | undefined;
let port = 0;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe.skipIf(skip)("loader → trace function on loopback", () => {
  beforeAll(async () => {
    port = await freePort();
    func = spawn(PYTHON, [FUNC], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      func!.stdout!.on("data", (d: Buffer) => d.toString().includes("serving") && resolve());
      func!.on("exit", (code) => reject(new Error(`trace function exited with ${code}`)));
    });
  });
  afterAll(() => {
    func?.kill("SIGTERM");
  });

  it("replays a generated trace: one row per invocation, durations and memory as asked, per-minute counts, plots", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "loader-"));
    const files = await writeGeneratedTrace(path.join(dir, "trace"), {
      functions: 6,
      minutes: 3,
      seed: 5,
      maxPerMinute: 8,
      maxDurationMs: 40,
      maxMemoryMb: 16,
    });
    const trace = await readTrace(files);
    const backend = new KnativeBackend([{ hostname: "127.0.0.1", eventing: false, matchers: null }], { port });
    const out = path.join(dir, "out");
    const { summary, rows, minutes } = await runLoader({
      trace,
      backend,
      functions: 3,
      seed: 2,
      minutes: 3,
      minuteSeconds: 1.5,
      interArrival: "exponential",
      deadlineMs: 20_000,
      outDir: out,
    });
    await backend.close();

    const expected = summary.functions.reduce((a, f) => a + f.invocations, 0);
    expect(expected).toBeGreaterThan(0);
    expect(rows).toHaveLength(expected);
    expect(rows.every((r) => r !== undefined)).toBe(true);
    expect(summary).toMatchObject({ scheduled: expected, completed: expected, failed: 0, errorsByCode: {}, backend: "knative", coldStarts: null });
    expect(minutes.map((m) => m.scheduled).reduce((a, b) => a + b, 0)).toBe(expected);
    for (const r of rows) {
      // The function computed at least as long as asked, and touched the memory asked for.
      expect(r.actualDurationUs!).toBeGreaterThanOrEqual(r.requestedDurationMs * 1000);
      expect(r.actualMemoryMiB).toBe(r.requestedMemoryMiB);
      expect(r.responseUs).toBeGreaterThanOrEqual(r.actualDurationUs!);
      expect(r.code).toBe("OK");
    }
    // Per-function, per-minute counts are the trace's.
    for (const [i, f] of summary.functions.entries()) {
      const src = trace.find((t) => t.function === f.hashFunction)!;
      for (let m = 0; m < 3; m++) expect(rows.filter((r) => r.function === i && r.minute === m)).toHaveLength(src.perMinute[m]!);
    }
    const csv = (await readFile(path.join(out, "loader-invocations.csv"), "utf8")).trimEnd().split("\n");
    expect(csv[0]).toBe(INVOCATION_HEADER);
    expect(csv).toHaveLength(expected + 1);
    expect((await readdir(out)).sort()).toEqual([
      "loader-cdf.png",
      "loader-cdf.svg",
      "loader-invocations.csv",
      "loader-minutes.csv",
      "loader-minutes.png",
      "loader-minutes.svg",
      "loader-summary.json",
    ]);
  }, 60_000);

  it("a request that is not trace JSON gets helloworld's answer; a bad one is INVALID_ARGUMENT", async () => {
    const { GrpcTarget } = await import("../targets/grpc-target.js");
    const t = new GrpcTarget({ address: `127.0.0.1:${port}` });
    try {
      await expect(t.preflight("world", 5000)).resolves.toBe("Hello, world!");
      await expect(t.preflight('{"durationMs": -1}', 5000)).rejects.toMatchObject({ failure: { code: "INVALID_ARGUMENT" } });
      const reply = JSON.parse(await t.preflight('{"durationMs": 30, "memoryMiB": 8}', 5000)) as Record<string, number>;
      expect(reply.durationUs).toBeGreaterThanOrEqual(30_000);
      expect(reply.pages).toBe(2048);
      expect(reply.cpuUs).toBeGreaterThan(0);
    } finally {
      t.close();
    }
  });
});
