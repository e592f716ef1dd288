import { describe, expect, it } from "vitest";
import { Prng } from "../common/prng.js";
import { parseInvocations, type TraceFunction } from "../trace/azure-trace.js";
import { buildSchedule, lastActiveMinute, minuteArrivals, sampleFunctions } from "./schedule.js";

const fn = (name: string, perMinute: number[], extra: Partial<TraceFunction> = {}): TraceFunction => ({
  owner: "o",
  app: `app-${name}`,
  function: name,
  trigger: "http",
  perMinute,
  durations: { averageMs: 10, count: 1, minimumMs: 1, maximumMs: 100, percentilesMs: [1, 2, 5, 10, 20, 80, 100] },
  memory: { sampleCount: 1, averageMb: 100, percentilesMb: [50, 60, 80, 100, 120, 140, 150, 400] },
  ...extra,
});

describe("replay schedule", () => {
  it("keeps every minute's count of every function exactly, each arrival inside its minute", () => {
    const fns = [fn("a", [3, 0, 7]), fn("b", [1, 5, 2])];
    for (const iat of ["exponential", "uniform", "equidistant"] as const) {
      const s = buildSchedule(fns, { minutes: 3, minuteSeconds: 2, interArrival: iat, seed: 4 });
      expect(s).toHaveLength(18);
      for (const [i, f] of fns.entries()) {
        for (let m = 0; m < 3; m++) expect(s.filter((x) => x.fn === i && x.minute === m)).toHaveLength(f.perMinute[m]!);
      }
      for (const x of s) {
        expect(x.offsetNs).toBeGreaterThanOrEqual(x.minute * 2e9);
        expect(x.offsetNs).toBeLessThan((x.minute + 1) * 2e9);
      }
      expect(s.map((x) => x.offsetNs)).toEqual([...s.map((x) => x.offsetNs)].sort((p, q) => p - q));
    }
  });

  it("equidistant spacing is minute/count; the same seed gives the same schedule", () => {
    expect(minuteArrivals(4, 60e9, "equidistant", new Prng(1))).toEqual([0, 15e9, 30e9, 45e9]);
    const o = { minutes: 2, minuteSeconds: 1, interArrival: "exponential" as const, seed: 8 };
    expect(buildSchedule([fn("a", [5, 5])], o)).toEqual(buildSchedule([fn("a", [5, 5])], o));
    expect(buildSchedule([fn("a", [5, 5])], { ...o, seed: 9 })).not.toEqual(buildSchedule([fn("a", [5, 5])], o));
  });

  it("exponential gaps have a coefficient of variation near 1, uniform points spread evenly (seed-fixed, generous bounds)", () => {
    const p = new Prng(21);
    const t = minuteArrivals(20_000, 60e9, "exponential", p);
    const gaps = t.map((x, i) => x - (i ? t[i - 1]! : 0));
    const mean = gaps.reduce((a, g) => a + g, 0) / gaps.length;
    const cv = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length) / mean;
    expect(cv).toBeGreaterThan(0.95);
    expect(cv).toBeLessThan(1.05);
    const u = minuteArrivals(20_000, 60e9, "uniform", p);
    let d = 0;
    for (const [i, x] of u.entries()) d = Math.max(d, Math.abs(x / 60e9 - (i + 1) / u.length), Math.abs(x / 60e9 - i / u.length));
    expect(d).toBeLessThan(1.95 / Math.sqrt(u.length));
    // Equidistant gaps do not vary at all.
    const e = minuteArrivals(100, 60e9, "equidistant", p);
    expect(new Set(e.slice(1).map((x, i) => Math.round(x - e[i]!))).size).toBe(1);
  });

  it("draws durations and memory from the function's percentiles, within the caps", () => {
    const s = buildSchedule([fn("a", [400])], { minutes: 1, minuteSeconds: 1, interArrival: "uniform", seed: 2, maxMemoryMiB: 128, maxDurationMs: 50 });
    const d = s.map((x) => x.durationMs).sort((a, b) => a - b);
    expect(d[0]).toBeGreaterThanOrEqual(1);
    expect(d[d.length - 1]).toBeLessThanOrEqual(50);
    expect(d[Math.floor(d.length / 2)]).toBeGreaterThan(5);
    expect(d[Math.floor(d.length / 2)]).toBeLessThan(20);
    expect(Math.max(...s.map((x) => x.memoryMiB))).toBe(128);
    expect(Math.min(...s.map((x) => x.memoryMiB))).toBeGreaterThanOrEqual(50);
  });

  it("samples N functions among those with durations, memory and invocations; reproducibly", () => {
    const all = [fn("a", [1]), fn("b", [0]), fn("c", [2], { durations: undefined }), fn("d", [3], { memory: undefined }), fn("e", [4]), fn("f", [5])];
    const r = sampleFunctions(all, { count: 2, seed: 1, minutes: 1 });
    expect(r.eligible).toBe(3);
    expect(r.skipped).toEqual({ noDurations: 1, noMemory: 1, noInvocations: 1 });
    expect(r.sampled).toHaveLength(2);
    expect(sampleFunctions(all, { count: 2, seed: 1, minutes: 1 }).sampled).toEqual(r.sampled);
    const seen = new Set<string>();
    for (let seed = 0; seed < 30; seed++) for (const f of sampleFunctions(all, { count: 1, seed, minutes: 1 }).sampled) seen.add(f.function);
    expect([...seen].sort()).toEqual(["a", "e", "f"]);
    expect(() => sampleFunctions(all, { count: 4, seed: 1, minutes: 1 })).toThrow(/asked for 4 functions, the trace has 3/);
    expect(lastActiveMinute(parseInvocations("HashOwner,HashApp,HashFunction,Trigger,1,2,3\no,a,f,http,1,0,0\no,a,g,http,0,2,0\n"))).toBe(2);
  });
});
