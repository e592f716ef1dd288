// One Vega-Lite chart drawn to SVG and PNG (resvg), as every benchmark's plot is.
import { writeFile } from "node:fs/promises";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { Resvg } from "@resvg/resvg-js";

export async function drawChart(spec: TopLevelSpec, svgPath: string, pngPath: string): Promise<void> {
  const view = new vega.View(vega.parse(compile({ config: { font: "DejaVu Sans" }, ...spec }).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  await writeFile(svgPath, svg);
  const png = new Resvg(svg, { fitTo: { mode: "zoom", value: 2 }, background: "white", font: { loadSystemFonts: true } }).render().asPng();
  await writeFile(pngPath, png);
}

/** The machine's load averages (1, 5, 15 min), recorded with every figure. */
export async function loadAverage(): Promise<number[]> {
  const { readFile } = await import("node:fs/promises");
  return (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).map(Number);
}
