import type { StageDurations } from "./stages.js";

/**
 * vHive's bench CSV: `FuncName`, then for every stage in name order its mean (integer µs) and a
 * `StdDev` column (sample standard deviation, one decimal), then `Total` and its `StdDev`. The
 * header is written once per file; here the stage set is the union over all rows so groups that
 * ran different stages (boot vs restore) share one header, a missing stage counting as 0 µs.
 */
export interface VhiveCsvRow {
  funcName: string;
  samples: StageDurations[];
}

export function meanStd(values: number[]): { mean: number; std: number } {
  if (values.length === 0) return { mean: 0, std: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean, std: 0 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(variance) };
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function vhiveCsv(rows: VhiveCsvRow[]): string {
  const stages = [...new Set(rows.flatMap((r) => r.samples.flatMap((s) => Object.keys(s))))].sort();
  const header = ["FuncName", ...stages.flatMap((s) => [s, "StdDev"]), "Total", "StdDev"];
  const lines = [header.join(",")];
  for (const row of rows) {
    const fields = [csvField(row.funcName)];
    for (const stage of stages) {
      const { mean, std } = meanStd(row.samples.map((s) => s[stage as keyof StageDurations] ?? 0));
      fields.push(String(Math.trunc(mean)), std.toFixed(1));
    }
    const totals = row.samples.map((s) => Object.values(s).reduce((a, b) => a + (b ?? 0), 0));
    const { mean, std } = meanStd(totals);
    fields.push(String(Math.trunc(mean)), std.toFixed(1));
    lines.push(fields.join(","));
  }
  return lines.join("\n") + "\n";
}
