import type { TopLevelSpec } from "vega-lite";
import { drawChart } from "../plot.js";

export interface PlotRow {
  function: string;
  variant: string;
  ms: number;
  cpu: string;
}

/** Grouped bars of cold-start memory time per function and variant, one panel per CPU setup. */
export async function drawReapPlot(rows: PlotRow[], svgPath: string, pngPath: string): Promise<void> {
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Snapshot memory restore, cold page cache, 512 MiB guest (lower is better)",
    data: { values: rows },
    facet: { row: { field: "cpu", type: "nominal", title: null, sort: ["unpinned", "pinned (one CPU)"] } },
    spec: {
      width: 560,
      height: 220,
      mark: { type: "bar" },
      encoding: {
        x: { field: "function", type: "nominal", sort: null, title: "working-set shape" },
        xOffset: { field: "variant", type: "nominal", sort: ["vanilla", "lazy", "reap", "limit", "limit, prefaulted"] },
        y: { field: "ms", type: "quantitative", stack: null, scale: { type: "log", domainMin: 5 }, title: "ms (log scale)" },
        color: { field: "variant", type: "nominal", sort: ["vanilla", "lazy", "reap", "limit", "limit, prefaulted"], title: "variant" },
        tooltip: [{ field: "ms", type: "quantitative", format: ".1f" }],
      },
    },
    config: { font: "DejaVu Sans" },
  };
  await drawChart(spec, svgPath, pngPath);
}
