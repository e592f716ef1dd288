// Garbage-collection pauses of the calling thread during a run, on the run's clock (ns from its
// start): which late sends a GC explains, for the summary's schedule-error breakdown.
import { PerformanceObserver, performance, constants, type PerformanceEntry } from "node:perf_hooks";

export interface GcPauses {
  /** Pause starts and ends, ns from the run's start, in order. */
  startNs: number[];
  endNs: number[];
  /** Scavenges (young generation) among them. */
  minor: number;
}

/** Records from now; the returned function stops recording and gives the pauses. */
export function recordGcPauses(runStartNs: bigint): () => GcPauses {
  // performance.now() and hrtime share the monotonic clock; the offset maps one onto the other.
  const offsetNs = Number(process.hrtime.bigint() - runStartNs) - performance.now() * 1e6;
  const out: GcPauses = { startNs: [], endNs: [], minor: 0 };
  const add = (e: PerformanceEntry) => {
    const s = e.startTime * 1e6 + offsetNs;
    out.startNs.push(s);
    out.endNs.push(s + e.duration * 1e6);
    if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) out.minor++;
  };
  const obs = new PerformanceObserver((list) => list.getEntries().forEach(add));
  obs.observe({ entryTypes: ["gc"] });
  return () => {
    obs.takeRecords().forEach(add);
    obs.disconnect();
    return out;
  };
}

/** Whether a pause overlaps [fromNs, toNs]. Pauses are few; a linear scan is enough. */
export function gcOverlaps(p: GcPauses, fromNs: number, toNs: number): boolean {
  for (let k = 0; k < p.startNs.length; k++) if (p.startNs[k]! <= toNs && p.endNs[k]! >= fromNs) return true;
  return false;
}
