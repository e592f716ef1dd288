// A trace replay: sample functions, build the schedule, send it open loop (the invoker's sender),
// and write one row per invocation, per-minute counts with cold starts, a summary and plots.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import cliProgress from "cli-progress";
import { percentiles, rounded } from "../common/stats.js";
import { runSendLoop } from "../invoker/send-loop.js";
import type { TraceFunction } from "../trace/azure-trace.js";
import { encodeTraceRequest, parseTraceReply } from "../trace-func/protocol.js";
import type { ColdStarts, LoaderBackend } from "./backends.js";
import { drawLoaderPlots } from "./plots.js";
import { buildSchedule, lastActiveMinute, sampleFunctions, type InterArrival } from "./schedule.js";

export interface LoaderOptions {
  trace: TraceFunction[];
  backend: LoaderBackend;
  functions: number;
  seed: number;
  /** Minutes to replay (default: up to the sampled functions' last active minute). */
  minutes?: number;
  /** The first minutes replayed but left out of the summary (rows say warmup=1). */
  warmupMinutes?: number;
  minuteSeconds: number;
  interArrival: InterArrival;
  deadlineMs: number;
  maxDurationMs?: number;
  maxMemoryMiB?: number;
  outDir?: string;
  plots?: boolean;
  progress?: boolean;
}

export interface InvocationRow {
  function: number;
  hashFunction: string;
  minute: number;
  warmup: boolean;
  scheduledUs: number;
  startUs: number;
  responseUs: number;
  connectionUs: number;
  requestedDurationMs: number;
  actualDurationUs: number | null;
  requestedMemoryMiB: number;
  actualMemoryMiB: number | null;
  coldStart: boolean | null;
  timeout: boolean;
  failed: boolean;
  code: string;
}

export interface MinuteRow {
  minute: number;
  warmup: boolean;
  scheduled: number;
  completed: number;
  failed: number;
  timeouts: number;
  coldStarts: number | null;
  coldStartsBoot: number | null;
  coldStartsRestore: number | null;
}

type Stats = Record<"n" | "mean" | "min" | "p50" | "p90" | "p99" | "p999" | "max", number | null>;

export interface LoaderSummary {
  backend: string;
  functions: { index: number; hashFunction: string; trigger: string; target: string; invocations: number }[];
  eligibleFunctions: number;
  skippedFunctions: Record<string, number>;
  minutes: number;
  warmupMinutes: number;
  minuteSeconds: number;
  interArrival: InterArrival;
  seed: number;
  scheduled: number;
  completed: number;
  failed: number;
  timeouts: number;
  errorsByCode: Record<string, number>;
  responseMs: Stats;
  /** Reported by the function minus requested, for successful trace-function replies (ms). */
  durationErrorMs: Stats | null;
  scheduleErrorMs: Record<"p50" | "p99" | "max", number | null>;
  coldStarts: ColdStarts | null;
  files: Record<string, string>;
}

export const INVOCATION_HEADER =
  "function,hash_function,minute,warmup,scheduled_us,start_us,response_us,connection_us,requested_duration_ms,actual_duration_us,requested_memory_mib,actual_memory_mib,cold_start,timeout,failed,code";

const b = (v: boolean | null) => (v === null ? "" : v ? "1" : "0");
export function invocationCsvLine(r: InvocationRow): string {
  return [
    r.function,
    r.hashFunction,
    r.minute,
    b(r.warmup),
    Math.round(r.scheduledUs),
    Math.round(r.startUs),
    Math.round(r.responseUs),
    Math.round(r.connectionUs),
    r.requestedDurationMs,
    r.actualDurationUs ?? "",
    r.requestedMemoryMiB,
    r.actualMemoryMiB ?? "",
    b(r.coldStart),
    b(r.timeout),
    b(r.failed),
    r.code,
  ].join(",");
}

export async function runLoader(opts: LoaderOptions): Promise<{ summary: LoaderSummary; rows: InvocationRow[]; minutes: MinuteRow[] }> {
  const probeMinutes = opts.minutes ?? Math.max(...opts.trace.map((f) => f.perMinute.length));
  const { sampled, eligible, skipped } = sampleFunctions(opts.trace, { count: opts.functions, seed: opts.seed, minutes: probeMinutes });
  const minutes = opts.minutes ?? lastActiveMinute(sampled);
  const warmupMinutes = opts.warmupMinutes ?? 0;
  if (warmupMinutes >= minutes) throw new Error(`warm-up minutes (${warmupMinutes}) must be fewer than the minutes replayed (${minutes})`);
  const schedule = buildSchedule(sampled, {
    minutes,
    minuteSeconds: opts.minuteSeconds,
    interArrival: opts.interArrival,
    seed: opts.seed,
    maxDurationMs: opts.maxDurationMs,
    maxMemoryMiB: opts.maxMemoryMiB,
  });
  const labels = await opts.backend.prepare(sampled);

  const n = schedule.length;
  const offsets = Float64Array.from(schedule, (s) => s.offsetNs);
  const rows = new Array<InvocationRow>(n);
  const payloads = schedule.map((s) => encodeTraceRequest({ durationMs: s.durationMs, memoryMiB: s.memoryMiB }));
  const startNs = process.hrtime.bigint() + 20_000_000n;
  const runStartWallMs = Date.now() + 20;
  let inFlight = 0,
    doneCount = 0;
  let settled: (() => void) | undefined;
  const bar =
    (opts.progress ?? (opts.minuteSeconds * minutes >= 10 && process.stderr.isTTY === true))
      ? new cliProgress.SingleBar(
          { format: "replay [{bar}] {value}/{total} invocations, minute {minute}/{minutes}", stream: process.stderr },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(n, 0, { minute: 0, minutes });

  await runSendLoop({
    startNs,
    offsetsNs: offsets,
    fire: (i, sentNs) => {
      inFlight++;
      const s = schedule[i]!;
      opts.backend.invoke(s.fn, payloads[i]!, opts.deadlineMs, (o) => {
        const doneNs = Number(process.hrtime.bigint() - startNs);
        const reply = o.failure ? undefined : parseTraceReply(o.reply);
        rows[i] = {
          function: s.fn,
          hashFunction: sampled[s.fn]!.function,
          minute: s.minute,
          warmup: s.minute < warmupMinutes,
          scheduledUs: s.offsetNs / 1e3,
          startUs: sentNs / 1e3,
          responseUs: (doneNs - sentNs) / 1e3,
          connectionUs: o.connectUs,
          requestedDurationMs: s.durationMs,
          actualDurationUs: reply ? reply.durationUs : null,
          requestedMemoryMiB: s.memoryMiB,
          actualMemoryMiB: reply ? reply.memoryMiB : null,
          coldStart: o.coldStart,
          timeout: o.failure?.code === "DEADLINE_EXCEEDED",
          failed: o.failure !== null,
          code: o.failure?.code ?? "OK",
        };
        doneCount++;
        if (--inFlight === 0) settled?.();
      });
    },
    onProgress: bar ? (sent) => bar.update(doneCount, { minute: schedule[Math.max(0, sent - 1)]?.minute ?? 0 }) : undefined,
  });
  if (inFlight > 0) await new Promise<void>((resolve) => (settled = resolve));
  bar?.stop();

  const minuteMs = opts.minuteSeconds * 1000;
  const coldStarts = await opts.backend.coldStarts(runStartWallMs, minuteMs, minutes);
  const perMinute: MinuteRow[] = Array.from({ length: minutes }, (_, m) => {
    const c = coldStarts?.perMinute[m];
    return {
      minute: m,
      warmup: m < warmupMinutes,
      scheduled: 0,
      completed: 0,
      failed: 0,
      timeouts: 0,
      coldStarts: c ? c.boot + c.restore : null,
      coldStartsBoot: c ? c.boot : null,
      coldStartsRestore: c ? c.restore : null,
    };
  });
  const errorsByCode: Record<string, number> = {};
  const resp: number[] = [],
    durErr: number[] = [],
    sched: number[] = [];
  for (const r of rows) {
    const m = perMinute[r.minute]!;
    m.scheduled++;
    if (r.failed) m.failed++;
    else m.completed++;
    if (r.timeout) m.timeouts++;
    sched.push((r.startUs - r.scheduledUs) / 1e3);
    if (r.warmup) continue;
    if (r.failed) errorsByCode[r.code] = (errorsByCode[r.code] ?? 0) + 1;
    else {
      resp.push(r.responseUs / 1e3);
      if (r.actualDurationUs !== null) durErr.push(r.actualDurationUs / 1e3 - r.requestedDurationMs);
    }
  }
  const measured = rows.filter((r) => !r.warmup);
  const p = percentiles(sched);
  const summary: LoaderSummary = {
    backend: opts.backend.kind,
    functions: sampled.map((f, i) => ({
      index: i,
      hashFunction: f.function,
      trigger: f.trigger,
      target: labels[i]!,
      invocations: f.perMinute.slice(0, minutes).reduce((a, c) => a + c, 0),
    })),
    eligibleFunctions: eligible,
    skippedFunctions: skipped,
    minutes,
    warmupMinutes,
    minuteSeconds: opts.minuteSeconds,
    interArrival: opts.interArrival,
    seed: opts.seed,
    scheduled: measured.length,
    completed: measured.filter((r) => !r.failed).length,
    failed: measured.filter((r) => r.failed).length,
    timeouts: measured.filter((r) => r.timeout).length,
    errorsByCode,
    responseMs: rounded(percentiles(resp), 3),
    durationErrorMs: durErr.length ? rounded(percentiles(durErr), 3) : null,
    scheduleErrorMs: rounded({ p50: p.p50, p99: p.p99, max: p.max }, 3),
    coldStarts,
    files: {},
  };
  if (opts.outDir) {
    await mkdir(opts.outDir, { recursive: true });
    const f = (name: string) => path.join(opts.outDir!, name);
    await writeFile(f("loader-invocations.csv"), [INVOCATION_HEADER, ...rows.map(invocationCsvLine)].join("\n") + "\n");
    await writeFile(
      f("loader-minutes.csv"),
      [
        "minute,warmup,scheduled,completed,failed,timeouts,cold_starts,cold_starts_boot,cold_starts_restore",
        ...perMinute.map((m) =>
          [m.minute, b(m.warmup), m.scheduled, m.completed, m.failed, m.timeouts, m.coldStarts ?? "", m.coldStartsBoot ?? "", m.coldStartsRestore ?? ""].join(
            ",",
          ),
        ),
      ].join("\n") + "\n",
    );
    summary.files = { invocations: f("loader-invocations.csv"), minutes: f("loader-minutes.csv"), summary: f("loader-summary.json") };
    if (opts.plots !== false) summary.files.plots = (await drawLoaderPlots(rows, perMinute, f("loader"))).join(",");
    await writeFile(f("loader-summary.json"), JSON.stringify(summary, null, 2) + "\n");
  }
  return { summary, rows, minutes: perMinute };
}
