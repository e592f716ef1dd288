import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export interface StageBar {
  /** Bar label, e.g. "gvisor boot". */
  group: string;
  stage: string;
  meanUs: number;
}

/** A vega-lite stacked bar chart of mean stage durations (ms) per group. */
export function stageChartSpec(bars: StageBar[], title: string): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    width: 520,
    height: { step: 38 },
    background: "white",
    data: { values: bars.map((b) => ({ group: b.group, stage: b.stage, ms: b.meanUs / 1000 })) },
    mark: { type: "bar" },
    encoding: {
      y: { field: "group", type: "nominal", title: null, sort: null },
      x: { field: "ms", type: "quantitative", title: "mean time to first response, ms (stacked stages)", stack: "zero" },
      color: { field: "stage", type: "nominal", title: "stage", scale: { scheme: "tableau20" } },
      tooltip: [{ field: "stage" }, { field: "ms", format: ".1f" }],
    },
  };
}

/** Renders the chart to SVG (vega, headless) and PNG (resvg). */
export async function renderStageChart(bars: StageBar[], title: string): Promise<{ svg: string; png: Buffer }> {
  const view = new vega.View(vega.parse(compile(stageChartSpec(bars, title)).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { background: "white", fitTo: { mode: "zoom", value: 2 }, font: { loadSystemFonts: true } }).render().asPng();
  return { svg, png: Buffer.from(png) };
}
