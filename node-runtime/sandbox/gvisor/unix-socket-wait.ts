import { watch, type FSWatcher } from "node:fs";
import { connect, type NetConnectOpts } from "node:net";
import path from "node:path";
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
  /** Between attempts; default 3 ms, or 50 ms for a Unix socket whose directory can be watched (inotify wakes the wait when the socket appears). */
  intervalMs?: number;
}

/**
 * Wakes a wait when anything changes in a directory (inotify through fs.watch): the relay's socket
 * appearing ends the wait at once, and no connection attempts run every few milliseconds meanwhile
 * (measured here: polling every 3 ms during `runsc restore` made the restore itself ~100 ms slower
 * at load 11-15 on 2 cores). Undefined when the directory cannot be watched.
 */
function watchDirectory(dir: string): { changed: () => Promise<void>; close: () => void } | undefined {
  let watcher: FSWatcher;
  let wake: (() => void) | undefined;
  try {
    watcher = watch(dir, { persistent: false }, () => wake?.());
  } catch {
    return undefined;
  }
  // A removed directory (a failed start being cleaned up) ends the watch; the interval still runs.
  watcher.on("error", () => watcher.close());
  return {
    changed: () => new Promise<void>((resolve) => (wake = resolve)),
    close: () => watcher.close(),
  };
}

/**
 * Waits until a socket accepts connections. The relay creates its Unix socket only once the
 * function's port accepts, so success there means the function is ready; a TCP target says the
 * function is reachable over its network namespace as well.
 */
export async function waitForSocket(target: SocketTarget, opts: SocketWaitOptions): Promise<void> {
  const start = performance.now();
  const watched = typeof target === "string" ? watchDirectory(path.dirname(target)) : undefined;
  const interval = opts.intervalMs ?? (watched ? 50 : 3);
  let nudged = false;
  try {
    for (;;) {
      // Armed before the attempt, so a socket made during it still wakes the next one.
      const changed = watched?.changed();
      if (await socketAccepts(target)) return;
      const reason = opts.abortReason?.();
      if (reason) throw new SandboxExitedError(reason);
      const elapsed = performance.now() - start;
      if (elapsed >= opts.timeoutMs) throw new SandboxTimeoutError(`timed out after ${opts.timeoutMs} ms`);
      if (opts.nudge && !nudged && elapsed >= opts.nudge.afterMs && (opts.nudge.when?.() ?? true)) {
        nudged = true;
        await opts.nudge.run();
      }
      const pause = new AbortController();
      await Promise.race([sleep(interval, undefined, { signal: pause.signal }).catch(() => undefined), ...(changed ? [changed] : [])]);
      pause.abort();
    }
  } finally {
    watched?.close();
  }
}
