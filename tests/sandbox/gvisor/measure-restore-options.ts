// Which runsc checkpoint/restore options pay off for helloworld (issue 11, item 2): for each set of
// options one checkpoint, then N restores from it with the page cache dropped before each and N
// with the checkpoint in the page cache, each timed from the driver call until SayHello answers;
// the checkpoint's size; the driver's LoadVMM stage (runsc restore). Variants alternate within each
// round, so a burst of load on this shared machine touches all of them alike.
// Run as root: npx tsx tests/sandbox/gvisor/measure-restore-options.ts [N]
// Writes bench/results/gvisor-restore-options.json.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { summarize } from "#node-runtime/metrics/latency-summary.js";
import { StageTimer } from "#node-runtime/metrics/stages.js";
import { GvisorDriver } from "#node-runtime/sandbox/gvisor/driver.js";
import type { RunscSnapshotOptions } from "#node-runtime/sandbox/gvisor/runsc-cli.js";
import { gvisorUnavailable, loadHelloworld, sayHello } from "./helloworld-fixture.js";

const iterations = Number(process.argv[2] ?? 10);
if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`iterations: expected a positive integer, got ${process.argv[2]}`);
const unavailable = gvisorUnavailable();
if (unavailable) throw new Error(`cannot measure: ${unavailable}`);

const VARIANTS: Record<string, Partial<RunscSnapshotOptions>> = {
  "runsc defaults (flate)": {},
  "flate, zero pages excluded": { excludeZeroPages: true },
  uncompressed: { uncompressed: true },
  "uncompressed, zero pages excluded": { uncompressed: true, excludeZeroPages: true },
  "uncompressed, background": { uncompressed: true, backgroundRestore: true },
  "uncompressed, direct I/O": { uncompressed: true, directIo: true },
  "uncompressed, background, direct I/O": { uncompressed: true, backgroundRestore: true, directIo: true },
  "uncompressed, zero pages excluded, background": { uncompressed: true, excludeZeroPages: true, backgroundRestore: true },
  "all four": { uncompressed: true, excludeZeroPages: true, backgroundRestore: true, directIo: true },
};

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(path.join(dir, name))).size;
  return total;
}

const hw = await loadHelloworld();
const baseDir = `/run/vhgv-o${process.pid}`;
const snapRoot = await mkdtemp("/var/tmp/vhgv-options-");
const base = { revision: "hello-1", imageDigest: hw.image.digest, image: hw.image.config, port: hw.port, vcpus: 1, memoryMiB: 512 };
type Sample = { ms: number; loadVmmMs: number };
const runs = Object.entries(VARIANTS).map(([name, options], index) => ({
  name,
  options,
  driver: new GvisorDriver(hw.store, { baseDir, snapshot: options }),
  snapshotDir: path.join(snapRoot, String(index)),
  snapshotBytes: 0,
  cold: [] as Sample[],
  warm: [] as Sample[],
}));

try {
  for (const run of runs) {
    await mkdir(run.snapshotDir);
    const first = await run.driver.boot({ ...base, instanceId: `w${runs.indexOf(run)}` }, new StageTimer());
    await sayHello(first.endpoint, "warm");
    await run.driver.snapshot(first, run.snapshotDir);
    await run.driver.stop(first);
    run.snapshotBytes = await dirBytes(run.snapshotDir);
  }
  for (let i = 0; i < iterations; i++) {
    for (const cache of ["cold", "warm"] as const) {
      for (const run of runs) {
        if (cache === "cold") await writeFile("/proc/sys/vm/drop_caches", "3\n");
        const timer = new StageTimer();
        const instanceId = `r${runs.indexOf(run)}-${cache}-${i}`;
        const start = performance.now();
        const h = await run.driver.restore({ ...base, instanceId, snapshotDir: run.snapshotDir, memory: { kind: "file" } }, timer);
        await sayHello(h.endpoint, instanceId);
        const ms = performance.now() - start;
        run[cache].push({ ms, loadVmmMs: (timer.snapshot().LoadVMM ?? 0) / 1000 });
        await run.driver.stop(h);
      }
    }
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  const summary = (samples: Sample[]) => {
    const s = summarize(samples.map((x) => x.ms));
    return { p50: round(s.p50), p99: round(s.p99), mean: round(s.mean), loadVmmMeanMs: round(samples.reduce((a, x) => a + x.loadVmmMs, 0) / samples.length) };
  };
  const results = runs.map((r) => ({
    variant: r.name,
    options: r.options,
    snapshotBytes: r.snapshotBytes,
    pageCacheDropped: summary(r.cold),
    fromPageCache: summary(r.warm),
  }));
  const out = {
    what: "helloworld restored on gVisor until SayHello answers, per runsc checkpoint/restore option set",
    runsc: execFileSync("runsc", ["--version"], { encoding: "utf8" }).split("\n")[0],
    iterations,
    load: loadavg().map((l) => round(l)),
    results,
  };
  const file = fileURLToPath(new URL("../../../bench/results/gvisor-restore-options.json", import.meta.url));
  await writeFile(file, JSON.stringify(out, null, 2) + "\n");
  console.log(`${out.runsc}, ${iterations} restores each way, load ${out.load.join(" ")}`);
  console.log(
    [
      "variant".padEnd(48),
      "MiB".padStart(6),
      "cold p50".padStart(9),
      "cold p99".padStart(9),
      "warm p50".padStart(9),
      "warm p99".padStart(9),
      "LoadVMM warm".padStart(13),
    ].join(" "),
  );
  for (const r of results) {
    console.log(
      [
        r.variant.padEnd(48),
        (r.snapshotBytes / 2 ** 20).toFixed(1).padStart(6),
        String(r.pageCacheDropped.p50).padStart(9),
        String(r.pageCacheDropped.p99).padStart(9),
        String(r.fromPageCache.p50).padStart(9),
        String(r.fromPageCache.p99).padStart(9),
        String(r.fromPageCache.loadVmmMeanMs).padStart(13),
      ].join(" "),
    );
  }
} finally {
  await rm(snapRoot, { recursive: true, force: true });
  await rm(baseDir, { recursive: true, force: true });
  await hw.dispose();
}
