/** Mean and nearest-rank percentiles of a sample. */
export interface LatencySummary {
  mean: number;
  p50: number;
  p99: number;
  n: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  return { mean, p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: values.length };
}
