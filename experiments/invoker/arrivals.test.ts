import { stat } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { arrivalOffsetsNs } from "./arrivals.js";
import { runSendLoop } from "./send-loop.js";

/** Kolmogorov-Smirnov distance between a sample and the exponential CDF with the given mean. */
function ksExponential(xs: number[], mean: number): number {
  const s = [...xs].sort((a, b) => a - b);
  let d = 0;
  s.forEach((x, i) => {
    const f = 1 - Math.exp(-x / mean);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs(f - (i + 1) / s.length));
  });
  return d;
}

describe("arrival process", () => {
  it("uniform: exactly rate × duration arrivals at a fixed interval from 0", () => {
    const a = arrivalOffsetsNs({ rps: 2000, durationS: 3, distribution: "uniform", seed: 1 });
    expect(a.length).toBe(6000);
    expect(a[0]).toBe(0);
    for (let i = 1; i < a.length; i++) expect(a[i]! - a[i - 1]!).toBeCloseTo(500_000, 3);
    expect(arrivalOffsetsNs({ rps: 3, durationS: 1, distribution: "uniform", seed: 1 }).length).toBe(3);
  });

  it("poisson: the rate is right and the gaps are exponential (seed-fixed, generous bounds)", () => {
    const rps = 1000,
      durationS = 30;
    const a = arrivalOffsetsNs({ rps, durationS, distribution: "poisson", seed: 11 });
    // Count: mean 30000, sd 173; 2% is more than 3 sd.
    expect(Math.abs(a.length / (rps * durationS) - 1)).toBeLessThan(0.02);
    const gaps: number[] = [];
    for (let i = 1; i < a.length; i++) gaps.push(a[i]! - a[i - 1]!);
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    expect(Math.abs(mean / 1e6 - 1)).toBeLessThan(0.02);
    // Exponential: coefficient of variation 1 (a fixed interval would give 0).
    const sd = Math.sqrt(gaps.reduce((x, g) => x + (g - mean) ** 2, 0) / gaps.length);
    expect(sd / mean).toBeGreaterThan(0.95);
    expect(sd / mean).toBeLessThan(1.05);
    // KS: the 0.001 critical value is 1.95/sqrt(n).
    expect(ksExponential(gaps, 1e6)).toBeLessThan(1.95 / Math.sqrt(gaps.length));
    // A uniform schedule is far from exponential: the test can tell them apart.
    const u = arrivalOffsetsNs({ rps, durationS: 2, distribution: "uniform", seed: 1 });
    expect(
      ksExponential(
        Array.from({ length: u.length - 1 }, (_, i) => u[i + 1]! - u[i]!),
        1e6,
      ),
    ).toBeGreaterThan(0.3);
    expect(a.every((t) => t >= 0 && t < durationS * 1e9)).toBe(true);
  });

  it("poisson: the same seed gives the same arrivals, another seed others", () => {
    const o = { rps: 100, durationS: 2, distribution: "poisson" as const };
    expect(arrivalOffsetsNs({ ...o, seed: 5 })).toEqual(arrivalOffsetsNs({ ...o, seed: 5 }));
    expect(arrivalOffsetsNs({ ...o, seed: 6 })).not.toEqual(arrivalOffsetsNs({ ...o, seed: 5 }));
  });

  it("rejects a bad rate, duration or distribution", () => {
    expect(() => arrivalOffsetsNs({ rps: 0, durationS: 1, distribution: "uniform", seed: 1 })).toThrow(/positive number of requests per second/);
    expect(() => arrivalOffsetsNs({ rps: 1, durationS: -1, distribution: "uniform", seed: 1 })).toThrow(/duration/);
    expect(() => arrivalOffsetsNs({ rps: 1, durationS: 1, distribution: "bursty" as "uniform", seed: 1 })).toThrow(/uniform or poisson/);
  });
});

describe("send loop", () => {
  it("sends each request at its due time on the absolute clock: a stall makes the overdue ones go at once and shifts no later one", async () => {
    // A simulated clock: every reading advances it by 10 µs; request 10's start stalls it by 20 ms.
    let t = 0n;
    const clock = () => (t += 10_000n);
    const offsets = arrivalOffsetsNs({ rps: 1000, durationS: 0.1, distribution: "uniform", seed: 1 });
    const fired: number[] = [];
    const { sentNs } = await runSendLoop({
      offsetsNs: offsets,
      startNs: 0n,
      clock,
      fire: (i) => {
        fired.push(i);
        if (i === 10) t += 20_000_000n;
      },
    });
    expect(fired).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const late = Array.from(sentNs, (s, i) => s - offsets[i]!);
    expect(late.every((l) => l >= 0)).toBe(true);
    // Requests 11..30 were due during the stall: they went out right after it, back to back.
    expect(sentNs[11]! - sentNs[10]!).toBeGreaterThanOrEqual(20_000_000);
    expect(sentNs[30]! - sentNs[11]!).toBeLessThan(1_000_000);
    // From request 32 on every send is within two clock readings of its due time: no drift carried over.
    expect(Math.max(...late.slice(32))).toBeLessThanOrEqual(20_000);
  });

  it("with a timer thread waking it: every request once, in order, none before its due time", async () => {
    const offsets = arrivalOffsetsNs({ rps: 2000, durationS: 0.1, distribution: "poisson", seed: 2 });
    const fired: number[] = [];
    const { sentNs } = await runSendLoop({ offsetsNs: offsets, wake: "thread", fire: (i) => fired.push(i) });
    expect(fired).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
    expect(Array.from(sentNs).every((s, i) => s >= offsets[i]!)).toBe(true);
  });

  it("by default a timerfd wakes the event loop: every request once, in order, none early, I/O served between sends", async () => {
    const offsets = arrivalOffsetsNs({ rps: 2000, durationS: 0.2, distribution: "poisson", seed: 3 });
    const fired: number[] = [];
    // Work queued by a send (a tick and an I/O callback) runs before the next due time.
    let ticks = 0;
    let reads = 0;
    const { sentNs, wake, wakeFallback } = await runSendLoop({
      offsetsNs: offsets,
      fire: (i) => {
        fired.push(i);
        process.nextTick(() => ticks++);
        if (i % 50 === 0) void stat(".").then(() => reads++);
      },
    });
    expect(wakeFallback).toBeUndefined();
    expect(wake).toBe("timer");
    expect(fired).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
    expect(Array.from(sentNs).every((s, i) => s >= offsets[i]!)).toBe(true);
    expect(ticks).toBe(offsets.length);
    await new Promise((r) => setImmediate(r));
    expect(reads).toBe(Math.ceil(offsets.length / 50));
    // Woken at the due time (not at the run's end, say): the median send within a few ms, even on a
    // machine as loaded as CI's; the precision itself is measured by bench:invoker.
    const late = Array.from(sentNs, (s, i) => s - offsets[i]!).sort((a, b) => a - b);
    expect(late[Math.floor(late.length / 2)]!).toBeLessThan(5e6);
  });

  it("falls back to polling, and says why, when the clock is simulated", async () => {
    let t = 0n;
    const offsets = arrivalOffsetsNs({ rps: 1000, durationS: 0.01, distribution: "uniform", seed: 1 });
    const r = await runSendLoop({ offsetsNs: offsets, startNs: 0n, clock: () => (t += 10_000n), fire: () => undefined });
    expect(r.wake).toBe("poll");
    expect(r.wakeFallback).toMatch(/simulated clock/);
  });
});
