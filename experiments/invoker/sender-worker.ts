// The invoker's sends on a thread of their own (sender-thread.ts), so that what else the process
// does (progress, statistics, outputs) never delays a due request, with a garbage collector set
// for short pauses (below). Targets move by their spec (target-spec.ts): the thread makes its own
// connections.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import type { SpecifiedTarget } from "../targets/target-spec.js";
import type { SenderThreadData, SenderThreadResult } from "./sender-thread.js";
import type { WakeMode } from "./send-loop.js";

/**
 * The sender thread's garbage collection, for the shortest pauses rather than the fewest. With the
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
  /** The schedule starts this long after the thread is ready, ns. */
  startLeadNs: number;
  dueNs: Float64Array;
  wake?: WakeMode;
  nice?: number;
  /** Called every 100 ms with [sent, settled, failed]. */
  onProgress?: (sent: number, settled: number, failed: number) => void;
}

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

export function sendInWorker(o: WorkerSendOptions): Promise<SenderThreadResult> {
  const counters = new Int32Array(new SharedArrayBuffer(12));
  const data: SenderThreadData & { entry: string; tsxApi?: string } = {
    specs: o.targets.map((t) => t.spec),
    payload: o.payload,
    deadlineMs: o.deadlineMs,
    startLeadNs: o.startLeadNs,
    dueNs: o.dueNs,
    ...(o.wake ? { wake: o.wake } : {}),
    counters,
    ...(o.nice !== undefined ? { nice: o.nice } : {}),
    entry: ENTRY,
    ...(ENTRY.endsWith(".ts") ? { tsxApi: tsxEsmApi() } : {}),
  };
  return new Promise((resolve, reject) => {
    setFlagsFromString(`--min-semi-space-size=${SEMI_SPACE_MB}`);
    setFlagsFromString("--no-parallel-scavenge");
    const worker = new Worker(BOOT, { eval: true, workerData: data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    const timer = o.onProgress
      ? setInterval(() => o.onProgress!(Atomics.load(counters, 0), Atomics.load(counters, 1), Atomics.load(counters, 2)), 100)
      : undefined;
    let result: SenderThreadResult | undefined;
    worker.on("message", (m: SenderThreadResult) => (result = m));
    worker.on("error", (err) => {
      clearInterval(timer);
      reject(new Error(`the invoker's sender thread failed: ${err.message}`));
    });
    worker.on("exit", (code) => {
      clearInterval(timer);
      if (result) {
        o.onProgress?.(Atomics.load(counters, 0), Atomics.load(counters, 1), Atomics.load(counters, 2));
        resolve(result);
      } else reject(new Error(`the invoker's sender thread exited (${code}) without its records`));
    });
  });
}
