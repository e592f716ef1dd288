// The invoker's sends on threads of their own (sender-thread.ts), so that what else the process
// does (progress, statistics, outputs) never delays a due request, with a garbage collector set
// for short pauses (below), the schedule shared between them. Targets move by their spec
// (target-spec.ts): each thread makes its own connections.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import type { SpecifiedTarget } from "../targets/target-spec.js";
import type { GcPauses } from "./gc-pauses.js";
import type { SenderReady, SenderStart, SenderThreadData, SenderThreadResult } from "./sender-thread.js";
import type { WakeMode } from "./send-loop.js";
import type { PriorityRequest } from "./thread-priority.js";

/**
 * The sender threads' garbage collection, for the shortest pauses rather than the fewest. With the
 * timer wake-up (send-loop.ts) nearly all garbage is the requests' own, and most of it outlives a
 * scavenge (HTTP/2 streams and write requests are wrappers of native objects, kept until a full
 * collection), so a scavenge costs in proportion to the requests since the last one: small, frequent
 * scavenges in a 1 MiB semi-space. On two cores V8's parallel collector threads make each pause
 * longer, not shorter. Measured at 2,000 requests/s on this 2-core machine, quiet (schedule-error
 * p99, timer wake-up): 32 MiB, parallel: 6.6-7.3 ms; 1 MiB, parallel: 1.4-3.2 ms; 1 MiB, no parallel
 * scavenge: 0.88-2.9 ms; 2 MiB, `node --single-threaded-gc`: 1.3-1.5 ms; 1 MiB,
 * `--single-threaded-gc`: 0.82-0.94 ms in that A/B, 0.74-1.69 ms over bench:invoker's eight trials.
 * So the CLI (`npm run invoke`) starts node with
 * --single-threaded-gc; here the semi-space and no parallel scavenge are set, process-wide flags
 * read when an isolate is made, just before the thread is (the rest of single-threaded GC cannot be
 * switched on in a running process: V8 aborted). INVOKER_SEMI_SPACE_MB changes the size for experiments.
 */
const SEMI_SPACE_MB = Number(process.env.INVOKER_SEMI_SPACE_MB ?? 1);
if (!Number.isInteger(SEMI_SPACE_MB) || SEMI_SPACE_MB < 1 || SEMI_SPACE_MB > 1024) {
  throw new Error(`INVOKER_SEMI_SPACE_MB must be a whole number of MiB from 1 to 1024, got ${JSON.stringify(process.env.INVOKER_SEMI_SPACE_MB)}`);
}
const YOUNG_GENERATION_MB = Math.max(3, SEMI_SPACE_MB * 3);

/** The V8 flags the sender's collector runs with (for the summary). */
export function senderGcFlags(): string[] {
  const startup = process.execArgv.filter((a) => a === "--single-threaded-gc");
  return [...startup, `--min-semi-space-size=${SEMI_SPACE_MB}`, "--no-parallel-scavenge"];
}

export interface WorkerSendOptions {
  targets: SpecifiedTarget[];
  payload: string;
  deadlineMs: number;
  /** The schedule starts this long after every sender thread is ready, ns. */
  startLeadNs: number;
  dueNs: Float64Array;
  /** Sender threads; request i goes out from thread i mod senders (default DEFAULT_SENDERS). */
  senders?: number;
  wake?: WakeMode;
  priority?: PriorityRequest;
  /** Called every 100 ms with [sent, settled, failed]. */
  onProgress?: (sent: number, settled: number, failed: number) => void;
}

/** The threads' records merged into the whole schedule's order. */
export interface WorkerSendResult extends Omit<SenderThreadResult, "gc" | "priority"> {
  /** GC pauses of each sender thread; request i was sent by thread i mod gcByThread.length. */
  gcByThread: GcPauses[];
  /** What became of the priority request (the same in every thread). */
  priority: SenderThreadResult["priority"];
}

export const MAX_SENDERS = 16;

/**
 * Two threads by default: a GC pause in one delays only the requests due on it. At 2,000 requests/s on
 * this 2-core machine, quiet, eight trials each (schedule-error p99): one thread 0.62-2.98 ms (four
 * within 1 ms), two 0.43-1.21 ms (six within 1 ms); sends late in a GC pause fell from 65-86 to
 * 40-58 per 10,000. Three threads: 0.82-1.44 ms (more preemption between the threads). In two
 * bench:invoker runs: two threads 0.50-0.87 ms, one 0.76-1.63 ms. The price: one connection per
 * thread and endpoint, and latency p99 at 2,000 req/s 1.8-2.1 ms against 1.4-1.6 ms.
 */
export const DEFAULT_SENDERS = 2;

// Under tsx or vitest the thread's file is TypeScript: register tsx's loader in the thread first.
const ENTRY = new URL(import.meta.url.endsWith(".ts") ? "./sender-thread.ts" : "./sender-thread.js", import.meta.url).href;
const BOOT = `
const { workerData } = require("node:worker_threads");
(async () => {
  if (workerData.tsxApi) (await import(workerData.tsxApi)).register();
  await import(workerData.entry);
})().catch((err) => setImmediate(() => { throw err; }));
`;

/** tsx's ESM registration entry, found from this module (the thread's working directory may be anywhere). */
function tsxEsmApi(): string {
  const cjs = createRequire(import.meta.url).resolve("tsx/esm/api");
  return pathToFileURL(path.join(path.dirname(cjs), "index.mjs")).href;
}

export async function sendInWorkers(o: WorkerSendOptions): Promise<WorkerSendResult> {
  // Checked by runInvoker, its caller (1 to MAX_SENDERS).
  const k = o.senders ?? DEFAULT_SENDERS;
  const counters = new Int32Array(new SharedArrayBuffer(12 * k));
  // The flags are read when an isolate is made, so they are set just before the threads are.
  setFlagsFromString(`--min-semi-space-size=${SEMI_SPACE_MB}`);
  setFlagsFromString("--no-parallel-scavenge");
  const threads = Array.from({ length: k }, (_, j) => startThread(o, j, k, new Int32Array(counters.buffer, 12 * j, 3)));
  const sum = (c: number) => {
    let t = 0;
    for (let j = 0; j < k; j++) t += Atomics.load(counters, 3 * j + c);
    return t;
  };
  const timer = o.onProgress ? setInterval(() => o.onProgress!(sum(0), sum(1), sum(2)), 100) : undefined;
  try {
    await Promise.race([Promise.all(threads.map((t) => t.ready)), ...threads.map((t) => t.result)]);
    const start: SenderStart = { startNs: process.hrtime.bigint() + BigInt(Math.round(o.startLeadNs)) };
    for (const t of threads) t.worker.postMessage(start);
    const results = await Promise.all(threads.map((t) => t.result));
    o.onProgress?.(sum(0), sum(1), sum(2));
    return mergeResults(o.dueNs.length, results);
  } catch (err) {
    await Promise.all(threads.map((t) => t.worker.terminate()));
    throw err;
  } finally {
    clearInterval(timer);
  }
}

interface SenderThread {
  worker: Worker;
  ready: Promise<void>;
  result: Promise<SenderThreadResult>;
}

/** Thread j of k, with the requests j, j+k, j+2k, … */
function startThread(o: WorkerSendOptions, j: number, k: number, counters: Int32Array): SenderThread {
  const dueNs = new Float64Array(Math.ceil((o.dueNs.length - j) / k));
  for (let l = 0; l < dueNs.length; l++) dueNs[l] = o.dueNs[l * k + j]!;
  const data: SenderThreadData & { entry: string; tsxApi?: string } = {
    specs: o.targets.map((t) => t.spec),
    payload: o.payload,
    deadlineMs: o.deadlineMs,
    dueNs,
    offset: j,
    stride: k,
    ...(o.wake ? { wake: o.wake } : {}),
    counters,
    ...(o.priority ? { priority: o.priority } : {}),
    entry: ENTRY,
    ...(ENTRY.endsWith(".ts") ? { tsxApi: tsxEsmApi() } : {}),
  };
  const worker = new Worker(BOOT, { eval: true, workerData: data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<SenderThreadResult>((resolve, reject) => {
    let records: SenderThreadResult | undefined;
    worker.on("message", (m: SenderReady | SenderThreadResult) => {
      if ("ready" in m) onReady();
      else records = m;
    });
    worker.on("error", (err) => reject(new Error(`the invoker's sender thread ${j + 1} of ${k} failed: ${err.message}`)));
    worker.on("exit", (code) => {
      if (records) resolve(records);
      else reject(new Error(`the invoker's sender thread ${j + 1} of ${k} exited (${code}) without its records`));
    });
  });
  result.catch(() => undefined); // raced and awaited in sendInWorkers
  return { worker, ready, result };
}

/** Thread j's l-th request is request l·k + j; each thread's failure codes are renumbered into one list. */
function mergeResults(n: number, results: SenderThreadResult[]): WorkerSendResult {
  const k = results.length;
  const sentNs = new Float64Array(n);
  const doneNs = new Float64Array(n);
  const code = new Int16Array(n).fill(-1);
  const codes = ["OK"];
  const examples: Record<string, string> = {};
  results.forEach((r, j) => {
    const renumber = r.codes.map((c) => {
      const at = codes.indexOf(c);
      return at >= 0 ? at : codes.push(c) - 1;
    });
    for (const [c, m] of Object.entries(r.examples)) examples[c] ??= m;
    for (let l = 0; l < r.sentNs.length; l++) {
      const i = l * k + j;
      sentNs[i] = r.sentNs[l]!;
      doneNs[i] = r.doneNs[l]!;
      code[i] = r.code[l]! < 0 ? -1 : renumber[r.code[l]!]!;
    }
  });
  const fallback = results.find((r) => r.wakeFallback)?.wakeFallback;
  return {
    sentNs,
    doneNs,
    code,
    codes,
    examples,
    gcByThread: results.map((r) => r.gc),
    wake: results[0]!.wake,
    ...(fallback ? { wakeFallback: fallback } : {}),
    priority: results.find((r) => r.priority && "error" in r.priority)?.priority ?? results[0]!.priority,
  };
}
