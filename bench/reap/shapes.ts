/**
 * Working-set shapes for the REAP benchmark. The end points follow the reading of the
 * REAP paper (helloworld: ~2,000 pages touched in runs of ~1.9 contiguous pages; the largest
 * functions: ~24,000 pages in runs of ~4.9); the shapes between are interpolated, not measured
 * functions, and are named by size.
 */
export interface WorkingSetShape {
  name: string;
  pages: number;
  meanRun: number;
}

export const SHAPES: WorkingSetShape[] = [
  { name: "helloworld", pages: 2000, meanRun: 1.9 },
  { name: "ws-5k", pages: 5000, meanRun: 2.6 },
  { name: "ws-9k", pages: 9000, meanRun: 3.3 },
  { name: "ws-15k", pages: 15000, meanRun: 4.1 },
  { name: "ws-24k", pages: 24000, meanRun: 4.9 },
];

/** Small deterministic PRNG (benchmarks must be repeatable run to run). */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/**
 * Pages a first invocation touches, in touch order: runs of consecutive pages with geometric
 * lengths (mean `meanRun`), placed at random in guest memory without overlapping, visited in
 * random order. Returns exactly `shape.pages` distinct pages.
 */
export function workingSetTrace(shape: WorkingSetShape, totalPages: number, seed: number): number[] {
  const rnd = prng(seed);
  const used = new Uint8Array(totalPages);
  const q = 1 - 1 / shape.meanRun; // P(run continues)
  const out: number[] = [];
  while (out.length < shape.pages) {
    let len = 1;
    while (rnd() < q) len++;
    len = Math.min(len, shape.pages - out.length);
    const start = Math.floor(rnd() * (totalPages - len));
    let free = true;
    // Keep a gap page on both sides so separate runs stay separate runs.
    for (let p = Math.max(0, start - 1); p <= Math.min(totalPages - 1, start + len); p++) if (used[p]) free = false;
    if (!free) continue;
    for (let p = start; p < start + len; p++) {
      used[p] = 1;
      out.push(p);
    }
  }
  return out;
}

/** Mean length of maximal runs of consecutive page numbers in the sorted set. */
export function meanRunLength(pages: number[]): number {
  const s = [...pages].sort((a, b) => a - b);
  let runs = s.length ? 1 : 0;
  for (let i = 1; i < s.length; i++) if (s[i] !== s[i - 1]! + 1) runs++;
  return runs ? s.length / runs : 0;
}

/** `count` distinct random pages in random order (per-fault cost measurement). */
export function scatteredPages(count: number, totalPages: number, seed: number): number[] {
  const rnd = prng(seed);
  const all = Array.from({ length: totalPages }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, count);
}
