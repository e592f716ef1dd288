// Quick check of the gVisor cold-start goal (restore p50 <= 60% of boot p50) for helloworld:
// N boots and N restores from one checkpoint, page cache dropped before each, each timed from the
// driver call until the function answers SayHello. The formal benchmark is bench/coldstart.ts;
// this one exists to tune the driver. Run as root: npx tsx tests/sandbox/gvisor/measure-boot-restore.ts [N]
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { StageTimer, type StageDurations } from "#node-runtime/metrics/stages.js";
import { GvisorDriver } from "#node-runtime/sandbox/gvisor/driver.js";
import { loadHelloworld, sayHello } from "./helloworld-fixture.js";

const iterations = Number(process.argv[2] ?? 10);
const baseDir = `/run/vhgv-m${process.pid}`;

async function dropPageCache(): Promise<void> {
  await writeFile("/proc/sys/vm/drop_caches", "3\n");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summary(ms: number[]): { mean: number; p50: number; p99: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p50: percentile(s, 50), p99: percentile(s, 99) };
}

function meanStages(all: StageDurations[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const d of all) for (const [k, v] of Object.entries(d)) sums[k] = (sums[k] ?? 0) + (v ?? 0) / all.length / 1000;
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, Math.round(v)]));
}

const hw = await loadHelloworld();
const driver = new GvisorDriver(hw.store, { baseDir });
const snapRoot = await mkdtemp("/var/tmp/vhgv-measure-");
const base = { revision: "hello-1", imageDigest: hw.image.digest, image: hw.image.config, port: hw.port, vcpus: 1, memoryMiB: 512 };
try {
  // warm-up boot: builds the relay and unpacks the rootfs, and gives the snapshot
  const first = await driver.boot({ ...base, instanceId: "warm" }, new StageTimer());
  await sayHello(first.endpoint, "warm");
  await driver.pause(first);
  await driver.snapshot(first, snapRoot);
  await driver.stop(first);

  const boot: number[] = [];
  const restore: number[] = [];
  const bootStages: StageDurations[] = [];
  const restoreStages: StageDurations[] = [];
  for (let i = 0; i < iterations; i++) {
    for (const kind of ["boot", "restore"] as const) {
      await dropPageCache();
      const timer = new StageTimer();
      const start = performance.now();
      const req = { ...base, instanceId: `${kind}${i}` };
      const h = kind === "boot" ? await driver.boot(req, timer) : await driver.restore({ ...req, snapshotDir: snapRoot, memory: { kind: "file" } }, timer);
      await timer.time("FuncInvocation", () => sayHello(h.endpoint, req.instanceId));
      const ms = performance.now() - start;
      (kind === "boot" ? boot : restore).push(ms);
      (kind === "boot" ? bootStages : restoreStages).push(timer.snapshot());
      await driver.stop(h);
    }
  }
  const b = summary(boot);
  const r = summary(restore);
  const fmt = (x: { mean: number; p50: number; p99: number }) => `mean ${x.mean.toFixed(0)} ms, p50 ${x.p50.toFixed(0)} ms, p99 ${x.p99.toFixed(0)} ms`;
  console.log(`helloworld on gVisor (${iterations} iterations, page cache dropped, until the first SayHello answers)`);
  console.log(`  boot    ${fmt(b)}   stages (mean ms) ${JSON.stringify(meanStages(bootStages))}`);
  console.log(`  restore ${fmt(r)}   stages (mean ms) ${JSON.stringify(meanStages(restoreStages))}`);
  console.log(`  restore p50 / boot p50 = ${(r.p50 / b.p50).toFixed(2)} (goal <= 0.60)`);
} finally {
  await rm(snapRoot, { recursive: true, force: true });
  await rm(baseDir, { recursive: true, force: true });
  await hw.dispose();
}
