import { readFile } from "node:fs/promises";

export interface LoadSample {
  /** What the figure next to it was measuring. */
  at: string;
  /** The first three fields of /proc/loadavg: 1, 5 and 15 minute load averages. */
  loadavg: [number, number, number];
  /** /proc/loadavg as read. */
  raw: string;
}

/** Reads the machine's load, to be recorded with every benchmark figure. */
export async function loadSample(at: string): Promise<LoadSample> {
  const raw = (await readFile("/proc/loadavg", "utf8")).trim();
  const [a, b, c] = raw.split(/\s+/).map(Number);
  return { at, loadavg: [a ?? NaN, b ?? NaN, c ?? NaN], raw };
}
