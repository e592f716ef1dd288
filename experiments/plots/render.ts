// Renders a vega-lite chart to SVG (vega, headless) and PNG (resvg), the way the project's
// benchmarks draw theirs (bench/reap/plot.ts, node-runtime/metrics/stage-chart.ts).
import { writeFile } from "node:fs/promises";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export async function renderVegaLite(spec: TopLevelSpec): Promise<{ svg: string; png: Buffer }> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, { background: "white", fitTo: { mode: "zoom", value: 2 }, font: { loadSystemFonts: true } }).render().asPng();
    return { svg, png: Buffer.from(png) };
  } finally {
    view.finalize();
  }
}

/** Writes `<base>.svg` and `<base>.png`; returns both paths. */
export async function writePlot(spec: TopLevelSpec, base: string): Promise<string[]> {
  const { svg, png } = await renderVegaLite(spec);
  await writeFile(`${base}.svg`, svg);
  await writeFile(`${base}.png`, png);
  return [`${base}.svg`, `${base}.png`];
}

/** Points of an empirical CDF, thinned to at most `maxPoints` (the tails kept). */
export function cdfPoints(values: ArrayLike<number>, maxPoints = 400): { value: number; fraction: number }[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.floor(n / maxPoints));
  const out: { value: number; fraction: number }[] = [];
  for (let i = 0; i < n; i += step) out.push({ value: sorted[i]!, fraction: (i + 1) / n });
  // The tail matters most for latency: keep the last 1% point by point (bounded).
  const tailFrom = Math.max(0, n - Math.min(200, Math.ceil(n / 100)));
  for (let i = tailFrom; i < n; i++) if (i % step !== 0) out.push({ value: sorted[i]!, fraction: (i + 1) / n });
  out.sort((a, b) => a.fraction - b.fraction);
  return out;
}
