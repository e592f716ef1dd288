// The send loop's nanosecond timer (native/precise-timer.c): a timerfd the thread's own event loop
// waits on, so the loop sleeps until a due time or I/O without polling and without allocating.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

declare const timerBrand: unique symbol;
export type PreciseTimerHandle = { readonly [timerBrand]: true };

interface PreciseTimerAddon {
  abiVersion: number;
  create(onDue: () => void): PreciseTimerHandle;
  /** Fires once at `dueNs` (absolute process.hrtime ns; a past time fires at the next loop turn). */
  arm(handle: PreciseTimerHandle, dueNs: number): void;
  close(handle: PreciseTimerHandle): void;
}

/** PRECISE_TIMER_ABI in native/precise-timer.c. */
const ABI = 1;
export const PRECISE_TIMER_ADDON_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), "native", "build", "Release", "precise_timer.node");

let loaded: { addon: PreciseTimerAddon } | { error: string } | undefined;

/** The addon, or why it cannot be used here (not built, or built from other sources). */
export function loadPreciseTimer(): { addon: PreciseTimerAddon } | { error: string } {
  if (loaded) return loaded;
  try {
    const addon = createRequire(import.meta.url)(PRECISE_TIMER_ADDON_PATH) as PreciseTimerAddon;
    loaded =
      addon.abiVersion === ABI
        ? { addon }
        : { error: `${PRECISE_TIMER_ADDON_PATH} was built from other sources (ABI ${addon.abiVersion}, need ${ABI}): run "npm run build:native"` };
  } catch (err) {
    loaded = { error: `${PRECISE_TIMER_ADDON_PATH} is not loadable (build it with "npm run build:native"): ${(err as Error).message.split("\n")[0]}` };
  }
  return loaded;
}
