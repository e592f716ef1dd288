// Provisioning benchmark: the provisioner's host bootstrap (sandbox gvisor, Debian packages
// through the test hosts' apt proxy) executed for real on 1, 2, 4 and 8 fresh test hosts, then
// re-run on the same hosts. The baseline is 1 host, measured in the same run; goals on this
// 2-core machine: 8 hosts in ≤ 3× the time of 1 host, a re-run in ≤ 15% of the first run.
// Writes bench/results/provision.json as {"hosts":[…],"firstRunS":[…],"rerunS":[…]}.
// Needs root (test hosts); `npm run bench:provision`.
import { mkdir, writeFile } from "node:fs/promises";
import { buildBase, downHosts, unavailableReason, upHosts } from "../tests/hosts/testHosts.js";
import { executedSteps, provisionForReal, stackFor } from "../tests/provisioner-real/realProvisioner.js";

const SIZES = [1, 2, 4, 8];
/** Test-host indexes this benchmark owns (vht-41 … vht-48). */
const FIRST_INDEX = 41;
const GOAL_SCALE = 3;
const GOAL_RERUN = 0.15;
const RESULTS = new URL("./results/", import.meta.url);

interface Measurement {
  readonly hosts: number;
  readonly firstRunS: number;
  readonly rerunS: number;
}

async function measure(size: number): Promise<Measurement> {
  const indexes = Array.from({ length: size }, (_, i) => FIRST_INDEX + i);
  const hosts = await upHosts(indexes);
  try {
    const config = stackFor(hosts);
    const first = await provisionForReal(config, hosts);
    if (first.failures.length > 0) throw new Error(`first run on ${size} hosts failed:\n${first.failures.map((f) => f.error).join("\n")}`);
    const rerun = await provisionForReal(config, hosts);
    if (rerun.failures.length > 0) throw new Error(`re-run on ${size} hosts failed:\n${rerun.failures.map((f) => f.error).join("\n")}`);
    const changed = executedSteps(rerun).filter((s) => !s.endsWith(" unchanged"));
    if (changed.length > 0) throw new Error(`re-run on ${size} hosts changed something: ${changed.join(", ")}`);
    return { hosts: size, firstRunS: first.elapsedMs / 1000, rerunS: rerun.elapsedMs / 1000 };
  } finally {
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
  // Warm-up, not measured: fills the apt proxy's cache and packs the node runtime bundle once,
  // so every measured size starts from the same caches.
  console.log("warm-up: one host, not measured");
  await measure(1);

  const results: Measurement[] = [];
  for (const size of SIZES) {
    const m = await measure(size);
    console.log(`${size} host(s): first run ${m.firstRunS.toFixed(1)} s, re-run ${m.rerunS.toFixed(1)} s`);
    results.push(m);
  }
  const base = results[0]!;
  const round = (x: number) => Math.round(x * 100) / 100;
  await mkdir(RESULTS, { recursive: true });
  await writeFile(
    new URL("provision.json", RESULTS),
    `${JSON.stringify({ hosts: results.map((r) => r.hosts), firstRunS: results.map((r) => round(r.firstRunS)), rerunS: results.map((r) => round(r.rerunS)) })}\n`,
  );

  console.log("\nhosts  first run  vs 1 host  re-run  re-run/first");
  for (const r of results)
    console.log(
      `${String(r.hosts).padStart(5)}  ${r.firstRunS.toFixed(1).padStart(8)} s  ${(r.firstRunS / base.firstRunS).toFixed(2).padStart(7)}×  ${r.rerunS.toFixed(1).padStart(5)} s  ${((100 * r.rerunS) / r.firstRunS).toFixed(0).padStart(10)}%`,
    );
  const largest = results.at(-1)!;
  const scale = largest.firstRunS / base.firstRunS;
  const worstRerun = Math.max(...results.map((r) => r.rerunS / r.firstRunS));
  console.log(`\ngoal: ${largest.hosts} hosts ≤ ${GOAL_SCALE}× one host: ${scale.toFixed(2)}× ${scale <= GOAL_SCALE ? "met" : "NOT met"}`);
  console.log(`goal: re-run ≤ ${GOAL_RERUN * 100}% of first run: worst ${(100 * worstRerun).toFixed(0)}% ${worstRerun <= GOAL_RERUN ? "met" : "NOT met"}`);
  console.log("wrote bench/results/provision.json");
}

await main();
// The program ran under mocks, not in a deployment: Pulumi's exit hook counts the outputs of the
// resources the harness does not execute (Kubernetes objects, downloads) as leaked promises and
// would fail the process. The benchmark's own outcome decides its exit code.
const outcome = process.exitCode ?? 0;
process.on("exit", () => {
  process.exitCode = outcome;
});
