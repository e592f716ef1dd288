// The body of one of the invoker's sender threads (see sender-worker.ts): its own copies of the
// targets, the open-loop send loop over its share of the schedule, and per-request records, with
// nothing else on its event loop: the main thread's progress bar, statistics and file writing cannot
// delay a send. It raises its own scheduling priority when asked and allowed, and says whether it could.
import { parentPort, workerData } from "node:worker_threads";
import { targetFromSpec, type TargetSpec } from "../targets/target-spec.js";
import { describeFailure } from "../targets/target.js";
import { recordGcPauses, type GcPauses } from "./gc-pauses.js";
import { runSendLoop, type WakeMode } from "./send-loop.js";
import { applyThreadPriority, type PriorityOutcome, type PriorityRequest } from "./thread-priority.js";

export interface SenderThreadData {
  specs: TargetSpec[];
  payload: string;
  deadlineMs: number;
  /** This thread's share of the schedule: due times (ns from the run's start) of requests k·stride + offset. */
  dueNs: Float64Array;
  /** The share's place in the whole schedule; the target of request i is targets[i mod targets]. */
  offset: number;
  stride: number;
  /** How the send loop wakes for due times (send-loop.ts); default "timer". */
  wake?: WakeMode;
  /** [sent, settled, failed], for the main thread's progress bar. */
  counters: Int32Array;
  /** A priority for this thread; none: leave it. */
  priority?: PriorityRequest;
}

/** The thread's first message: its targets are made; it then waits for {@link SenderStart}. */
export interface SenderReady {
  ready: true;
}

/** The run's start on the process's monotonic clock (hrtime), the same for every sender thread. */
export interface SenderStart {
  startNs: bigint;
}

export interface SenderThreadResult {
  sentNs: Float64Array;
  doneNs: Float64Array;
  code: Int16Array;
  codes: string[];
  examples: Record<string, string>;
  /** This thread's GC pauses during the run. */
  gc: GcPauses;
  wake: WakeMode;
  wakeFallback?: string;
  /** What became of the priority request: as asked, or why not. */
  priority: PriorityOutcome | null;
}

async function main(d: SenderThreadData): Promise<void> {
  const priority = d.priority === undefined ? null : applyThreadPriority(d.priority);
  const targets = await Promise.all(d.specs.map(targetFromSpec));
  // The run starts once every sender thread is ready: loading a thread's modules takes longer than
  // any fixed lead would allow, and a start fixed before it would send the first requests late in a burst.
  const started = new Promise<SenderStart>((resolve) => parentPort!.once("message", resolve));
  parentPort!.postMessage({ ready: true } satisfies SenderReady);
  const { startNs } = await started;
  const n = d.dueNs.length;
  const doneNs = new Float64Array(n);
  const code = new Int16Array(n).fill(-1);
  const codes = ["OK"];
  const codeIndex = new Map<string, number>([["OK", 0]]);
  const examples: Record<string, string> = {};
  let inFlight = 0;
  let settled: (() => void) | undefined;
  const fire = (i: number) => {
    inFlight++;
    const target = targets[(i * d.stride + d.offset) % targets.length]!;
    target.invoke(d.payload, d.deadlineMs, (failure) => {
      doneNs[i] = Number(process.hrtime.bigint() - startNs);
      if (failure) {
        let c = codeIndex.get(failure.code);
        if (c === undefined) {
          c = codes.push(failure.code) - 1;
          codeIndex.set(failure.code, c);
          examples[failure.code] = describeFailure(target, failure);
        }
        code[i] = c;
        Atomics.add(d.counters, 2, 1);
      } else code[i] = 0;
      Atomics.add(d.counters, 1, 1);
      if (--inFlight === 0) settled?.();
    });
  };
  const stopGc = recordGcPauses(startNs);
  const { sentNs, wake, wakeFallback } = await runSendLoop({
    startNs,
    offsetsNs: d.dueNs,
    fire,
    ...(d.wake ? { wake: d.wake } : {}),
    onProgress: (sent) => Atomics.store(d.counters, 0, sent),
  });
  if (inFlight > 0) await new Promise<void>((resolve) => (settled = resolve));
  const gc = stopGc();
  for (const t of targets) t.close();
  const result: SenderThreadResult = { sentNs, doneNs, code, codes, examples, gc, priority, wake, ...(wakeFallback ? { wakeFallback } : {}) };
  parentPort!.postMessage(result, [sentNs.buffer as ArrayBuffer, doneNs.buffer as ArrayBuffer, code.buffer as ArrayBuffer]);
}

main(workerData as SenderThreadData).catch((err: unknown) => {
  // An uncaught rejection would end the worker without a message the main thread can show.
  setImmediate(() => {
    throw err;
  });
});
