// Provisioning benchmark through the real Pulumi engine: node-runtime-only hosts (sandbox gvisor,
// Debian packages through the test hosts' apt proxy) on 1, 2, 4 and 8 fresh SSH test hosts, then
// a no-change `pulumi up` on the same hosts. The CPU floor of a first run is the machine's busy
// CPU-seconds during it (engine, provider, hosts, apt proxy) divided by its cores: the time the run
// would take if nothing ever waited. Goals on 2 cores: the 8-host first run within 1.15× its CPU
// floor, a no-change run within 10% of the first run.
// Writes bench/results/provision.json; `npm run bench:provision` (root: test hosts).
import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { buildBase, downHosts, unavailableReason, upHosts } from "../tests/hosts/test-hosts.js";
import { EngineStack, rawStackFor } from "../tests/provisioner-real/real-provisioner.js";
import { drawChart, loadAverage } from "./plot.js";

const SIZES = [1, 2, 4, 8];
/** Test-host indexes this benchmark owns (vht-41 … vht-48). */
const FIRST_INDEX = 41;
const GOAL_FLOOR = 1.15;
const GOAL_NO_CHANGE = 0.1;
const RESULTS = new URL("./results/", import.meta.url);

interface Measurement {
  readonly hosts: number;
  readonly firstRunS: number;
  readonly noChangeS: number;
  readonly cpuFloorS: number;
  readonly load: number[];
}

/** Busy CPU time of the whole machine so far, in seconds (all but idle and iowait). */
function busyCpuSeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
}

async function timed<T>(run: () => Promise<T>): Promise<{ s: number; cpuS: number; value: T }> {
  const cpu = busyCpuSeconds();
  const started = performance.now();
  const value = await run();
  return { s: (performance.now() - started) / 1000, cpuS: busyCpuSeconds() - cpu, value };
}

async function measure(size: number): Promise<Measurement> {
  const indexes = Array.from({ length: size }, (_, i) => FIRST_INDEX + i);
  const hosts = await upHosts(indexes);
  const stack = await EngineStack.open(`bench-${size}`, rawStackFor(hosts, { sandbox: "gvisor", kubernetes: false }));
  try {
    const first = await timed(() => stack.up());
    if (first.value.summary.result !== "succeeded") throw new Error(`first run on ${size} hosts: ${first.value.summary.result}`);
    const load = await loadAverage();
    const again = await timed(() => stack.up());
    const changed = Object.keys(again.value.summary.resourceChanges ?? {}).filter((op) => op !== "same");
    if (changed.length > 0) throw new Error(`no-change run on ${size} hosts changed something: ${JSON.stringify(again.value.summary.resourceChanges)}`);
    await stack.destroy();
    return { hosts: size, firstRunS: first.s, noChangeS: again.s, cpuFloorS: first.cpuS / availableParallelism(), load };
  } finally {
    stack.remove();
    await downHosts(indexes);
  }
}

async function main(): Promise<void> {
  const why = unavailableReason();
  if (why) {
    console.error(`bench:provision cannot run here: ${why}`);
    process.exitCode = 1;
    return;
  }
  await buildBase();
  // Warm-up, not measured: fills the apt proxy's cache, builds the tools and packs the node
  // runtime bundle once, so every measured size starts from the same caches.
  console.log("warm-up: one host, not measured");
  await measure(1);

  const results: Measurement[] = [];
  for (const size of SIZES) {
    const m = await measure(size);
    console.log(
      `${size} host(s): first run ${m.firstRunS.toFixed(1)} s (CPU floor ${m.cpuFloorS.toFixed(1)} s), no-change ${m.noChangeS.toFixed(1)} s, load ${m.load.join(" ")}`,
    );
    results.push(m);
  }
  const stack = await EngineStack.open("bench-version", {});
  const engine = `pulumi ${(await stack.stack.workspace.pulumiVersion) ?? "?"}`;
  stack.remove();
  const round = (x: number) => Math.round(x * 100) / 100;
  await mkdir(RESULTS, { recursive: true });
  const json = {
    engine,
    hosts: results.map((r) => r.hosts),
    firstRunS: results.map((r) => round(r.firstRunS)),
    noChangeS: results.map((r) => round(r.noChangeS)),
    cpuFloorS: results.map((r) => round(r.cpuFloorS)),
    load: results.map((r) => r.load),
    cores: availableParallelism(),
  };
  await writeFile(new URL("provision.json", RESULTS), `${JSON.stringify(json)}\n`);

  console.log(`\n${engine}\nhosts  first run  CPU floor  first/floor  no-change  no-change/first  load (1 5 15 min)`);
  for (const r of results)
    console.log(
      `${String(r.hosts).padStart(5)}  ${r.firstRunS.toFixed(1).padStart(7)} s  ${r.cpuFloorS.toFixed(1).padStart(7)} s  ${(r.firstRunS / r.cpuFloorS).toFixed(2).padStart(10)}×  ${r.noChangeS.toFixed(1).padStart(7)} s  ${((100 * r.noChangeS) / r.firstRunS).toFixed(0).padStart(14)}%  ${r.load.join(" ")}`,
    );
  const largest = results.at(-1)!;
  const floorRatio = largest.firstRunS / largest.cpuFloorS;
  const worstNoChange = Math.max(...results.map((r) => r.noChangeS / r.firstRunS));
  console.log(`\ngoal: ${largest.hosts} hosts within ${GOAL_FLOOR}× the CPU floor: ${floorRatio.toFixed(2)}× ${floorRatio <= GOAL_FLOOR ? "met" : "NOT met"}`);
  console.log(
    `goal: no-change run within ${GOAL_NO_CHANGE * 100}% of the first: worst ${(100 * worstNoChange).toFixed(0)}% ${worstNoChange <= GOAL_NO_CHANGE ? "met" : "NOT met"}`,
  );

  const rows = results.flatMap((r) => [
    { hosts: r.hosts, series: "first run", s: r.firstRunS },
    { hosts: r.hosts, series: "CPU floor", s: r.cpuFloorS },
    { hosts: r.hosts, series: "no-change run", s: r.noChangeS },
  ]);
  await drawChart(
    {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: `pulumi up on SSH test hosts (${engine}, ${json.cores} cores)`,
      width: 480,
      height: 260,
      data: { values: rows },
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "hosts", type: "quantitative", scale: { type: "log", base: 2 }, title: "hosts" },
        y: { field: "s", type: "quantitative", title: "seconds" },
        color: { field: "series", type: "nominal", title: null },
      },
    },
    new URL("provision.svg", RESULTS).pathname,
    new URL("provision.png", RESULTS).pathname,
  );
  console.log("wrote bench/results/provision.json, provision.svg, provision.png");
}

await main();
