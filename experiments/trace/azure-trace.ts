// The Azure Functions trace format (Azure Public Dataset, AzureFunctionsDataset2019):
//   invocations per minute:  HashOwner,HashApp,HashFunction,Trigger,1,2,…,1440
//   durations (ms):          HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,
//                            percentile_Average_0,_1,_25,_50,_75,_99,_100
//   memory (MB, per app):    HashOwner,HashApp[,HashFunction],SampleCount,AverageAllocatedMb,
//                            AverageAllocatedMb_pct1,_pct5,_pct25,_pct50,_pct75,_pct95,_pct99,_pct100
import { readFile } from "node:fs/promises";

export const INVOCATION_KEYS = ["HashOwner", "HashApp", "HashFunction", "Trigger"] as const;
export const DURATION_COLUMNS = [
  "HashOwner",
  "HashApp",
  "HashFunction",
  "Average",
  "Count",
  "Minimum",
  "Maximum",
  "percentile_Average_0",
  "percentile_Average_1",
  "percentile_Average_25",
  "percentile_Average_50",
  "percentile_Average_75",
  "percentile_Average_99",
  "percentile_Average_100",
] as const;
export const DURATION_PERCENTILES = [0, 1, 25, 50, 75, 99, 100] as const;
export const MEMORY_PERCENTILES = [1, 5, 25, 50, 75, 95, 99, 100] as const;
export const MEMORY_COLUMNS = [
  "HashOwner",
  "HashApp",
  "SampleCount",
  "AverageAllocatedMb",
  ...MEMORY_PERCENTILES.map((p) => `AverageAllocatedMb_pct${p}`),
] as const;

export class TraceFormatError extends Error {
  override name = "TraceFormatError";
}

export interface FunctionInvocations {
  owner: string;
  app: string;
  function: string;
  trigger: string;
  /** Invocations in minute 1, 2, … (index 0 is minute 1). */
  perMinute: number[];
}

export interface FunctionDurations {
  averageMs: number;
  count: number;
  minimumMs: number;
  maximumMs: number;
  /** Duration at percentiles 0, 1, 25, 50, 75, 99, 100 (ms). */
  percentilesMs: number[];
}

export interface AppMemory {
  sampleCount: number;
  averageMb: number;
  /** Allocated memory at percentiles 1, 5, 25, 50, 75, 95, 99, 100 (MB). */
  percentilesMb: number[];
}

export interface TraceFunction extends FunctionInvocations {
  durations?: FunctionDurations;
  memory?: AppMemory;
}

export const functionKey = (f: { owner: string; app: string; function: string }) => `${f.owner}/${f.app}/${f.function}`;
const appKey = (owner: string, app: string) => `${owner}/${app}`;

/** Splits CSV text into rows of fields (the traces have no quoted fields; quotes are still honoured). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    if (!line.includes('"')) {
      rows.push(line.split(","));
      continue;
    }
    const fields: string[] = [];
    let cur = "",
      quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") {
        fields.push(cur);
        cur = "";
      } else cur += c;
    }
    fields.push(cur);
    rows.push(fields);
  }
  return rows;
}

function numberAt(file: string, row: number, header: string[], fields: string[], col: number, integer: boolean): number {
  const raw = fields[col];
  const v = Number(raw);
  if (raw === undefined || raw.trim() === "" || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw new TraceFormatError(
      `${file}: line ${row + 1}, column ${header[col] ?? col + 1}: expected a ${integer ? "non-negative integer" : "non-negative number"}, got ${JSON.stringify(raw ?? "")}`,
    );
  }
  return v;
}

function checkHeader(file: string, header: string[], expected: readonly string[]): void {
  expected.forEach((name, i) => {
    if (header[i] !== name)
      throw new TraceFormatError(`${file}: header column ${i + 1} should be ${name}, is ${JSON.stringify(header[i] ?? "")} (is this the right file?)`);
  });
}

export function parseInvocations(text: string, file = "invocations.csv"): FunctionInvocations[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new TraceFormatError(`${file}: empty file`);
  checkHeader(file, header, INVOCATION_KEYS);
  const minutes = header.length - INVOCATION_KEYS.length;
  if (minutes < 1) throw new TraceFormatError(`${file}: no minute columns after ${INVOCATION_KEYS.join(",")}`);
  for (let m = 1; m <= minutes; m++) {
    if (header[INVOCATION_KEYS.length + m - 1] !== String(m))
      throw new TraceFormatError(
        `${file}: header column ${INVOCATION_KEYS.length + m} should be minute ${m}, is ${JSON.stringify(header[INVOCATION_KEYS.length + m - 1])}`,
      );
  }
  return rows.map((fields, r) => {
    if (fields.length !== header.length) throw new TraceFormatError(`${file}: line ${r + 2} has ${fields.length} fields, the header ${header.length}`);
    const perMinute = new Array<number>(minutes);
    for (let m = 0; m < minutes; m++) perMinute[m] = numberAt(file, r + 1, header, fields, INVOCATION_KEYS.length + m, true);
    return { owner: fields[0]!, app: fields[1]!, function: fields[2]!, trigger: fields[3]!, perMinute };
  });
}

export function parseDurations(text: string, file = "durations.csv"): Map<string, FunctionDurations> {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new TraceFormatError(`${file}: empty file`);
  checkHeader(file, header, DURATION_COLUMNS);
  const out = new Map<string, FunctionDurations>();
  rows.forEach((fields, r) => {
    const n = (c: number, int = false) => numberAt(file, r + 1, header, fields, c, int);
    const percentilesMs = DURATION_PERCENTILES.map((_, i) => n(7 + i));
    for (let i = 1; i < percentilesMs.length; i++) {
      if (percentilesMs[i]! < percentilesMs[i - 1]!)
        throw new TraceFormatError(`${file}: line ${r + 2}: percentiles must not decrease (${header[7 + i]} < ${header[6 + i]})`);
    }
    out.set(functionKey({ owner: fields[0]!, app: fields[1]!, function: fields[2]! }), {
      averageMs: n(3),
      count: n(4),
      minimumMs: n(5),
      maximumMs: n(6),
      percentilesMs,
    });
  });
  return out;
}

/** Memory by app (owner/app); a HashFunction column, when present, is ignored (memory is per app). */
export function parseMemory(text: string, file = "memory.csv"): Map<string, AppMemory> {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new TraceFormatError(`${file}: empty file`);
  const withFunction = header[2] === "HashFunction";
  const cols = withFunction ? [...MEMORY_COLUMNS.slice(0, 2), "HashFunction", ...MEMORY_COLUMNS.slice(2)] : [...MEMORY_COLUMNS];
  checkHeader(file, header, cols);
  const off = withFunction ? 1 : 0;
  const out = new Map<string, AppMemory>();
  rows.forEach((fields, r) => {
    const n = (c: number) => numberAt(file, r + 1, header, fields, c + off, false);
    out.set(appKey(fields[0]!, fields[1]!), { sampleCount: n(2), averageMb: n(3), percentilesMb: MEMORY_PERCENTILES.map((_, i) => n(4 + i)) });
  });
  return out;
}

export interface TraceFiles {
  invocations: string;
  durations?: string;
  memory?: string;
}

/** Reads the three files and joins them per function. */
export async function readTrace(files: TraceFiles): Promise<TraceFunction[]> {
  const read = (f: string) =>
    readFile(f, "utf8").catch((err: Error) => {
      throw new TraceFormatError(`${f}: cannot read: ${err.message}`);
    });
  const invocations = parseInvocations(await read(files.invocations), files.invocations);
  const durations = files.durations ? parseDurations(await read(files.durations), files.durations) : new Map<string, FunctionDurations>();
  const memory = files.memory ? parseMemory(await read(files.memory), files.memory) : new Map<string, AppMemory>();
  return invocations.map((f) => ({ ...f, durations: durations.get(functionKey(f)), memory: memory.get(appKey(f.owner, f.app)) }));
}

/** Inverse CDF by linear interpolation between known percentiles; `u` in [0, 1). */
export function sampleFromPercentiles(points: readonly number[], values: readonly number[], u: number): number {
  const p = u * 100;
  if (p <= points[0]!) return values[0]!;
  for (let i = 1; i < points.length; i++) {
    if (p <= points[i]!) {
      const f = (p - points[i - 1]!) / (points[i]! - points[i - 1]!);
      return values[i - 1]! + f * (values[i]! - values[i - 1]!);
    }
  }
  return values[values.length - 1]!;
}
