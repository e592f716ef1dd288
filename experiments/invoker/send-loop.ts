// The open-loop sender: fires each request when its due time comes, against one absolute clock
// (process.hrtime.bigint at the start). It never waits for a response: `fire` starts a request and
// returns, and every request whose due time has passed goes out at once, so lateness never shifts
// a later due time.
//
// Waking up on time: libuv's timers have millisecond resolution. By default ("timer") the loop
// arms a timerfd for the next due time (precise-timer.ts, a native addon) and the event loop
// sleeps in epoll until then or until I/O: nothing polls, and waiting allocates nothing, so the
// only garbage (and GC pauses) left are the requests' own. Without the addon built it falls back
// to "poll": the loop sleeps on a libuv timer while the next due time is more than 2 ms away and
// polls with setImmediate within 2 ms of it (an Immediate per turn: at 2,000 requests/s the
// scavenges they cause made about 2% of the sends more than 1 ms late). "thread": a timer thread
// sleeps until each due time (Atomics.wait, sub-millisecond) and wakes the event loop with a
// message; waking costs about 0.2-0.3 ms per send.
import { Worker } from "node:worker_threads";
import { loadPreciseTimer } from "./precise-timer.js";

export type WakeMode = "timer" | "poll" | "thread";

export interface SendLoopResult {
  /** The absolute start (hrtime ns) every offset is relative to. */
  startNs: bigint;
  /** When each request actually went out, ns from the start. */
  sentNs: Float64Array;
  /** How the loop woke for due times, and why not the way asked (the timer addon missing, say). */
  wake: WakeMode;
  wakeFallback?: string;
}

export interface SendLoopOptions {
  /** Due times, ns from the start, ascending. */
  offsetsNs: Float64Array;
  /** Starts request i; must not block. */
  fire: (i: number, sentNs: number) => void;
  /** The absolute clock (hrtime ns) offsets are relative to; default 2 ms from now, so set-up work does not make the first sends late. */
  startNs?: bigint;
  /** Called at most every 50 ms with the number of requests sent so far. */
  onProgress?: (sent: number) => void;
  /** "timer" (default): a timerfd wakes the event loop at each due time; "poll": setImmediate polling near due times; "thread": a timer thread wakes the loop at each due time. */
  wake?: WakeMode;
  /** The clock, hrtime ns (tests pass a simulated one; implies polling). */
  clock?: () => bigint;
}

const SPIN_WINDOW_NS = 2e6;

// The timer thread: plain JavaScript (it runs the same under tsx, vitest and compiled builds).
// Shared state: the due times, and slot 0 of `progress` = how many requests the main thread sent.
const TIMER_THREAD = `
const { parentPort, workerData } = require("node:worker_threads");
const { offsets, progress, startNs } = workerData;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const start = BigInt(startNs);
for (;;) {
  const i = Atomics.load(progress, 0);
  if (i >= offsets.length) break;
  const due = offsets[i];
  let wait = due - Number(process.hrtime.bigint() - start);
  if (wait > 0) {
    // Sleep until due; a long wait is cut in slices so the main thread's progress is seen.
    Atomics.wait(sleeper, 0, 0, Math.min(wait, 50e6) / 1e6);
    if (due - Number(process.hrtime.bigint() - start) > 0) continue;
  }
  parentPort.postMessage(0);
  // Wait until the main thread has sent it before looking at the next due time.
  while (Atomics.load(progress, 0) <= i) Atomics.wait(progress, 0, i, 5);
}
`;

export function runSendLoop(opts: SendLoopOptions): Promise<SendLoopResult> {
  const { offsetsNs, fire } = opts;
  const n = offsetsNs.length;
  const sentNs = new Float64Array(n);
  const startNs = opts.startNs ?? (opts.clock ?? process.hrtime.bigint)() + 2_000_000n;
  // ns since the start. The default reads performance.now(), which allocates nothing: hrtime.bigint
  // allocates a BigInt per read, and the poll below reads the clock hundreds of thousands of times
  // a second (measured with a no-op send at 2,000/s: 637 scavenges in 3 s with BigInt reads, 472
  // with these; most of the rest are the poll's own Immediates).
  const simulated = opts.clock;
  const perfAtStart = performance.now() + Number(startNs - process.hrtime.bigint()) / 1e6;
  const sinceStart = simulated ? () => Number(simulated() - startNs) : () => (performance.now() - perfAtStart) * 1e6;
  const useThread = opts.wake === "thread" && opts.clock === undefined && n > 0;
  // The timer needs the real clock; a simulated one polls.
  let wakeFallback: string | undefined;
  let timerAddon: ReturnType<typeof loadPreciseTimer> | undefined;
  if ((opts.wake ?? "timer") === "timer") {
    if (simulated) wakeFallback = "a simulated clock polls";
    else {
      timerAddon = loadPreciseTimer();
      if ("error" in timerAddon) wakeFallback = timerAddon.error;
    }
  }
  const wake: WakeMode = useThread ? "thread" : timerAddon && "addon" in timerAddon ? "timer" : "poll";
  const progress = new Int32Array(new SharedArrayBuffer(4));
  let i = 0;
  let lastProgress = -Infinity;
  return new Promise((resolve, reject) => {
    let worker: Worker | undefined;
    let closeTimer: (() => void) | undefined;
    const finish = (err?: unknown) => {
      if (worker) void worker.terminate();
      worker = undefined;
      closeTimer?.();
      closeTimer = undefined;
      if (err) reject(err);
      else resolve({ startNs, sentNs, wake, ...(wakeFallback ? { wakeFallback } : {}) });
    };
    /** Sends everything due; true when all is sent. */
    const sendDue = (): boolean => {
      let now = sinceStart();
      while (i < n && offsetsNs[i]! <= now) {
        sentNs[i] = now;
        fire(i, now);
        i++;
        now = sinceStart();
      }
      if (useThread) {
        Atomics.store(progress, 0, i);
        Atomics.notify(progress, 0);
      }
      if (opts.onProgress && now - lastProgress > 5e7) {
        lastProgress = now;
        opts.onProgress(i);
      }
      if (i >= n) opts.onProgress?.(i);
      return i >= n;
    };
    if (useThread) {
      const offsets = new Float64Array(new SharedArrayBuffer(offsetsNs.byteLength));
      offsets.set(offsetsNs);
      worker = new Worker(TIMER_THREAD, { eval: true, workerData: { offsets, progress, startNs: startNs.toString() } });
      worker.on("message", () => {
        try {
          if (sendDue()) finish();
        } catch (err) {
          finish(err);
        }
      });
      worker.on("error", (err) => finish(err));
      return;
    }
    if (wake === "timer" && timerAddon && "addon" in timerAddon) {
      const { addon } = timerAddon;
      // Due times as absolute hrtime ns (a double holds them to well under a microsecond).
      const startAbsNs = Number(startNs);
      if (n === 0) return finish();
      const timer = addon.create(() => {
        try {
          if (sendDue()) finish();
          else addon.arm(timer, startAbsNs + offsetsNs[i]!);
        } catch (err) {
          finish(err);
        }
      });
      closeTimer = () => addon.close(timer);
      addon.arm(timer, startAbsNs + offsetsNs[0]!);
      return;
    }
    const step = () => {
      try {
        if (sendDue()) return finish();
        const waitNs = offsetsNs[i]! - sinceStart();
        if (waitNs > SPIN_WINDOW_NS) setTimeout(step, Math.floor((waitNs - SPIN_WINDOW_NS / 2) / 1e6));
        else setImmediate(step);
      } catch (err) {
        finish(err);
      }
    };
    setImmediate(step);
  });
}
