// The invoker's sends on a thread of their own (sender-thread.ts), so that what else the process
// does (progress, statistics, outputs) never delays a due request, with a young generation large
// enough that the run's allocations cause few scavenges (each one a pause of the sending loop).
// Targets move by their spec (target-spec.ts): the thread makes its own connections.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import type { SpecifiedTarget } from "../targets/target-spec.js";
import type { SenderThreadData, SenderThreadResult } from "./sender-thread.js";
import type { WakeMode } from "./send-loop.js";

/**
 * Young generation of the sender thread: V8 starts a new isolate with 1 MiB semi-spaces and grows
 * them only under pressure, so a run begins with a scavenge every few hundred requests. The
 * minimum is a process-wide V8 flag read when an isolate is made: set just before the thread is.
 */
const SEMI_SPACE_MB = Number(process.env.INVOKER_SEMI_SPACE_MB ?? 32);
const YOUNG_GENERATION_MB = SEMI_SPACE_MB * 3;

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
    if (SEMI_SPACE_MB > 0) setFlagsFromString(`--min-semi-space-size=${SEMI_SPACE_MB}`);
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
