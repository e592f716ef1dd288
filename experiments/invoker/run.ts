// One invoker run: warm-up then the measured window at a target rate, open loop, round-robin over
// the targets; afterwards the vSwarm-compatible latency file, failures apart, a JSON summary, plots.
import { mkdir, writeFile } from "node:fs/promises";
import { getPriority, setPriority } from "node:os";
import path from "node:path";
import cliProgress from "cli-progress";
import { percentiles, rounded } from "../common/stats.js";
import { describeFailure, PreflightError, type Target } from "../targets/target.js";
import { arrivalOffsetsNs, type ArrivalDistribution } from "./arrivals.js";
import { drawInvokerPlots } from "./plots.js";
import { gcOverlaps, recordGcPauses, type GcPauses } from "./gc-pauses.js";
import { runSendLoop, type WakeMode } from "./send-loop.js";
import { MAX_SENDERS, senderGcFlags, sendInWorkers } from "./sender-worker.js";
import { hasSpec } from "../targets/target-spec.js";
import type { PriorityOutcome, PriorityRequest } from "./thread-priority.js";
import { vswarmLatencyCsv, vswarmLatencyFileName } from "./vswarm-format.js";

export interface InvokerOptions {
  targets: Target[];
  rps: number;
  durationS: number;
  warmupS: number;
  distribution: ArrivalDistribution;
  seed: number;
  deadlineMs: number;
  /** What is sent: the Greeter's `name`, or the HTTP body. */
  payload: string;
  /** Output directory; nothing is written when undefined. */
  outDir?: string;
  /** vSwarm's -latf: the latency file is rps<X>_<latf>. */
  latf?: string;
  plots?: boolean;
  preflight?: boolean;
  /** Show a progress bar (default: runs of 10 s or more on a terminal). */
  progress?: boolean;
  /**
   * Where requests are sent from: "thread" (default when every target can be made again from its
   * spec): sender threads of its own (sender-worker.ts; `senders`); "loop": this thread's event loop.
   */
  sender?: "thread" | "loop";
  /**
   * With sender "thread": how many sender threads share the schedule (request i from thread i mod
   * n), each with its own connections; default DEFAULT_SENDERS (sender-worker.ts). A GC pause of one thread then delays
   * only its own share of the sends.
   */
  senders?: number;
  /** A nice value for the sending threads (negative raises it; needs CAP_SYS_NICE). */
  senderNice?: number;
  /** SCHED_FIFO at this priority (1-99) for the sender threads (sender "thread" only; needs CAP_SYS_NICE). */
  senderRealtime?: number;
  /** How the sending loop wakes up for due times (see send-loop.ts); default "timer". */
  wake?: WakeMode;
  /** Free-form description of the run, copied into the summary (protocol, connection mode, …). */
  describe?: Record<string, unknown>;
}

export interface InvokerSummary {
  target: { rps: number; distribution: ArrivalDistribution; seed: number; durationS: number; warmupS: number; deadlineMs: number; targets: string[] } & Record<
    string,
    unknown
  >;
  /** Requests due in the measured window. */
  issued: number;
  completed: number;
  failed: number;
  /** completed ÷ measured time (vSwarm's real RPS). */
  achievedRps: number;
  /** achievedRps ÷ target rate. */
  achievedRatio: number;
  /** Seconds the measured window lasted: its length, or longer when its last response came later. */
  measuredS: number;
  latencyMs: {
    n: number | null;
    mean: number | null;
    min: number | null;
    p50: number | null;
    p90: number | null;
    p99: number | null;
    p999: number | null;
    max: number | null;
  };
  errorsByCode: Record<string, number>;
  /** One message (with a hint) per error code. */
  errorExamples: Record<string, string>;
  /** How late the measured window's requests went out relative to their due times. */
  scheduleErrorMs: { p50: number | null; p99: number | null; p999: number | null; max: number | null };
  /** Where the sends ran and what delayed them (measured window). */
  sender: {
    mode: "thread" | "loop";
    /** Sender threads (1 with mode "loop"). */
    threads: number;
    /** How the send loop woke for due times, and why not as asked. */
    wake: WakeMode;
    wakeFallback?: string;
    /** The sender threads' V8 collector flags (see sender-worker.ts). */
    gcFlags?: string[];
    priority: PriorityOutcome | null;
    /** Sends more than 1 ms late, and how many of them a GC pause of the sending thread overlapped. */
    lateOver1Ms: number;
    lateOver1MsDuringGc: number;
    /** GC pauses of the sending threads during the whole run (warm-up included), all threads together. */
    gcPauses: { count: number; minor: number; totalMs: number; maxMs: number };
    /** Times the kernel took a core from this process during the run (other work wanted it). */
    involuntaryContextSwitches: number;
  };
  warmup: { issued: number; completed: number; failed: number };
  files: Record<string, string>;
}

/** Per-request records of a run, ns from the run's start. */
export interface RunRecords {
  dueNs: Float64Array;
  sentNs: Float64Array;
  doneNs: Float64Array;
  /** Index into `codes` (0 = OK), -1 while in flight. */
  code: Int16Array;
  codes: string[];
  warmupCount: number;
}

export class InvokerError extends Error {
  override name = "InvokerError";
}

export async function runInvoker(opts: InvokerOptions): Promise<{ summary: InvokerSummary; records: RunRecords }> {
  if (opts.targets.length === 0) throw new InvokerError("no targets to invoke");
  if (!(opts.warmupS >= 0)) throw new InvokerError(`warm-up: expected seconds ≥ 0, got ${opts.warmupS}`);
  if (!(opts.deadlineMs > 0)) throw new InvokerError(`deadline: expected milliseconds > 0, got ${opts.deadlineMs}`);
  if (opts.senders !== undefined && !(Number.isInteger(opts.senders) && opts.senders >= 1 && opts.senders <= MAX_SENDERS))
    throw new InvokerError(`senders: expected a whole number from 1 to ${MAX_SENDERS}, got ${opts.senders}`);
  if (opts.senderNice !== undefined && opts.senderRealtime !== undefined)
    throw new InvokerError("senderNice and senderRealtime: give one (a real-time thread has no nice value)");
  const useThread = (opts.sender ?? "thread") === "thread" && opts.targets.every(hasSpec);
  if (!useThread && opts.senderRealtime !== undefined)
    throw new InvokerError(
      `senderRealtime: only sender threads run real-time, and ${opts.sender === "loop" ? 'sender is "loop"' : "a target cannot be made again in a thread (it has no spec)"}`,
    );

  if (opts.preflight !== false) {
    for (const t of opts.targets) {
      try {
        await t.preflight(opts.payload, opts.deadlineMs);
      } catch (err) {
        if (err instanceof PreflightError) throw new InvokerError(`endpoint unreachable before the run: ${describeFailure(t, err.failure)}`);
        throw err;
      }
    }
  }

  const warmNs = opts.warmupS * 1e9;
  const warm =
    opts.warmupS > 0
      ? arrivalOffsetsNs({ rps: opts.rps, durationS: opts.warmupS, distribution: opts.distribution, seed: opts.seed ^ 0x5eed })
      : new Float64Array(0);
  const measured = arrivalOffsetsNs({ rps: opts.rps, durationS: opts.durationS, distribution: opts.distribution, seed: opts.seed });
  const n = warm.length + measured.length;
  const dueNs = new Float64Array(n);
  dueNs.set(warm, 0);
  for (let i = 0; i < measured.length; i++) dueNs[warm.length + i] = measured[i]! + warmNs;

  const doneNs = new Float64Array(n);
  const code = new Int16Array(n).fill(-1);
  const codes = ["OK"];
  const codeIndex = new Map<string, number>([["OK", 0]]);
  const examples = new Map<string, string>();
  let inFlight = 0;
  let settled: (() => void) | undefined;
  const startNs = process.hrtime.bigint() + 5_000_000n;

  const showBar = opts.progress ?? (opts.durationS + opts.warmupS >= 10 && process.stderr.isTTY === true);
  const bar = showBar
    ? new cliProgress.SingleBar(
        { format: "invoke [{bar}] {value}/{total} sent, {inflight} in flight, {failed} failed", stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let failedSoFar = 0;
  bar?.start(n, 0, { inflight: 0, failed: 0 });

  const targets = opts.targets;
  const senderPriority: PriorityRequest | undefined =
    opts.senderRealtime !== undefined ? { realtime: opts.senderRealtime } : opts.senderNice !== undefined ? { nice: opts.senderNice } : undefined;
  const switchesBefore = process.resourceUsage().involuntaryContextSwitches;
  let sentNs: Float64Array;
  let wake: WakeMode;
  let wakeFallback: string | undefined;
  let gcByThread: GcPauses[];
  let priority: InvokerSummary["sender"]["priority"] = null;
  let restorePriority: (() => void) | undefined;
  try {
    if (useThread) {
      const r = await sendInWorkers({
        targets: targets.filter(hasSpec),
        payload: opts.payload,
        deadlineMs: opts.deadlineMs,
        startLeadNs: 5_000_000,
        dueNs,
        ...(opts.senders !== undefined ? { senders: opts.senders } : {}),
        ...(opts.wake ? { wake: opts.wake } : {}),
        ...(senderPriority ? { priority: senderPriority } : {}),
        onProgress: bar ? (sent, settledCount, failed) => bar.update(sent, { inflight: sent - settledCount, failed }) : undefined,
      });
      ({ sentNs, gcByThread, priority, wake, wakeFallback } = r);
      doneNs.set(r.doneNs);
      code.set(r.code);
      codes.splice(0, codes.length, ...r.codes);
      for (const [c, m] of Object.entries(r.examples)) examples.set(c, m);
    } else {
      if (opts.senderNice !== undefined) {
        try {
          // This thread goes on after the run (a library caller's): its priority is put back after.
          const before = getPriority();
          restorePriority = () => setPriority(before);
          setPriority(opts.senderNice);
          priority = { nice: opts.senderNice };
        } catch (err) {
          priority = { error: (err as Error).message };
        }
      }
      const fire = (i: number) => {
        inFlight++;
        targets[i % targets.length]!.invoke(opts.payload, opts.deadlineMs, (failure) => {
          doneNs[i] = Number(process.hrtime.bigint() - startNs);
          if (failure) {
            let c = codeIndex.get(failure.code);
            if (c === undefined) {
              c = codes.push(failure.code) - 1;
              codeIndex.set(failure.code, c);
              examples.set(failure.code, describeFailure(targets[i % targets.length]!, failure));
            }
            code[i] = c;
            failedSoFar++;
          } else code[i] = 0;
          if (--inFlight === 0) settled?.();
        });
      };
      const stopGc = recordGcPauses(startNs);
      ({ sentNs, wake, wakeFallback } = await runSendLoop({
        startNs,
        wake: opts.wake,
        offsetsNs: dueNs,
        fire,
        onProgress: bar ? (sent) => bar.update(sent, { inflight: inFlight, failed: failedSoFar }) : undefined,
      }));
      if (inFlight > 0) await new Promise<void>((resolve) => (settled = resolve));
      gcByThread = [stopGc()];
    }
  } finally {
    bar?.stop();
    try {
      restorePriority?.();
    } catch {
      // Raising it back to a higher priority than now may need CAP_SYS_NICE; it stays lowered.
    }
  }
  const senderInfo = {
    mode: useThread ? ("thread" as const) : ("loop" as const),
    gcByThread,
    wake,
    wakeFallback,
    ...(useThread ? { gcFlags: senderGcFlags() } : {}),
    priority,
    involuntaryContextSwitches: process.resourceUsage().involuntaryContextSwitches - switchesBefore,
  };

  const records: RunRecords = { dueNs, sentNs, doneNs, code, codes, warmupCount: warm.length };
  const summary = summarize(opts, records, examples, warmNs, senderInfo);
  if (opts.outDir) await writeOutputs(opts, summary, records, warmNs);
  return { summary, records };
}

interface SenderInfo {
  mode: "thread" | "loop";
  wake: WakeMode;
  wakeFallback: string | undefined;
  gcFlags?: string[];
  priority: InvokerSummary["sender"]["priority"];
  /** Each sending thread's GC pauses; request i went out from thread i mod their number. */
  gcByThread: GcPauses[];
  involuntaryContextSwitches: number;
}

function summarize(opts: InvokerOptions, r: RunRecords, examples: Map<string, string>, warmNs: number, sender: SenderInfo): InvokerSummary {
  const n = r.dueNs.length;
  const lat: number[] = [];
  const errorsByCode: Record<string, number> = {};
  let lastDone = warmNs + opts.durationS * 1e9;
  let wIssued = 0,
    wDone = 0,
    wFailed = 0;
  const sched: number[] = [];
  let late = 0,
    lateInGc = 0;
  for (let i = 0; i < n; i++) {
    const ok = r.code[i] === 0;
    if (i < r.warmupCount) {
      wIssued++;
      if (ok) wDone++;
      else wFailed++;
      continue;
    }
    const lateMs = (r.sentNs[i]! - r.dueNs[i]!) / 1e6;
    sched.push(lateMs);
    if (lateMs > 1) {
      late++;
      if (gcOverlaps(sender.gcByThread[i % sender.gcByThread.length]!, r.dueNs[i]!, r.sentNs[i]!)) lateInGc++;
    }
    if (ok) {
      lat.push((r.doneNs[i]! - r.sentNs[i]!) / 1e6);
      if (r.doneNs[i]! > lastDone) lastDone = r.doneNs[i]!;
    } else {
      const c = r.codes[r.code[i]!] ?? "UNKNOWN";
      errorsByCode[c] = (errorsByCode[c] ?? 0) + 1;
    }
  }
  const measuredS = (lastDone - warmNs) / 1e9;
  const completed = lat.length;
  const issued = n - r.warmupCount;
  const s = percentiles(sched);
  const achievedRps = completed / measuredS;
  return {
    target: {
      rps: opts.rps,
      distribution: opts.distribution,
      seed: opts.seed,
      durationS: opts.durationS,
      warmupS: opts.warmupS,
      deadlineMs: opts.deadlineMs,
      targets: opts.targets.map((t) => t.label),
      ...opts.describe,
    },
    issued,
    completed,
    failed: issued - completed,
    achievedRps: Number(achievedRps.toFixed(3)),
    achievedRatio: Number((achievedRps / opts.rps).toFixed(5)),
    measuredS: Number(measuredS.toFixed(6)),
    latencyMs: rounded(percentiles(lat), 4),
    errorsByCode,
    errorExamples: Object.fromEntries(examples),
    scheduleErrorMs: rounded({ p50: s.p50, p99: s.p99, p999: s.p999, max: s.max }, 4),
    sender: {
      mode: sender.mode,
      threads: sender.gcByThread.length,
      wake: sender.wake,
      ...(sender.wakeFallback ? { wakeFallback: sender.wakeFallback } : {}),
      ...(sender.gcFlags ? { gcFlags: sender.gcFlags } : {}),
      priority: sender.priority,
      lateOver1Ms: late,
      lateOver1MsDuringGc: lateInGc,
      gcPauses: gcPauseTotals(sender.gcByThread),
      involuntaryContextSwitches: sender.involuntaryContextSwitches,
    },
    warmup: { issued: wIssued, completed: wDone, failed: wFailed },
    files: {},
  };
}

function gcPauseTotals(byThread: GcPauses[]): InvokerSummary["sender"]["gcPauses"] {
  let count = 0,
    minor = 0,
    totalNs = 0,
    maxNs = 0;
  for (const p of byThread) {
    count += p.startNs.length;
    minor += p.minor;
    p.endNs.forEach((e, k) => {
      totalNs += e - p.startNs[k]!;
      maxNs = Math.max(maxNs, e - p.startNs[k]!);
    });
  }
  return { count, minor, totalMs: Number((totalNs / 1e6).toFixed(3)), maxMs: Number((maxNs / 1e6).toFixed(3)) };
}

async function writeOutputs(opts: InvokerOptions, summary: InvokerSummary, r: RunRecords, warmNs: number): Promise<void> {
  const dir = opts.outDir!;
  await mkdir(dir, { recursive: true });
  // vSwarm's file: successes only (vSwarm also writes failed calls' latencies; those go apart here).
  const okUs: number[] = [];
  let failures = "code,latency_us,sent_us,target\n";
  for (let i = r.warmupCount; i < r.dueNs.length; i++) {
    const us = (r.doneNs[i]! - r.sentNs[i]!) / 1e3;
    if (r.code[i] === 0) okUs.push(us);
    else
      failures += `${r.codes[r.code[i]!]},${Math.trunc(us)},${Math.trunc((r.sentNs[i]! - warmNs) / 1e3)},${csvField(opts.targets[i % opts.targets.length]!.label)}\n`;
  }
  const latFile = path.join(dir, vswarmLatencyFileName(summary.completed / summary.measuredS, opts.latf ?? "lat.csv"));
  await writeFile(latFile, vswarmLatencyCsv(okUs));
  summary.files.latencies = latFile;
  const failFile = path.join(dir, "invoke-failures.csv");
  await writeFile(failFile, failures);
  summary.files.failures = failFile;
  if (opts.plots !== false) {
    const plots = await drawInvokerPlots(r, warmNs, opts.durationS, path.join(dir, "invoke"));
    summary.files.plots = plots.join(",");
  }
  const summaryFile = path.join(dir, "invoke-summary.json");
  summary.files.summary = summaryFile;
  await writeFile(summaryFile, JSON.stringify(summary, null, 2) + "\n");
}

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
