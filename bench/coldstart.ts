// Cold-start benchmark: boot vs snapshot restore of vHive's helloworld, for every sandbox available
// here (gVisor; containerd boot only, it has no snapshots; Firecracker where FIRECRACKER_BIN and
// FIRECRACKER_KERNEL are set: boot, File restore and REAP restore). Where the host's own KVM cannot
// run it (here), Firecracker is measured inside the nested-KVM machine (`"kvm":"nested"`, `--kvm`):
// only its ratios mean anything, the machine's CPU is emulated.
// Each iteration drops the page cache first, then times start-to-first-response through the real
// orchestrator and records vHive's stage breakdown. Boot is the baseline; restore is reported as a
// ratio of it (issue 11's goal for gVisor: restore p50 ≤ 150 ms and ≤ 0.25× boot p50). gVisor's
// restores alternate with raw `runsc restore`s of the same checkpoint (bench/gvisor-raw-restore.ts),
// page cache dropped and from the page cache: the node runtime's overhead is AddInstance minus the
// raw restore (goal: within 10% of the raw restore).
// Writes bench/results/coldstart.json (an ARRAY, one object per sandbox; `--sandboxes` replaces the
// entries it measures and keeps the others), coldstart.csv (this run's samples in vHive's bench CSV
// layout), coldstart.svg and coldstart.png (stacked stage means of every entry).
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { pino } from "pino";
import { parseRuntimeConfig } from "../node-runtime/config/runtime-config.js";
import { createNodeRuntime, type NodeRuntime } from "../node-runtime/index.js";
import { summarize, type LatencySummary } from "../node-runtime/metrics/latency-summary.js";
import { COLD_START_STAGES, type StageDurations } from "../node-runtime/metrics/stages.js";
import { renderStageChart, type StageBar } from "../node-runtime/metrics/stage-chart.js";
import { vhiveCsv } from "../node-runtime/metrics/vhive-csv.js";
import type { SandboxKind } from "../node-runtime/sandbox/driver.js";
import { containerdUnavailable, startContainerd } from "../tests/fixtures/containerd-daemon.js";
import { ensureHelloworldImage } from "../tests/fixtures/helloworld.js";
import { gvisorUnavailable } from "../tests/sandbox/gvisor/helloworld-fixture.js";
import { nestedMachineUnavailable, removeJobDir, runInNestedMachine } from "../tests/fixtures/nested-kvm.js";
import { q as shellQuote } from "../components/scripts/shell.js";
import { RawRunscRestorer, type RawRestoreSample } from "./gvisor-raw-restore.js";
import { loadAverage } from "./plot.js";

const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));
/** Issue 11's goals for gVisor: restore p50 at most this share of boot p50 and this many ms, overhead within this share of raw runsc. */
const GOAL_RATIO = 0.25;
const GOAL_RESTORE_MS = 150;
const GOAL_OVERHEAD = 0.1;

interface Sample {
  ms: number;
  stages: StageDurations;
  rssBytes?: number;
}

export interface SandboxResult {
  sandbox: SandboxKind;
  iterations: number;
  pageCacheDropped: boolean;
  bootMs: Omit<LatencySummary, "n">;
  restoreMs: Omit<LatencySummary, "n"> | null;
  /** Restore-path stages when the sandbox snapshots, else boot-path stages. */
  stages: Record<string, { meanUs: number }>;
  bootStages: Record<string, { meanUs: number }>;
  restoreStages: Record<string, { meanUs: number }> | null;
  /** restore p50 / boot p50, the baseline of this same run. */
  restoreToBootP50: number | null;
  /** Firecracker with REAP (record once, then prefetch): p50 and its ratio to boot p50. */
  reapMs?: Omit<LatencySummary, "n"> | null;
  reapStages?: Record<string, { meanUs: number }> | null;
  reapToBootP50?: number | null;
  /** Firecracker: "host" (the machine's own KVM) or "nested" (inside the nested-KVM machine). */
  kvm?: "host" | "nested";
  /** Nested entries: the host's load averages when the run ended (`load` is the nested machine's). */
  hostLoad?: number[];
  /** The machine's load averages (1, 5, 15 min) when this sandbox's runs ended. */
  load: number[];
  /** The runtime's version line (`runsc --version`, `containerd --version`, …). */
  runtime: string | null;
  goal: string | null;
  rssMiB: { boot: number | null; restore: number | null };
  snapshotBytes: number | null;
  /** gVisor: our restores against raw `runsc restore` of the same checkpoint, alternating, in this run. */
  rawRunsc?: { cold: RawPeerResult; warm: RawPeerResult; loadAtStart: number[]; goal: string };
}

/** One condition (page cache dropped or not) of the raw-runsc comparison; times in ms. */
export interface RawPeerResult {
  iterations: number;
  /** Ours: orchestrator start (restore) + first answer, its AddInstance stage, its LoadVMM stage (the driver's runsc restore). */
  ours: { totalMs: Omit<LatencySummary, "n">; addInstanceMs: Omit<LatencySummary, "n">; loadVmmMs: Omit<LatencySummary, "n"> };
  /** runsc alone: the `runsc restore --detach` command, and restore through its first answer. */
  raw: { restoreMs: Omit<LatencySummary, "n">; firstAnswerMs: Omit<LatencySummary, "n"> };
  /** AddInstance p50 − raw restore p50, and that over the raw restore p50 (issue 11: ≤ 0.10). */
  overheadMsP50: number;
  overheadToRawP50: number;
  /** Our start-to-first-answer p50 − raw restore-to-first-answer p50. */
  firstAnswerGapMsP50: number;
  /** p50 of AddInstance − LoadVMM per sample: what the runtime spends around its own runsc restore (less noisy than the difference of two p50s). */
  outsideLoadVmmMsP50: number;
  stages: Record<string, { meanUs: number }>;
}

async function dropPageCache(): Promise<boolean> {
  try {
    await writeFile("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}

function stageMeans(samples: Sample[]): Record<string, { meanUs: number }> {
  const out: Record<string, { meanUs: number }> = {};
  for (const stage of COLD_START_STAGES) {
    const vals = samples.map((s) => s.stages[stage]).filter((v): v is number => v !== undefined);
    if (vals.length) out[stage] = { meanUs: Math.round(vals.reduce((a, b) => a + b, 0) / vals.length) };
  }
  return out;
}

const pick = ({ mean, p50, p99 }: LatencySummary) => ({ mean: +mean.toFixed(1), p50: +p50.toFixed(1), p99: +p99.toFixed(1) });
const meanOf = (xs: (number | undefined)[]) => {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

/** Stacked bars must not double count: AddInstance encloses the driver stages and ConnectFuncClient. */
function barsFor(group: string, means: Record<string, { meanUs: number }>): StageBar[] {
  const bars: StageBar[] = [];
  let inside = 0;
  for (const [stage, { meanUs }] of Object.entries(means)) {
    if (stage === "AddInstance") continue;
    bars.push({ group, stage, meanUs });
    if (stage !== "GetImage" && stage !== "FuncInvocation") inside += meanUs;
  }
  const rest = (means.AddInstance?.meanUs ?? 0) - inside;
  if (rest > 0) bars.push({ group, stage: "AddInstance (rest)", meanUs: rest });
  return bars;
}

async function availableSandboxes(requested?: SandboxKind[]): Promise<{ kind: SandboxKind; skip?: string }[]> {
  const all: SandboxKind[] = requested ?? ["gvisor", "containerd", "firecracker"];
  const out: { kind: SandboxKind; skip?: string }[] = [];
  for (const kind of all) {
    // gVisor and containerd: the upstream builds first on the PATH (VHIVE_RUNTIMES=debian: Debian's).
    const skip =
      kind === "gvisor"
        ? gvisorUnavailable()
        : kind === "containerd"
          ? containerdUnavailable()
          : !(process.env.FIRECRACKER_BIN && process.env.FIRECRACKER_KERNEL)
            ? "FIRECRACKER_BIN and FIRECRACKER_KERNEL not both set"
            : undefined;
    out.push(skip ? { kind, skip } : { kind });
  }
  return out;
}

/** The first line of the sandbox runtime's own version output: which build the figures are of. */
function runtimeVersion(kind: SandboxKind): string | null {
  const [binary, flag] =
    kind === "gvisor"
      ? ["runsc", "--version"]
      : kind === "containerd"
        ? ["containerd", "--version"]
        : [process.env.FIRECRACKER_BIN ?? "firecracker", "--version"];
  try {
    return execFileSync(binary, [flag], { encoding: "utf8" }).split("\n")[0]!.trim();
  } catch {
    return null;
  }
}

async function coldStart(
  rt: NodeRuntime,
  revision: string,
  instanceId: string,
  snapshotMode: "off" | "vanilla" | "reap",
): Promise<Sample & { startKind: string }> {
  const t0 = process.hrtime.bigint();
  const info = await rt.orchestrator.start({ revision, image: IMAGE_REF, instanceId, snapshotMode });
  await rt.orchestrator.invoke(instanceId, "bench");
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rec = await rt.orchestrator.coldStartRecord(instanceId);
  return { ms, stages: rec?.stages ?? info.coldStart, rssBytes: rec?.rssBytes, startKind: info.startKind };
}

let IMAGE_REF = "";

async function helloworldPort(): Promise<number> {
  return (await ensureHelloworldImage()).port;
}

/** Runs `fn` with the revision's committed snapshot directory, holding a lease so GC leaves it be. */
async function withSnapshotDir<T>(rt: NodeRuntime, revision: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const lease = await rt.snapshots.acquire(revision);
  if (!lease) throw new Error(`revision ${revision} has no snapshot for the raw runsc peer`);
  try {
    return await fn(lease.dir);
  } finally {
    lease.release();
  }
}

function rawPeerResult(ours: Sample[], raw: RawRestoreSample[]): RawPeerResult {
  const addInstance = summarize(ours.map((s) => (s.stages.AddInstance ?? 0) / 1000));
  const rawRestore = summarize(raw.map((r) => r.restoreMs));
  const total = summarize(ours.map((s) => s.ms));
  const rawFirst = summarize(raw.map((r) => r.firstAnswerMs));
  const overhead = addInstance.p50 - rawRestore.p50;
  return {
    iterations: ours.length,
    ours: { totalMs: pick(total), addInstanceMs: pick(addInstance), loadVmmMs: pick(summarize(ours.map((s) => (s.stages.LoadVMM ?? 0) / 1000))) },
    raw: { restoreMs: pick(rawRestore), firstAnswerMs: pick(rawFirst) },
    overheadMsP50: +overhead.toFixed(1),
    overheadToRawP50: +(overhead / rawRestore.p50).toFixed(3),
    firstAnswerGapMsP50: +(total.p50 - rawFirst.p50).toFixed(1),
    outsideLoadVmmMsP50: +summarize(ours.map((s) => ((s.stages.AddInstance ?? 0) - (s.stages.LoadVMM ?? 0)) / 1000)).p50.toFixed(1),
    stages: stageMeans(ours),
  };
}

/** Set inside the nested-KVM machine, where the bench measures Firecracker on that machine's KVM. */
const INSIDE_NESTED = "VHIVE_COLDSTART_INSIDE_NESTED";
const REPO = fileURLToPath(new URL("..", import.meta.url));

type BenchOutput = { result: SandboxResult; csvRows: { funcName: string; samples: StageDurations[] }[] };

/**
 * Firecracker's entry measured inside the nested-KVM machine: this same bench runs there on the
 * machine's KVM, writes its entry into the job directory, and the entry comes back marked nested.
 */
async function benchFirecrackerNested(iterations: number): Promise<BenchOutput> {
  const bin = path.resolve(process.env.FIRECRACKER_BIN!);
  const kernel = path.resolve(process.env.FIRECRACKER_KERNEL!);
  const hello = await ensureHelloworldImage();
  const imageCache = path.dirname(path.dirname(hello.layoutDir));
  const env = { FIRECRACKER_BIN: bin, FIRECRACKER_KERNEL: kernel, VHIMG_CACHE_DIR: imageCache, [INSIDE_NESTED]: "1" };
  const script = [
    "set -e",
    `cd ${shellQuote(REPO)}`,
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `node node_modules/tsx/dist/cli.mjs bench/coldstart.ts --sandboxes firecracker --iterations ${iterations} --json-out /job/firecracker.json`,
  ].join("\n");
  process.stderr.write("coldstart: measuring Firecracker inside the nested-KVM machine (slow: its CPU is emulated)\n");
  const run = await runInNestedMachine({
    script,
    shares: [...new Set([REPO, path.dirname(bin), path.dirname(kernel), imageCache])],
    memoryMiB: 6144,
    cpus: 2,
    timeoutMs: 60 * 60_000,
  });
  try {
    const out = path.join(run.jobDir, "firecracker.json");
    if (run.exitCode !== 0) throw new Error(`the nested run failed (exit ${run.exitCode}, timed out: ${run.timedOut}):\n${run.output.slice(-3000)}`);
    const parsed = JSON.parse(await readFile(out, "utf8")) as BenchOutput[];
    return parsed[0]!;
  } finally {
    removeJobDir(run);
  }
}

async function benchSandbox(
  kind: SandboxKind,
  iterations: number,
  bar: cliProgress.SingleBar | undefined,
): Promise<{ result: SandboxResult; csvRows: { funcName: string; samples: StageDurations[] }[] }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `vhor-bench-${kind}-`));
  // containerd runs as a private daemon for the benchmark, never the host's.
  const containerd = kind === "containerd" ? await startContainerd() : undefined;
  const config = parseRuntimeConfig({
    sandbox: kind,
    dataDir,
    snapshotMode: "vanilla",
    diskBudget: "8GiB",
    logLevel: "warn",
    snapshotChecksums: "commit",
    gvisorBaseDir: path.join(dataDir, "gv"),
    ...(containerd ? { containerdAddress: containerd.address, containerdNamespace: "vhor-bench" } : {}),
  });
  let rt: NodeRuntime | undefined;
  try {
    rt = await createNodeRuntime(config, { logger: pino({ level: "warn" }, pino.destination(2)) });
    const img = await ensureHelloworldImage();
    IMAGE_REF = (await rt.images.loadOciLayout(img.layoutDir, img.ref)).digest;
    const driverSnapshots = kind !== "containerd";
    // Warm-up: the first start of an image unpacks its rootfs; that is image preparation, not a cold start.
    await rt.orchestrator.start({ revision: `warm-${kind}`, image: IMAGE_REF, instanceId: `warm-${kind}`, snapshotMode: "off" });
    await rt.orchestrator.stop(`warm-${kind}`);

    let dropped = true;
    const boots: Sample[] = [];
    for (let i = 0; i < iterations; i++) {
      dropped = (await dropPageCache()) && dropped;
      const s = await coldStart(rt, `boot-${kind}`, `boot-${kind}-${i}`, "off");
      await rt.orchestrator.stop(`boot-${kind}-${i}`);
      boots.push(s);
      bar?.increment(1, { phase: `${kind} boot` });
    }
    const restores: Sample[] = [];
    let rawRunsc: SandboxResult["rawRunsc"];
    let snapshotBytes: number | null = null;
    if (driverSnapshots) {
      const revision = `snap-${kind}`;
      await coldStart(rt, revision, `${revision}-first`, "vanilla");
      const stopped = await rt.orchestrator.stop(`${revision}-first`);
      if (stopped.snapshot !== "taken") throw new Error(`${kind}: snapshot on teardown was not taken (${stopped.snapshot} ${stopped.snapshotError ?? ""})`);
      snapshotBytes = (await rt.snapshots.list()).find((s) => s.revision === revision)?.sizeBytes ?? null;
      const raw =
        kind === "gvisor"
          ? new RawRunscRestorer({ config, images: rt.images, imageDigest: IMAGE_REF, port: await helloworldPort(), workDir: path.join(dataDir, "raw") })
          : undefined;
      const loadAtStart = await loadAverage();
      const peer = { cold: { ours: [] as Sample[], raw: [] as RawRestoreSample[] }, warm: { ours: [] as Sample[], raw: [] as RawRestoreSample[] } };
      for (const condition of raw ? (["cold", "warm"] as const) : (["cold"] as const)) {
        for (let i = 0; i < iterations; i++) {
          if (condition === "cold") dropped = (await dropPageCache()) && dropped;
          const id = `${revision}-${condition}-${i}`;
          const s = await coldStart(rt, revision, id, "vanilla");
          if (s.startKind !== "restore") throw new Error(`${kind}: iteration ${i} booted instead of restoring`);
          await rt.orchestrator.stop(id);
          if (condition === "cold") restores.push(s);
          peer[condition].ours.push(s);
          bar?.increment(1, { phase: `${kind} restore${raw ? ` (${condition})` : ""}` });
          if (raw) {
            if (condition === "cold") await dropPageCache();
            peer[condition].raw.push(await withSnapshotDir(rt, revision, (dir) => raw.restoreOnce(dir)));
            bar?.increment(1, { phase: `raw runsc restore (${condition})` });
          }
        }
      }
      if (raw) {
        await raw.dispose();
        const cold = rawPeerResult(peer.cold.ours, peer.cold.raw);
        const warm = rawPeerResult(peer.warm.ours, peer.warm.raw);
        rawRunsc = {
          cold,
          warm,
          loadAtStart,
          goal: `overhead (AddInstance − raw runsc restore, p50) ≤ ${GOAL_OVERHEAD * 100}% of the raw restore: cold ${(cold.overheadToRawP50 * 100).toFixed(0)}% (${cold.overheadToRawP50 <= GOAL_OVERHEAD ? "met" : "NOT met"}), warm ${(warm.overheadToRawP50 * 100).toFixed(0)}% (${warm.overheadToRawP50 <= GOAL_OVERHEAD ? "met" : "NOT met"})`,
        };
      }
    }
    const reaps: Sample[] = [];
    if (kind === "firecracker") {
      // REAP: the first restore records the working set, the measured ones prefetch it.
      const revision = `reap-${kind}`;
      await coldStart(rt, revision, `${revision}-first`, "reap");
      await rt.orchestrator.stop(`${revision}-first`);
      await coldStart(rt, revision, `${revision}-record`, "reap");
      await rt.orchestrator.stop(`${revision}-record`);
      for (let i = 0; i < iterations; i++) {
        dropped = (await dropPageCache()) && dropped;
        const s = await coldStart(rt, revision, `${revision}-${i}`, "reap");
        if (s.startKind !== "restore") throw new Error(`${kind}: REAP iteration ${i} booted instead of restoring`);
        await rt.orchestrator.stop(`${revision}-${i}`);
        reaps.push(s);
        bar?.increment(1, { phase: `${kind} REAP` });
      }
    }
    const boot = summarize(boots.map((s) => s.ms));
    const restore = restores.length ? summarize(restores.map((s) => s.ms)) : undefined;
    const reap = reaps.length ? summarize(reaps.map((s) => s.ms)) : undefined;
    const ratio = restore ? restore.p50 / boot.p50 : null;
    const bootStages = stageMeans(boots);
    const restoreStages = restores.length ? stageMeans(restores) : null;
    const result: SandboxResult = {
      sandbox: kind,
      iterations,
      pageCacheDropped: dropped,
      bootMs: pick(boot),
      restoreMs: restore ? pick(restore) : null,
      stages: restoreStages ?? bootStages,
      bootStages,
      restoreStages,
      restoreToBootP50: ratio === null ? null : +ratio.toFixed(3),
      ...(kind === "firecracker"
        ? {
            reapMs: reap ? pick(reap) : null,
            reapStages: reaps.length ? stageMeans(reaps) : null,
            reapToBootP50: reap ? +(reap.p50 / boot.p50).toFixed(3) : null,
            kvm: process.env[INSIDE_NESTED] === "1" ? ("nested" as const) : ("host" as const),
          }
        : {}),
      load: await loadAverage(),
      runtime: runtimeVersion(kind),
      goal:
        kind === "gvisor" && ratio !== null && restore
          ? `restore p50 ≤ ${GOAL_RESTORE_MS} ms and ≤ ${GOAL_RATIO}× boot p50 (page cache dropped): ${restore.p50.toFixed(0)} ms, ${ratio.toFixed(2)}× — ${restore.p50 <= GOAL_RESTORE_MS && ratio <= GOAL_RATIO ? "met" : "NOT met"}`
          : null,
      rssMiB: {
        boot: meanOf(boots.map((s) => s.rssBytes)) === null ? null : +(meanOf(boots.map((s) => s.rssBytes))! / 2 ** 20).toFixed(1),
        restore: meanOf(restores.map((s) => s.rssBytes)) === null ? null : +(meanOf(restores.map((s) => s.rssBytes))! / 2 ** 20).toFixed(1),
      },
      snapshotBytes,
      ...(rawRunsc ? { rawRunsc } : {}),
    };
    const csvRows = [{ funcName: `helloworld/${kind}/boot`, samples: boots.map((s) => s.stages) }];
    if (restores.length) csvRows.push({ funcName: `helloworld/${kind}/restore`, samples: restores.map((s) => s.stages) });
    if (reaps.length) csvRows.push({ funcName: `helloworld/${kind}/reap`, samples: reaps.map((s) => s.stages) });
    return { result, csvRows };
  } finally {
    await rt?.close();
    await containerd?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function runColdStartBench(
  opts: { sandboxes?: SandboxKind[]; iterations?: number; progress?: boolean; kvm?: "host" | "nested"; jsonOut?: string } = {},
): Promise<SandboxResult[]> {
  const kvm = opts.kvm ?? (process.env[INSIDE_NESTED] !== "1" && nestedMachineUnavailable() === undefined ? "nested" : "host");
  const iterations = opts.iterations ?? 10;
  const candidates = await availableSandboxes(opts.sandboxes);
  for (const c of candidates.filter((c) => c.skip)) process.stderr.write(`coldstart: skipping ${c.kind}: ${c.skip}\n`);
  const kinds = candidates.filter((c) => !c.skip).map((c) => c.kind);
  if (!kinds.length) throw new Error("coldstart: no sandbox available to benchmark");
  const total = kinds.reduce((n, k) => n + iterations * (k === "containerd" ? 1 : k === "firecracker" ? 3 : 5), 0);
  const bar =
    opts.progress === false
      ? undefined
      : new cliProgress.SingleBar({ format: "cold starts [{bar}] {value}/{total} {phase}", stream: process.stderr }, cliProgress.Presets.shades_classic);
  bar?.start(total, 0, { phase: "preparing" });
  const results: SandboxResult[] = [];
  const csvRows: { funcName: string; samples: StageDurations[] }[] = [];
  try {
    for (const kind of kinds) {
      const r = kind === "firecracker" && kvm === "nested" ? await benchFirecrackerNested(iterations) : await benchSandbox(kind, iterations, bar);
      if (kind === "firecracker" && kvm === "nested") {
        r.result.kvm = "nested";
        r.result.hostLoad = await loadAverage();
      }
      results.push(r.result);
      csvRows.push(...r.csvRows);
    }
  } finally {
    bar?.stop();
  }
  if (opts.jsonOut !== undefined) {
    // The nested machine's run: its entries go back to the caller, never into the shared results.
    await writeFile(
      opts.jsonOut,
      JSON.stringify(results.map((result, i) => ({ result, csvRows: csvRows.filter((c) => c.funcName.startsWith(`helloworld/${kinds[i]}/`)) }))) + "\n",
    );
    return results;
  }
  await mkdir(RESULTS, { recursive: true });
  // A run of some sandboxes replaces their entries and keeps the others' (each carries its own load).
  const earlier = JSON.parse(await readFile(path.join(RESULTS, "coldstart.json"), "utf8").catch(() => "[]")) as SandboxResult[];
  const order: SandboxKind[] = ["gvisor", "containerd", "firecracker"];
  const merged = [...earlier.filter((e) => !kinds.includes(e.sandbox)), ...results].sort((x, y) => order.indexOf(x.sandbox) - order.indexOf(y.sandbox));
  await writeFile(path.join(RESULTS, "coldstart.json"), JSON.stringify(merged, null, 2) + "\n");
  await writeFile(path.join(RESULTS, "coldstart.csv"), vhiveCsv(csvRows));
  const bars = merged.flatMap((r) => {
    const name = r.kvm === "nested" ? `${r.sandbox} (nested KVM)` : r.sandbox;
    return [
      ...barsFor(`${name} boot`, r.bootStages),
      ...(r.restoreStages ? barsFor(`${name} restore`, r.restoreStages) : []),
      ...(r.reapStages ? barsFor(`${name} REAP`, r.reapStages) : []),
    ];
  });
  const chart = await renderStageChart(bars, `helloworld cold start, means (page cache dropped; Firecracker under nested KVM where marked)`);
  await writeFile(path.join(RESULTS, "coldstart.svg"), chart.svg);
  await writeFile(path.join(RESULTS, "coldstart.png"), chart.png);
  const gvisor = merged.find((r) => r.sandbox === "gvisor" && r.rawRunsc);
  if (gvisor?.rawRunsc) {
    const peerChart = await renderStageChart(
      rawPeerBars(gvisor.rawRunsc),
      "gVisor helloworld restore: node runtime vs raw runsc restore of the same checkpoint (means)",
    );
    await writeFile(path.join(RESULTS, "coldstart-gvisor-raw.svg"), peerChart.svg);
    await writeFile(path.join(RESULTS, "coldstart-gvisor-raw.png"), peerChart.png);
  }
  printTable(merged);
  return results;
}

/** Our restore's stages next to raw runsc's two parts, both conditions. */
function rawPeerBars(peer: NonNullable<SandboxResult["rawRunsc"]>): StageBar[] {
  const bars: StageBar[] = [];
  for (const condition of ["cold", "warm"] as const) {
    const r = peer[condition];
    const label = condition === "cold" ? "page cache dropped" : "page cache";
    bars.push(...barsFor(`ours, ${label}`, r.stages));
    bars.push({ group: `raw runsc, ${label}`, stage: "runsc restore", meanUs: Math.round(r.raw.restoreMs.mean * 1000) });
    bars.push({ group: `raw runsc, ${label}`, stage: "socket + first answer", meanUs: Math.round((r.raw.firstAnswerMs.mean - r.raw.restoreMs.mean) * 1000) });
  }
  return bars;
}

function printTable(results: SandboxResult[]): void {
  const rows = [["sandbox", "boot p50 ms", "boot p99 ms", "restore p50 ms", "restore p99 ms", "restore/boot p50", "REAP p50 ms", "REAP/boot p50"]];
  for (const r of results) {
    rows.push([
      r.kvm === "nested" ? `${r.sandbox} (nested KVM)` : r.sandbox,
      r.bootMs.p50.toFixed(1),
      r.bootMs.p99.toFixed(1),
      r.restoreMs ? r.restoreMs.p50.toFixed(1) : "-",
      r.restoreMs ? r.restoreMs.p99.toFixed(1) : "-",
      r.restoreToBootP50 === null ? "- (no snapshots)" : r.restoreToBootP50.toFixed(2),
      r.reapMs ? r.reapMs.p50.toFixed(1) : "-",
      r.reapToBootP50 == null ? "-" : r.reapToBootP50.toFixed(2),
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i]!)).join("  "));
  for (const r of results) if (r.goal) console.log(`${r.sandbox}: ${r.goal}`);
  for (const r of results) {
    if (!r.rawRunsc) continue;
    const peerRows = [
      [
        "gVisor restore p50 (ms)",
        "ours AddInstance",
        "ours LoadVMM",
        "raw runsc restore",
        "overhead",
        "overhead/raw",
        "AddInstance−LoadVMM",
        "ours to 1st answer",
        "raw to 1st answer",
      ],
    ];
    for (const condition of ["cold", "warm"] as const) {
      const p = r.rawRunsc[condition];
      peerRows.push([
        condition === "cold" ? "page cache dropped" : "from the page cache",
        p.ours.addInstanceMs.p50.toFixed(1),
        p.ours.loadVmmMs.p50.toFixed(1),
        p.raw.restoreMs.p50.toFixed(1),
        p.overheadMsP50.toFixed(1),
        p.overheadToRawP50.toFixed(2),
        p.outsideLoadVmmMsP50.toFixed(1),
        p.ours.totalMs.p50.toFixed(1),
        p.raw.firstAnswerMs.p50.toFixed(1),
      ]);
    }
    const pw = peerRows[0]!.map((_, i) => Math.max(...peerRows.map((row) => row[i]!.length)));
    for (const row of peerRows) console.log(row.map((c, i) => c.padEnd(pw[i]!)).join("  "));
    console.log(`gvisor: ${r.rawRunsc.goal} (load at start ${r.rawRunsc.loadAtStart.join(" ")}, at end ${r.load.join(" ")})`);
  }
}

/** `node-runtime bench` and `npm run bench:coldstart`. */
export async function benchCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { sandboxes: { type: "string" }, iterations: { type: "string" }, kvm: { type: "string" }, "json-out": { type: "string" } },
  });
  if (values.kvm !== undefined && values.kvm !== "host" && values.kvm !== "nested") throw new Error(`--kvm: expected host or nested, got ${values.kvm}`);
  const iterations = values.iterations === undefined ? Number(process.env.COLDSTART_ITERATIONS ?? 10) : Number(values.iterations);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations: expected a positive integer, got ${values.iterations}`);
  const sandboxes = values.sandboxes?.split(",").map((s) => s.trim()) as SandboxKind[] | undefined;
  await runColdStartBench({
    sandboxes,
    iterations,
    ...(values.kvm ? { kvm: values.kvm as "host" | "nested" } : {}),
    ...(values["json-out"] ? { jsonOut: values["json-out"], progress: false } : {}),
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchCommand(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`coldstart: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
