// Open-loop arrival times: when each request is due, as nanosecond offsets from the start of
// the run. Uniform is a fixed interval (vSwarm's ticker); Poisson has exponential gaps.
import { Prng } from "../common/prng.js";

export type ArrivalDistribution = "uniform" | "poisson";

export interface ArrivalOptions {
  rps: number;
  /** Seconds of arrivals. */
  durationS: number;
  distribution: ArrivalDistribution;
  seed: number;
}

export function checkRate(rps: number): number {
  if (!Number.isFinite(rps) || rps <= 0) throw new Error(`rate: expected a positive number of requests per second, got ${rps}`);
  return rps;
}

/**
 * Due times in ns from the start, strictly within [0, durationS). Each offset is computed from the
 * start (i × interval, or a running sum of exponential gaps), never from when the previous request
 * actually went out, so lateness never shifts later arrivals.
 */
export function arrivalOffsetsNs(opts: ArrivalOptions): Float64Array {
  checkRate(opts.rps);
  if (!Number.isFinite(opts.durationS) || opts.durationS <= 0) throw new Error(`duration: expected a positive number of seconds, got ${opts.durationS}`);
  const endNs = opts.durationS * 1e9;
  const intervalNs = 1e9 / opts.rps;
  if (opts.distribution === "uniform") {
    const n = Math.ceil(endNs / intervalNs - 1e-9);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = i * intervalNs;
    return out;
  }
  if (opts.distribution !== "poisson") throw new Error(`distribution: expected uniform or poisson, got ${String(opts.distribution)}`);
  const prng = new Prng(opts.seed);
  const out: number[] = [];
  for (let t = prng.exponential(intervalNs); t < endNs; t += prng.exponential(intervalNs)) out.push(t);
  return Float64Array.from(out);
}
