// The invoker against real loopback servers (a grpc-js Greeter, a node:http server): outputs,
// failures recorded apart, deadlines, connection modes, unreachable endpoints, the CLI's errors.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { getPriority, tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { GrpcTarget } from "../targets/grpc-target.js";
import { HttpTarget } from "../targets/http-target.js";
import { startGreeterServer, type GreeterServer } from "./greeter-server.js";
import { InvokerError, runInvoker } from "./run.js";

const run = promisify(execFile);
let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function greeter(opts: Parameters<typeof startGreeterServer>[0] = {}): Promise<GreeterServer> {
  const s = await startGreeterServer(opts);
  cleanup.push(() => s.close());
  return s;
}

const base = { distribution: "uniform" as const, seed: 1, deadlineMs: 5000, payload: "tester", warmupS: 0 };

describe("invoker on loopback", () => {
  it("gRPC: every request accounted for, vSwarm's latency file, summary and plots", async () => {
    const s = await greeter();
    const out = await mkdtemp(path.join(tmpdir(), "inv-"));
    const t = new GrpcTarget({ address: s.address });
    cleanup.push(() => t.close());
    const { summary } = await runInvoker({ ...base, targets: [t], rps: 200, durationS: 2, warmupS: 0.5, outDir: out });
    // Preflight (1) + warm-up (100) + measured (400).
    expect(s.calls()).toBe(501);
    expect(summary).toMatchObject({ issued: 400, completed: 400, failed: 0, errorsByCode: {}, warmup: { issued: 100, completed: 100, failed: 0 } });
    expect(summary.achievedRps).toBeGreaterThan(150);
    expect(summary.achievedRps).toBeLessThanOrEqual(200);
    expect(summary.latencyMs.p50).toBeGreaterThan(0);
    expect(summary.latencyMs.p99!).toBeGreaterThanOrEqual(summary.latencyMs.p50!);
    expect(summary.scheduleErrorMs.p99).not.toBeNull();
    // Sent from the sender thread by default, with its GC pauses and lateness accounted.
    expect(summary.sender.mode).toBe("thread");
    expect(summary.sender.lateOver1MsDuringGc).toBeLessThanOrEqual(summary.sender.lateOver1Ms);
    expect(summary.sender.gcPauses.minor).toBeLessThanOrEqual(summary.sender.gcPauses.count);
    // One connection per sender thread (two by default), reused for everything it sent; the preflight has its own.
    expect(summary.sender.threads).toBe(2);
    expect(s.peers().size).toBe(1 + 2);

    const files = await readdir(out);
    const lat = files.find((f) => /^rps\d+\.\d\d_lat\.csv$/.test(f));
    expect(lat).toBe(`rps${(summary.completed / summary.measuredS).toFixed(2)}_lat.csv`);
    const text = await readFile(path.join(out, lat!), "utf8");
    expect(text).toMatch(/^(\d+\n){400}$/);
    expect(files).toEqual(
      expect.arrayContaining(["invoke-summary.json", "invoke-failures.csv", "invoke-cdf.svg", "invoke-cdf.png", "invoke-timeline.svg", "invoke-timeline.png"]),
    );
    expect((await readFile(path.join(out, "invoke-cdf.png"))).subarray(1, 4).toString()).toBe("PNG");
    expect(await readFile(path.join(out, "invoke-cdf.svg"), "utf8")).toMatch(/^<svg/);
    expect(JSON.parse(await readFile(path.join(out, "invoke-summary.json"), "utf8"))).toMatchObject({ issued: 400, target: { rps: 200 } });
  });

  it("records failures apart by code; the latency file holds only successes", async () => {
    const s = await greeter({ failEvery: 4, failCode: grpc.status.RESOURCE_EXHAUSTED });
    const out = await mkdtemp(path.join(tmpdir(), "inv-"));
    const t = new GrpcTarget({ address: s.address });
    cleanup.push(() => t.close());
    const { summary } = await runInvoker({ ...base, targets: [t], rps: 100, durationS: 1, outDir: out, preflight: false, plots: false });
    expect(summary).toMatchObject({ issued: 100, completed: 75, failed: 25, errorsByCode: { RESOURCE_EXHAUSTED: 25 } });
    expect(summary.errorExamples.RESOURCE_EXHAUSTED).toMatch(/failing call \d+ on purpose/);
    const lat = (await readdir(out)).find((f) => f.startsWith("rps"))!;
    expect((await readFile(path.join(out, lat), "utf8")).split("\n").filter(Boolean)).toHaveLength(75);
    const failures = (await readFile(path.join(out, "invoke-failures.csv"), "utf8")).trim().split("\n");
    expect(failures[0]).toBe("code,latency_us,sent_us,target");
    expect(failures.slice(1)).toHaveLength(25);
    expect(failures.slice(1).every((l) => l.startsWith("RESOURCE_EXHAUSTED,"))).toBe(true);
  });

  it("deadlines: slow answers are DEADLINE_EXCEEDED", async () => {
    const s = await greeter({ delayMs: 400 });
    const t = new GrpcTarget({ address: s.address });
    cleanup.push(() => t.close());
    const { summary } = await runInvoker({ ...base, targets: [t], rps: 20, durationS: 0.5, deadlineMs: 100, preflight: false });
    expect(summary).toMatchObject({ issued: 10, completed: 0, errorsByCode: { DEADLINE_EXCEEDED: 10 } });
    expect(summary.errorExamples.DEADLINE_EXCEEDED).toMatch(/no answer within the deadline/);
  });

  it("per-request connections (vSwarm's method): one connection per request", async () => {
    const s = await greeter();
    const t = new GrpcTarget({ address: s.address, perRequestConnection: true });
    const { summary } = await runInvoker({ ...base, targets: [t], rps: 50, durationS: 1, preflight: false });
    expect(summary.completed).toBe(50);
    expect(s.peers().size).toBe(50);
  });

  it("gRPC through --connect: dials that address and names the endpoint as :authority, on one connection or one per request", async () => {
    const s = await greeter();
    for (const perRequestConnection of [false, true]) {
      const t = new GrpcTarget({ address: "hello.default.example.com:80", connect: s.address, perRequestConnection });
      cleanup.push(() => t.close());
      const { summary } = await runInvoker({ ...base, targets: [t], rps: 20, durationS: 0.5 });
      expect(summary).toMatchObject({ issued: 10, completed: 10, errorsByCode: {} });
    }
    expect([...s.authorities()]).toEqual(["hello.default.example.com:80"]);
    // One connection per sender thread (two) for the reused-connection run, each run's preflight's, then one per request.
    expect(s.peers().size).toBe(2 + 1 + 1 + 10);
  });

  it("sends from this thread's loop when asked, or when a target cannot be made again from a spec", async () => {
    const s = await greeter();
    const t = new GrpcTarget({ address: s.address });
    cleanup.push(() => t.close());
    const loop = await runInvoker({ ...base, targets: [t], rps: 50, durationS: 0.5, preflight: false, sender: "loop" });
    expect(loop.summary).toMatchObject({ completed: 25, sender: { mode: "loop" } });
    // A target with no spec (a wrapper around the real one, standing in for any such target) stays on this thread.
    const wrapped = { label: t.label, invoke: t.invoke.bind(t), preflight: t.preflight.bind(t), close: () => undefined };
    const fallback = await runInvoker({ ...base, targets: [wrapped], rps: 50, durationS: 0.5, preflight: false });
    expect(fallback.summary).toMatchObject({ completed: 25, sender: { mode: "loop" } });
    expect(s.calls()).toBe(50);
  });

  it("the sender thread's priority: applied when allowed, else the reason", async () => {
    const s = await greeter();
    const t = new GrpcTarget({ address: s.address });
    cleanup.push(() => t.close());
    const { summary } = await runInvoker({ ...base, targets: [t], rps: 20, durationS: 0.5, preflight: false, senderNice: 5 });
    // Lowering a thread's priority is always allowed.
    expect(summary.sender).toMatchObject({ mode: "thread", priority: { nice: 5 } });
    expect(summary.completed).toBe(10);
    // From this thread's loop, the priority is put back after the run (raising it back needs root's CAP_SYS_NICE).
    const before = getPriority();
    const loop = await runInvoker({ ...base, targets: [t], rps: 20, durationS: 0.5, preflight: false, sender: "loop", senderNice: before + 3 });
    expect(loop.summary.sender).toMatchObject({ mode: "loop", priority: { nice: before + 3 } });
    if (process.getuid?.() === 0) expect(getPriority()).toBe(before);
  });

  it("several sender threads share one schedule: every request once, on time, round-robin kept", async () => {
    const [a, b] = [await greeter(), await greeter()];
    const ts = [new GrpcTarget({ address: a.address }), new GrpcTarget({ address: b.address })];
    cleanup.push(() => {
      for (const t of ts) t.close();
    });
    const { summary, records } = await runInvoker({ ...base, targets: ts, rps: 90, durationS: 1, preflight: false, senders: 3 });
    expect(summary).toMatchObject({ issued: 90, completed: 90, sender: { mode: "thread", threads: 3 } });
    // Request i went to target i mod 2 whichever thread sent it: 45 each, over one connection per thread.
    expect([a.calls(), b.calls()]).toEqual([45, 45]);
    expect([a.peers().size, b.peers().size]).toEqual([3, 3]);
    for (let i = 0; i < 90; i++) {
      expect(records.code[i]).toBe(0);
      expect(records.sentNs[i]).toBeGreaterThanOrEqual(records.dueNs[i]!);
      expect(records.doneNs[i]).toBeGreaterThan(records.sentNs[i]!);
    }
    // The threads started together: the first request of each went out near its own due time.
    for (let j = 0; j < 3; j++) expect(records.sentNs[j]! - records.dueNs[j]!).toBeLessThan(50e6);
    // More threads than requests: the idle ones take part and end.
    const few = await runInvoker({ ...base, targets: ts, rps: 2, durationS: 1, preflight: false, senders: 4 });
    expect(few.summary).toMatchObject({ issued: 2, completed: 2, sender: { threads: 4 } });
  });

  it("the sender threads' real-time priority: running SCHED_FIFO when allowed, else the reason; refused where it cannot apply", async () => {
    const s = await greeter();
    const t = new GrpcTarget({ address: s.address });
    cleanup.push(() => t.close());
    // While the run goes on, the policy of this process's threads (field 41 of /proc/…/task/…/stat; 1 = SCHED_FIFO).
    const policies = async () => {
      const tids = await readdir("/proc/self/task");
      const stats = await Promise.all(tids.map((tid) => readFile(`/proc/self/task/${tid}/stat`, "utf8").catch(() => "")));
      return stats.filter(Boolean).map((st) => Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[41 - 3]));
    };
    let during: number[] = [];
    const sample = setTimeout(async () => (during = await policies()), 600);
    const { summary } = await runInvoker({ ...base, targets: [t], rps: 20, durationS: 1.5, preflight: false, senderRealtime: 1 });
    clearTimeout(sample);
    expect(summary.completed).toBe(30);
    if ("error" in summary.sender.priority!) {
      expect(summary.sender.priority.error).toMatch(/chrt/);
      console.log(`real-time sender threads not allowed here: ${summary.sender.priority.error}`);
    } else {
      expect(summary.sender.priority).toEqual({ realtime: 1 });
      expect(during.filter((p) => p === 1)).toHaveLength(2);
    }
    // This thread itself stays as it was.
    expect((await policies())[0]).toBe(0);
    await expect(runInvoker({ ...base, targets: [t], rps: 20, durationS: 0.5, sender: "loop", senderRealtime: 1 })).rejects.toThrow(
      /senderRealtime: only sender threads run real-time, and sender is "loop"/,
    );
    await expect(runInvoker({ ...base, targets: [t], rps: 20, durationS: 0.5, senderRealtime: 1, senderNice: -1 })).rejects.toThrow(/give one/);
    await expect(runInvoker({ ...base, targets: [t], rps: 20, durationS: 0.5, senders: 0 })).rejects.toThrow(
      /senders: expected a whole number from 1 to 16, got 0/,
    );
  });

  it("round-robins over several endpoints", async () => {
    const [a, b] = [await greeter(), await greeter()];
    const ts = [new GrpcTarget({ address: a.address }), new GrpcTarget({ address: b.address })];
    cleanup.push(() => {
      for (const t of ts) t.close();
    });
    await runInvoker({ ...base, targets: ts, rps: 40, durationS: 1, preflight: false });
    expect([a.calls(), b.calls()]).toEqual([20, 20]);
  });

  it("an unreachable endpoint is reported clearly before the run, and counted by code without the preflight", async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = http.createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const t = new GrpcTarget({ address: `127.0.0.1:${closed}` });
    cleanup.push(() => t.close());
    const err = await runInvoker({ ...base, targets: [t], rps: 10, durationS: 0.5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvokerError);
    expect((err as Error).message).toMatch(
      new RegExp(`endpoint unreachable before the run: grpc 127.0.0.1:${closed}: UNAVAILABLE: .*ECONNREFUSED.*nothing listens at that address and port`),
    );
    const { summary } = await runInvoker({ ...base, targets: [t], rps: 10, durationS: 0.5, preflight: false });
    expect(summary).toMatchObject({ issued: 5, completed: 0, errorsByCode: { UNAVAILABLE: 5 } });
  });

  it("HTTP: keep-alive by default, a connection per request when asked, 502s recorded with a hint", async () => {
    let connections = 0,
      n = 0;
    const srv = http.createServer((req, res) => {
      n++;
      if (n % 5 === 0) {
        res.writeHead(502).end("upstream connect error");
        return;
      }
      res.end(`ok ${req.headers.host}`);
    });
    srv.on("connection", () => connections++);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    cleanup.push(
      () =>
        new Promise<void>((r) => {
          srv.closeAllConnections();
          srv.close(() => r());
        }),
    );
    const port = (srv.address() as AddressInfo).port;
    const keep = new HttpTarget({ url: `http://fn.default.example.com:${port}/`, connect: `127.0.0.1:${port}` });
    cleanup.push(() => keep.close());
    const { summary } = await runInvoker({ ...base, payload: "", targets: [keep], rps: 50, durationS: 1, preflight: false });
    expect(summary).toMatchObject({ issued: 50, completed: 40, errorsByCode: { HTTP_502: 10 } });
    expect(summary.errorExamples.HTTP_502).toMatch(/no healthy function behind it/);
    // Reused: a new connection only while every open one has a request in flight (a stall on this
    // loaded machine sends the overdue requests together, and the agent opens one for each), so the
    // count depends on the load; one per request is what reuse must never come to.
    expect(connections).toBeLessThan(50);
    connections = 0;
    const fresh = new HttpTarget({ url: `http://127.0.0.1:${port}/`, perRequestConnection: true });
    await runInvoker({ ...base, payload: "", targets: [fresh], rps: 50, durationS: 1, preflight: false });
    expect(connections).toBe(50);
  });
});

describe("invoke CLI", () => {
  const tsx = path.resolve("node_modules/.bin/tsx");
  const main = path.resolve("experiments/invoker/main.ts");

  it("a bad endpoints file exits 2 naming the entry and field", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "inv-cli-"));
    await writeFile(path.join(dir, "endpoints.json"), JSON.stringify([{ hostname: "a.b", eventing: false, matchers: null }, { hostname: 7 }]));
    const r = await run(tsx, [main, "--endpointsFile", path.join(dir, "endpoints.json")], { cwd: dir }).catch((e: { code: number; stderr: string }) => e);
    expect(r).toMatchObject({ code: 2 });
    expect((r as { stderr: string }).stderr).toContain(
      "invoke: " + path.join(dir, "endpoints.json") + ': entry 1: field "hostname" must be a non-empty string, got number',
    );
  });

  it("bad sender flags exit 2 naming the flag, before any endpoint is read", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "inv-cli-"));
    for (const [flag, message] of [
      ["--senders=0", "--senders: expected a whole number from 1 to 16, got 0"],
      ["--senders=2.5", "--senders: expected a whole number from 1 to 16, got 2.5"],
      ["--sender-realtime=100", "--sender-realtime: expected a whole number from 1 to 99, got 100"],
    ]) {
      const r = await run(tsx, [main, flag!], { cwd: dir }).catch((e: { code: number; stderr: string }) => e);
      expect(r).toMatchObject({ code: 2 });
      expect((r as { stderr: string }).stderr.trim()).toBe(`invoke: ${message}`);
    }
  });

  it("runs against a Greeter and writes its files where asked", async () => {
    const s = await greeter();
    const dir = await mkdtemp(path.join(tmpdir(), "inv-cli-"));
    await writeFile(path.join(dir, "endpoints.json"), JSON.stringify([{ hostname: "127.0.0.1", eventing: false, matchers: null }]));
    const r = await run(
      tsx,
      [main, "--endpointsFile", "endpoints.json", "--port", String(s.port), "--rps", "50", "--time", "1", "--out", "o", "--no-plots", "--json"],
      { cwd: dir },
    );
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ issued: 50, completed: 50, target: { protocol: "grpc", connection: "reused", port: s.port } });
    const files = (await readdir(path.join(dir, "o"))).sort();
    expect(files).toEqual(["invoke-failures.csv", "invoke-summary.json", expect.stringMatching(/^rps\d+\.\d\d_lat\.csv$/)]);
  });
});
