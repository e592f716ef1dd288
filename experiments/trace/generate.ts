// Writes small trace files in the Azure Functions trace format (same files, same columns), from a
// seed: the real traces are large and come from the Azure Public Dataset (AzureFunctionsDataset2019).
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Prng } from "../common/prng.js";
import { DURATION_COLUMNS, INVOCATION_KEYS, MEMORY_COLUMNS } from "./azure-trace.js";

export interface GenerateOptions {
  functions: number;
  /** Minutes that carry invocations (the file always has columns 1..1440). */
  minutes: number;
  seed: number;
  /** Upper bound of a function's mean invocations per minute. */
  maxPerMinute?: number;
  /** Upper bound of a function's median duration. */
  maxDurationMs?: number;
  /** Upper bound of an app's median memory. */
  maxMemoryMb?: number;
  /** Functions per app (the traces group functions by app; memory is per app). */
  functionsPerApp?: number;
}

export interface GeneratedTrace {
  invocations: string;
  durations: string;
  memory: string;
}

const TRIGGERS = ["http", "timer", "queue", "event", "storage", "orchestration", "others"];
const MINUTES_IN_DAY = 1440;

function hash(p: Prng): string {
  let s = "";
  for (let i = 0; i < 8; i++) s += p.nextUint32().toString(16).padStart(8, "0");
  return s;
}

/** Poisson-distributed count with the given mean (inversion for small means, normal beyond). */
function poisson(p: Prng, mean: number): number {
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * Math.sqrt(-2 * Math.log(1 - p.next())) * Math.cos(2 * Math.PI * p.next())));
  const limit = Math.exp(-mean);
  let k = 0,
    prod = p.next();
  while (prod > limit) {
    k++;
    prod *= p.next();
  }
  return k;
}

export function generateTrace(opts: GenerateOptions): GeneratedTrace {
  if (!Number.isInteger(opts.functions) || opts.functions < 1) throw new Error(`functions: expected a positive integer, got ${opts.functions}`);
  if (!Number.isInteger(opts.minutes) || opts.minutes < 1 || opts.minutes > MINUTES_IN_DAY)
    throw new Error(`minutes: expected 1-${MINUTES_IN_DAY}, got ${opts.minutes}`);
  const p = new Prng(opts.seed);
  const maxPerMinute = opts.maxPerMinute ?? 60;
  const maxDurationMs = opts.maxDurationMs ?? 1000;
  const maxMemoryMb = opts.maxMemoryMb ?? 256;
  const perApp = opts.functionsPerApp ?? 2;
  const minuteCols = Array.from({ length: MINUTES_IN_DAY }, (_, i) => String(i + 1));
  const inv = [[...INVOCATION_KEYS, ...minuteCols].join(",")];
  const dur = [DURATION_COLUMNS.join(",")];
  const mem = [MEMORY_COLUMNS.join(",")];
  let owner = hash(p),
    app = hash(p);
  for (let f = 0; f < opts.functions; f++) {
    if (f > 0 && f % perApp === 0) {
      if (p.next() < 0.5) owner = hash(p);
      app = hash(p);
    }
    if (f % perApp === 0) {
      // Memory per app: a median between 1/8 and all of the bound, a modest spread.
      const med = Math.max(1, Math.round(maxMemoryMb * (0.125 + 0.875 * p.next())));
      const pct = [0.7, 0.8, 0.9, 1, 1.05, 1.15, 1.2, 1.25].map((k) => Math.min(maxMemoryMb, Math.max(1, Math.round(med * k))));
      mem.push([owner, app, 1000 + p.int(50_000), Math.round(med * 1.02), ...pct].join(","));
    }
    const fn = hash(p);
    const trigger = TRIGGERS[p.int(TRIGGERS.length)]!;
    // Heavy-tailed rates: log-uniform between 0.2 and maxPerMinute per minute.
    const mean = Math.exp(Math.log(0.2) + p.next() * (Math.log(maxPerMinute) - Math.log(0.2)));
    const period = 1 + p.int(5);
    const counts = new Array<number>(MINUTES_IN_DAY).fill(0);
    let total = 0;
    for (let m = 0; m < opts.minutes; m++) {
      counts[m] = trigger === "timer" ? (m % period === 0 ? Math.max(1, Math.round(mean)) : 0) : poisson(p, mean);
      total += counts[m]!;
    }
    inv.push([owner, app, fn, trigger, ...counts].join(","));
    // Durations: a log-uniform median in [1 ms, maxDurationMs], percentiles around it.
    const med = Math.exp(p.next() * Math.log(Math.max(1, maxDurationMs)));
    const pct = [0.3, 0.5, 0.8, 1, 1.2, 1.8, 2].map((k) => Math.max(1, Math.min(maxDurationMs, Math.round(med * k))));
    dur.push([owner, app, fn, Math.round(med * 1.05), total, pct[0], pct[6], ...pct].join(","));
  }
  return { invocations: inv.join("\n") + "\n", durations: dur.join("\n") + "\n", memory: mem.join("\n") + "\n" };
}

export const TRACE_FILE_NAMES = {
  invocations: "invocations_per_function_md.anon.d01.csv",
  durations: "function_durations_percentiles.anon.d01.csv",
  memory: "app_memory_percentiles.anon.d01.csv",
} as const;

/** Writes the three files under `dir` with the dataset's file names; returns their paths. */
export async function writeGeneratedTrace(dir: string, opts: GenerateOptions): Promise<{ invocations: string; durations: string; memory: string }> {
  const t = generateTrace(opts);
  await mkdir(dir, { recursive: true });
  const files = {
    invocations: path.join(dir, TRACE_FILE_NAMES.invocations),
    durations: path.join(dir, TRACE_FILE_NAMES.durations),
    memory: path.join(dir, TRACE_FILE_NAMES.memory),
  };
  await writeFile(files.invocations, t.invocations);
  await writeFile(files.durations, t.durations);
  await writeFile(files.memory, t.memory);
  return files;
}
