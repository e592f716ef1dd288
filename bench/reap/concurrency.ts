/**
 * Several REAP loads at once: N guests restored from the same snapshot at the same moment, each
 * with its own userfaultfd handler in this one process (as the node runtime serves them), all
 * prefetching the same working set on a cold page cache. Each guest's clock runs from its handshake
 * to its last touched page, as in the single-load runs.
 */
import { readFileSync } from "node:fs";
import { startUffdHandler, type UffdHandler } from "#node-runtime/memory/uffd-handler.js";
import type { GuestProcess } from "#tests/memory/guest-process.js";

export interface ConcurrencyFigure {
  loads: number;
  /** Median over repetitions of the mean load time of the N guests. */
  reapMs: number;
  /** Median over repetitions of the slowest of the N guests. */
  slowestMs: number;
  /** Median over repetitions of the mean time each handler took to stream its set in. */
  streamMs: number;
  /** Median over repetitions of how many loads took the set from a read another load had started. */
  joinedFetch: number;
  /** Every repetition's per-guest times, ms. */
  samples: number[][];
  /** /proc/loadavg (1, 5, 15 min) before the first and after the last repetition. */
  loadAverageAtStart: string;
  loadAverageAtEnd: string;
}

export interface ConcurrencySetup {
  guestBin: string;
  memFile: string;
  workingSetPath: string;
  trace: string;
  regionsBytes: number;
  repetitions: number;
  /** A fresh socket path per handler. */
  socketPath: () => string;
  /** Starts a guest (the caller tracks and kills leftovers). */
  guest: (bin: string, args: string[]) => GuestProcess;
  dropCaches: () => void;
}

export const loadAverage = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One repetition: N handlers and N guests armed, then all released together. */
async function simultaneousLoads(n: number, c: ConcurrencySetup): Promise<{ times: number[]; streamMs: number; joined: number }> {
  const handlers: UffdHandler[] = [];
  const guests: GuestProcess[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const socketPath = c.socketPath();
      handlers.push(await startUffdHandler({ socketPath, memFilePath: c.memFile, mode: "prefetch", workingSetPath: c.workingSetPath }));
      guests.push(c.guest(c.guestBin, ["--socket", socketPath, "--regions", String(c.regionsBytes), "--trace", c.trace, "--wait-go"]));
    }
    // Every guest has mapped and registered its memory before any of them connects.
    for (const g of guests) await g.nextLine<{ armed: boolean }>(60_000);
    c.dropCaches();
    for (const g of guests) g.child.stdin.write("go\n");
    const times = await Promise.all(
      guests.map(async (g) => {
        await g.nextLine(60_000); // {"handshakeSent":true}
        return (await g.nextLine<{ sinceStartNs: number }>(120_000)).sinceStartNs / 1e6;
      }),
    );
    let stream = 0;
    for (const h of handlers) {
      const installed = await h.installed;
      if (installed.workingSetWarning) throw new Error(installed.workingSetWarning);
      stream += installed.streamUs / 1000;
    }
    return { times, streamMs: stream / n, joined: handlers.filter((h) => h.stats().joinedFetch === 1).length };
  } finally {
    for (const g of guests) g.child.stdin.end();
    await Promise.all(guests.map((g) => g.exited));
    await Promise.all(handlers.map((h) => h.close()));
  }
}

/** Runs 1, 2, 4, ... loads at once (`counts`), repetitions interleaved so drift hits all alike. */
export async function measureConcurrentLoads(counts: number[], c: ConcurrencySetup): Promise<ConcurrencyFigure[]> {
  const samples = new Map<number, { times: number[]; streamMs: number; joined: number }[]>(counts.map((k) => [k, []]));
  const loadStart = new Map<number, string>();
  const loadEnd = new Map<number, string>();
  for (let rep = 0; rep < c.repetitions; rep++) {
    for (const k of counts) {
      if (rep === 0) loadStart.set(k, loadAverage());
      samples.get(k)!.push(await simultaneousLoads(k, c));
      if (rep === c.repetitions - 1) loadEnd.set(k, loadAverage());
    }
  }
  return counts.map((loads) => {
    const reps = samples.get(loads)!;
    return {
      loads,
      reapMs: median(reps.map(({ times }) => times.reduce((a, b) => a + b, 0) / times.length)),
      slowestMs: median(reps.map(({ times }) => Math.max(...times))),
      streamMs: median(reps.map((r) => r.streamMs)),
      joinedFetch: median(reps.map((r) => r.joined)),
      samples: reps.map((r) => r.times),
      loadAverageAtStart: loadStart.get(loads)!,
      loadAverageAtEnd: loadEnd.get(loads)!,
    };
  });
}
