import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { SandboxExitedError, SandboxTimeoutError } from "../errors.js";

/** One connection attempt: true if something accepts on the socket now. */
export function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface SocketWaitOptions {
  timeoutMs: number;
  /** Checked between attempts; a returned string (why the sandbox ended) aborts the wait with that reason. */
  abortReason?: () => string | undefined;
  /** Called once when `afterMs` passed without success (to nudge the relay, say). */
  nudge?: { afterMs: number; run: () => Promise<void> };
  intervalMs?: number;
}

/**
 * Waits until a Unix socket accepts connections. The relay creates its socket only once the
 * function's port accepts, so success here means the function is ready.
 */
export async function waitForUnixSocket(path: string, opts: SocketWaitOptions): Promise<void> {
  const start = performance.now();
  const interval = opts.intervalMs ?? 3;
  let nudged = false;
  for (;;) {
    if (await socketAccepts(path)) return;
    const reason = opts.abortReason?.();
    if (reason) throw new SandboxExitedError(reason);
    const elapsed = performance.now() - start;
    if (elapsed >= opts.timeoutMs) throw new SandboxTimeoutError(`timed out after ${opts.timeoutMs} ms`);
    if (opts.nudge && !nudged && elapsed >= opts.nudge.afterMs) {
      nudged = true;
      await opts.nudge.run();
    }
    await sleep(interval);
  }
}
