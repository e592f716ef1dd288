// The open-loop sender: fires each request when its due time comes, against one absolute clock
// (process.hrtime.bigint at the start). It never waits for a response: `fire` starts a request and
// returns. Far from the next due time it sleeps on a timer; within 2 ms of it, it polls with
// setImmediate, which lets responses be handled between polls without a timer's 1 ms granularity.

export interface SendLoopResult {
  /** The absolute start (hrtime ns) every offset is relative to. */
  startNs: bigint;
  /** When each request actually went out, ns from the start. */
  sentNs: Float64Array;
}

export interface SendLoopOptions {
  /** Due times, ns from the start, ascending. */
  offsetsNs: Float64Array;
  /** Starts request i; must not block. */
  fire: (i: number, sentNs: number) => void;
  /** The absolute clock (hrtime ns) offsets are relative to; default 2 ms from now, so set-up work does not make the first sends late. */
  startNs?: bigint;
  /** Called at most every few ms with the number of requests sent so far. */
  onProgress?: (sent: number) => void;
  /** The clock, hrtime ns (tests pass a simulated one). */
  clock?: () => bigint;
}

const SPIN_WINDOW_NS = 2e6;

export function runSendLoop(opts: SendLoopOptions): Promise<SendLoopResult> {
  const { offsetsNs, fire } = opts;
  const n = offsetsNs.length;
  const sentNs = new Float64Array(n);
  const clock = opts.clock ?? process.hrtime.bigint;
  const startNs = opts.startNs ?? clock() + 2_000_000n;
  let i = 0;
  let lastProgress = 0;
  return new Promise((resolve, reject) => {
    const step = () => {
      try {
        let now = Number(clock() - startNs);
        while (i < n && offsetsNs[i]! <= now) {
          sentNs[i] = now;
          fire(i, now);
          i++;
          now = Number(clock() - startNs);
        }
        if (opts.onProgress && now - lastProgress > 5e7) {
          lastProgress = now;
          opts.onProgress(i);
        }
        if (i >= n) {
          opts.onProgress?.(i);
          resolve({ startNs, sentNs });
          return;
        }
        const waitNs = offsetsNs[i]! - now;
        if (waitNs > SPIN_WINDOW_NS) setTimeout(step, Math.floor((waitNs - SPIN_WINDOW_NS / 2) / 1e6));
        else setImmediate(step);
      } catch (err) {
        reject(err);
      }
    };
    setImmediate(step);
  });
}
