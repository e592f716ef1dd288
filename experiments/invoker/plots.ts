import type { TopLevelSpec } from "vega-lite";
import { percentile } from "../common/stats.js";
import { cdfPoints, writePlot } from "../plots/render.js";
import type { RunRecords } from "./run.js";

/** Rows per time bin of the measured window: completions per second and latency p50/p99. */
export function timeline(r: RunRecords, warmNs: number, durationS: number): { second: number; series: string; value: number }[] {
  const binS = durationS <= 20 ? 0.5 : durationS <= 120 ? 1 : Math.ceil(durationS / 120);
  const bins = Math.max(1, Math.ceil(durationS / binS));
  const lat: number[][] = Array.from({ length: bins }, () => []);
  const done = new Array<number>(bins).fill(0);
  const failed = new Array<number>(bins).fill(0);
  for (let i = r.warmupCount; i < r.dueNs.length; i++) {
    const b = Math.min(bins - 1, Math.floor((r.sentNs[i]! - warmNs) / 1e9 / binS));
    if (r.code[i] === 0) {
      lat[b]!.push((r.doneNs[i]! - r.sentNs[i]!) / 1e6);
      const d = Math.floor((r.doneNs[i]! - warmNs) / 1e9 / binS);
      if (d >= 0 && d < bins) done[d]!++;
    } else failed[b]!++;
  }
  const rows: { second: number; series: string; value: number }[] = [];
  for (let b = 0; b < bins; b++) {
    const second = b * binS;
    const sorted = lat[b]!.sort((x, y) => x - y);
    if (sorted.length) {
      rows.push({ second, series: "latency p50 (ms)", value: percentile(sorted, 50) });
      rows.push({ second, series: "latency p99 (ms)", value: percentile(sorted, 99) });
    }
    rows.push({ second, series: "achieved rate (req/s)", value: done[b]! / binS });
    if (failed[b]) rows.push({ second, series: "failures (req/s)", value: failed[b]! / binS });
  }
  return rows;
}

export async function drawInvokerPlots(r: RunRecords, warmNs: number, durationS: number, base: string): Promise<string[]> {
  const latMs: number[] = [];
  for (let i = r.warmupCount; i < r.dueNs.length; i++) if (r.code[i] === 0) latMs.push((r.doneNs[i]! - r.sentNs[i]!) / 1e6);
  const cdf: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Latency CDF (${latMs.length} successful requests)`,
    width: 520,
    height: 300,
    background: "white",
    data: { values: cdfPoints(latMs) },
    mark: { type: "line", interpolate: "step-after" },
    encoding: {
      x: { field: "value", type: "quantitative", title: "latency (ms, log scale)", scale: { type: "log" } },
      y: { field: "fraction", type: "quantitative", title: "fraction of requests", scale: { domain: [0, 1] } },
    },
    config: { font: "DejaVu Sans", legend: { labelLimit: 0 } },
  };
  const rows = timeline(r, warmNs, durationS);
  const over: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Latency and achieved rate over the measured window",
    background: "white",
    data: { values: rows },
    vconcat: [
      {
        width: 520,
        height: 200,
        transform: [{ filter: "indexof(datum.series, 'latency') === 0" }],
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "second", type: "quantitative", title: "time (s)" },
          y: { field: "value", type: "quantitative", title: "latency (ms)" },
          color: { field: "series", type: "nominal", title: null },
        },
      },
      {
        width: 520,
        height: 160,
        transform: [{ filter: "indexof(datum.series, 'latency') !== 0" }],
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "second", type: "quantitative", title: "time (s)" },
          y: { field: "value", type: "quantitative", title: "requests per second" },
          color: { field: "series", type: "nominal", title: null },
        },
      },
    ],
    config: { font: "DejaVu Sans", legend: { labelLimit: 0 } },
  };
  return [...(await writePlot(cdf, `${base}-cdf`)), ...(await writePlot(over, `${base}-timeline`))];
}
