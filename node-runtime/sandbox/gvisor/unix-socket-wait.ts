import { connect, type NetConnectOpts } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { SandboxExitedError, SandboxTimeoutError } from "../errors.js";

/** Where to connect: a Unix socket path, or a TCP address (the function inside its own netns). */
export type SocketTarget = string | { host: string; port: number };

/** One connection attempt: true if something accepts on the socket now. */
export function socketAccepts(target: SocketTarget): Promise<boolean> {
  const opts: NetConnectOpts = typeof target === "string" ? { path: target } : { host: target.host, port: target.port };
  return new Promise((resolve) => {
    const s = connect(opts);
    // A TCP SYN nobody answers is retried for minutes; one attempt gets a second at most.
    const giveUp = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 1_000);
    s.once("connect", () => {
      clearTimeout(giveUp);
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      clearTimeout(giveUp);
      resolve(false);
    });
  });
}

export interface SocketWaitOptions {
  timeoutMs: number;
  /** Checked between attempts; a returned string (why the sandbox ended) aborts the wait with that reason. */
  abortReason?: () => string | undefined;
  /** Called once when `afterMs` passed without success and `when` (if given) holds (to nudge the relay, say). */
  nudge?: { afterMs: number; when?: () => boolean; run: () => Promise<void> };
  intervalMs?: number;
}

/**
 * Waits until a socket accepts connections. The relay creates its Unix socket only once the
 * function's port accepts, so success there means the function is ready; a TCP target says the
 * function is reachable over its network namespace as well.
 */
export async function waitForSocket(target: SocketTarget, opts: SocketWaitOptions): Promise<void> {
  const start = performance.now();
  const interval = opts.intervalMs ?? 3;
  let nudged = false;
  for (;;) {
    if (await socketAccepts(target)) return;
    const reason = opts.abortReason?.();
    if (reason) throw new SandboxExitedError(reason);
    const elapsed = performance.now() - start;
    if (elapsed >= opts.timeoutMs) throw new SandboxTimeoutError(`timed out after ${opts.timeoutMs} ms`);
    if (opts.nudge && !nudged && elapsed >= opts.nudge.afterMs && (opts.nudge.when?.() ?? true)) {
      nudged = true;
      await opts.nudge.run();
    }
    await sleep(interval);
  }
}
