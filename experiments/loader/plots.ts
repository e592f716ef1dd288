import type { TopLevelSpec } from "vega-lite";
import { cdfPoints, writePlot } from "../plots/render.js";
import type { InvocationRow, MinuteRow } from "./run.js";

export async function drawLoaderPlots(rows: InvocationRow[], minutes: MinuteRow[], base: string): Promise<string[]> {
  const ok = rows.filter((r) => !r.failed && !r.warmup);
  const cdf: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: `Response time CDF (${ok.length} successful invocations)`,
    width: 520,
    height: 280,
    background: "white",
    data: { values: cdfPoints(ok.map((r) => r.responseUs / 1e3)) },
    mark: { type: "line", interpolate: "step-after" },
    encoding: {
      x: { field: "value", type: "quantitative", title: "response time (ms, log scale)", scale: { type: "log" } },
      y: { field: "fraction", type: "quantitative", title: "fraction of invocations", scale: { domain: [0, 1] } },
    },
    config: { font: "DejaVu Sans", legend: { labelLimit: 0 } },
  };
  const perMinute = minutes.flatMap((m) => [
    { minute: m.minute, series: "scheduled", value: m.scheduled },
    { minute: m.minute, series: "completed", value: m.completed },
    { minute: m.minute, series: "failed", value: m.failed },
    ...(m.coldStarts === null ? [] : [{ minute: m.minute, series: "cold starts", value: m.coldStarts }]),
  ]);
  const timeline: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Invocations and cold starts per trace minute",
    width: 520,
    height: 260,
    background: "white",
    data: { values: perMinute },
    mark: { type: "bar" },
    encoding: {
      x: { field: "minute", type: "ordinal", title: "trace minute" },
      xOffset: { field: "series", type: "nominal", sort: ["scheduled", "completed", "failed", "cold starts"] },
      y: { field: "value", type: "quantitative", title: "count" },
      color: { field: "series", type: "nominal", title: null, sort: ["scheduled", "completed", "failed", "cold starts"] },
    },
    config: { font: "DejaVu Sans", legend: { labelLimit: 0 } },
  };
  return [...(await writePlot(cdf, `${base}-cdf`)), ...(await writePlot(timeline, `${base}-minutes`))];
}
