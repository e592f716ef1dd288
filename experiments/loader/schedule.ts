// Turns sampled trace functions into one replay schedule: each minute's count of each function
// spread over that (possibly shortened) minute by the chosen inter-arrival distribution, each
// invocation with a duration and memory drawn from its function's percentiles.
import { Prng } from "../common/prng.js";
import { DURATION_PERCENTILES, functionKey, MEMORY_PERCENTILES, sampleFromPercentiles, type TraceFunction } from "../trace/azure-trace.js";

export type InterArrival = "exponential" | "uniform" | "equidistant";

export interface Invocation {
  /** Index into the sampled functions. */
  fn: number;
  /** 0-based minute of the replay. */
  minute: number;
  /** Due time, ns from the start of the replay. */
  offsetNs: number;
  durationMs: number;
  memoryMiB: number;
}

/**
 * `count` arrival times within [0, minuteNs):
 * - equidistant: k × minute/count;
 * - uniform: count independent uniform points, sorted;
 * - exponential: exponential gaps with mean minute/count, the whole sequence scaled to end within
 *   the minute (so the trace's count is kept exactly; the gaps' shape stays exponential).
 */
export function minuteArrivals(count: number, minuteNs: number, dist: InterArrival, prng: Prng): number[] {
  if (count === 0) return [];
  if (dist === "equidistant") return Array.from({ length: count }, (_, k) => (k * minuteNs) / count);
  if (dist === "uniform") return Array.from({ length: count }, () => prng.next() * minuteNs).sort((a, b) => a - b);
  if (dist !== "exponential") throw new Error(`inter-arrival: expected exponential, uniform or equidistant, got ${String(dist)}`);
  const gaps = Array.from({ length: count + 1 }, () => prng.exponential(1));
  const total = gaps.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  let t = 0;
  for (let k = 0; k < count; k++) {
    t += gaps[k]!;
    out.push((t / total) * minuteNs);
  }
  return out;
}

export interface SampleOptions {
  count: number;
  seed: number;
  /** Only minutes [0, minutes) count when choosing functions that have invocations. */
  minutes: number;
}

/** N functions chosen at random (seeded) among those with durations, memory and ≥ 1 invocation in the replayed minutes. */
export function sampleFunctions(all: TraceFunction[], opts: SampleOptions): { sampled: TraceFunction[]; eligible: number; skipped: Record<string, number> } {
  const skipped = { noDurations: 0, noMemory: 0, noInvocations: 0 };
  const eligible = all.filter((f) => {
    if (!f.durations) {
      skipped.noDurations++;
      return false;
    }
    if (!f.memory) {
      skipped.noMemory++;
      return false;
    }
    if (!f.perMinute.slice(0, opts.minutes).some((c) => c > 0)) {
      skipped.noInvocations++;
      return false;
    }
    return true;
  });
  if (opts.count > eligible.length)
    throw new Error(
      `asked for ${opts.count} functions, the trace has ${eligible.length} with durations, memory and invocations in the first ${opts.minutes} minutes`,
    );
  const prng = new Prng(opts.seed);
  const pool = [...eligible];
  for (let i = 0; i < opts.count; i++) {
    const j = i + prng.int(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  // Keep the trace's order among the chosen, so a function's index is stable for a seed.
  const chosen = new Set(pool.slice(0, opts.count).map(functionKey));
  return { sampled: eligible.filter((f) => chosen.has(functionKey(f))), eligible: eligible.length, skipped };
}

export interface ScheduleOptions {
  minutes: number;
  minuteSeconds: number;
  interArrival: InterArrival;
  seed: number;
  maxDurationMs?: number;
  maxMemoryMiB?: number;
}

export function buildSchedule(fns: TraceFunction[], opts: ScheduleOptions): Invocation[] {
  const minuteNs = opts.minuteSeconds * 1e9;
  if (!(minuteNs > 0)) throw new Error(`minute length: expected seconds > 0, got ${opts.minuteSeconds}`);
  const arrivals = new Prng(opts.seed);
  const sizes = new Prng(opts.seed ^ 0x9e3779b9);
  const out: Invocation[] = [];
  fns.forEach((f, fn) => {
    for (let minute = 0; minute < opts.minutes; minute++) {
      const count = f.perMinute[minute] ?? 0;
      for (const t of minuteArrivals(count, minuteNs, opts.interArrival, arrivals)) {
        let durationMs = sampleFromPercentiles(DURATION_PERCENTILES, f.durations!.percentilesMs, sizes.next());
        let memoryMiB = sampleFromPercentiles(MEMORY_PERCENTILES, f.memory!.percentilesMb, sizes.next());
        if (opts.maxDurationMs !== undefined) durationMs = Math.min(durationMs, opts.maxDurationMs);
        if (opts.maxMemoryMiB !== undefined) memoryMiB = Math.min(memoryMiB, opts.maxMemoryMiB);
        out.push({ fn, minute, offsetNs: minute * minuteNs + t, durationMs: Math.round(durationMs), memoryMiB: Math.max(1, Math.round(memoryMiB)) });
      }
    }
  });
  return out.sort((a, b) => a.offsetNs - b.offsetNs || a.fn - b.fn);
}

/** The last minute (1-based count) in which any of the functions is invoked. */
export function lastActiveMinute(fns: TraceFunction[]): number {
  let last = 0;
  for (const f of fns) for (const [m, c] of f.perMinute.entries()) if (c > 0 && m + 1 > last) last = m + 1;
  return last;
}
