import { percentile } from "#node-runtime/metrics/latency-summary.js";

export { percentile };

export interface Percentiles {
  n: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentiles (the node runtime's definition) of an unsorted sample. */
export function percentiles(values: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    n: arr.length,
    mean: arr.length ? sum / arr.length : NaN,
    min: arr.length ? arr[0]! : NaN,
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    p999: percentile(arr, 99.9),
    max: arr.length ? arr[arr.length - 1]! : NaN,
  };
}

/** Rounds every number of an object to `digits` decimals (NaN becomes null, as JSON would). */
export function rounded<T extends object>(obj: T, digits = 3): { [K in keyof T]: number | null } {
  const out = {} as { [K in keyof T]: number | null };
  for (const [k, v] of Object.entries(obj)) {
    (out as Record<string, number | null>)[k] = typeof v === "number" && Number.isFinite(v) ? Number(v.toFixed(digits)) : null;
  }
  return out;
}
