import { readdir } from "node:fs/promises";
import { readProcFile } from "#node-runtime/system/proc-file.js";

// /proc/<pid>/stat times are in clock ticks; Linux reports them at USER_HZ = 100 on x86-64.
const MICROS_PER_TICK = 10_000;

interface ProcEntry {
  pid: number;
  ppid: number;
  state: string;
  cpuTicks: number;
}

function parseStat(text: string): ProcEntry | undefined {
  // The command name may hold spaces and parentheses; fields resume after the last ")".
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf(" ")));
  const rest = text.slice(close + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { pid, ppid: Number(rest[1]), state: rest[0] ?? "?", cpuTicks: utime + stime };
}

async function readProcTable(): Promise<ProcEntry[]> {
  const names = await readdir("/proc");
  const entries = await Promise.all(names.filter((n) => /^\d+$/.test(n)).map((n) => readProcFile(`/proc/${n}/stat`).then(parseStat, () => undefined)));
  return entries.filter((e): e is ProcEntry => e !== undefined);
}

/** True while the process exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  const entry = await readProcFile(`/proc/${pid}/stat`).then(parseStat, () => undefined);
  return entry !== undefined && entry.state !== "Z";
}

/** The gofer that serves a bundle's files (runsc starts it beside the sandbox, not under it). */
export async function findGoferPids(bundleDir: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of (await readdir("/proc")).filter((n) => /^\d+$/.test(n))) {
    const argv = await readProcFile(`/proc/${name}/cmdline`).then(
      (t) => t.split("\0"),
      () => [] as string[],
    );
    if (!argv.includes("gofer")) continue;
    const i = argv.indexOf("--bundle");
    if ((i >= 0 && argv[i + 1] === bundleDir) || argv.includes(`--bundle=${bundleDir}`)) found.push(Number(name));
  }
  return found;
}

/** A process and all its descendants (the sandbox's ptrace stubs run under it). */
export async function processTree(root: number): Promise<ProcEntry[]> {
  const table = await readProcTable();
  const byParent = new Map<number, ProcEntry[]>();
  for (const e of table) byParent.set(e.ppid, [...(byParent.get(e.ppid) ?? []), e]);
  const rootEntry = table.find((e) => e.pid === root);
  if (!rootEntry) return [];
  const out: ProcEntry[] = [];
  const queue = [rootEntry];
  while (queue.length > 0) {
    const e = queue.shift() as ProcEntry;
    out.push(e);
    queue.push(...(byParent.get(e.pid) ?? []));
  }
  return out;
}

/**
 * Proportional set size of one process in bytes: its resident memory with pages shared among
 * processes divided between them. gVisor maps the application's memory file into both the sentry
 * and the stub processes, so a plain RSS sum would count that memory twice.
 */
async function pssBytes(pid: number): Promise<number> {
  const rollup = await readProcFile(`/proc/${pid}/smaps_rollup`).catch(() => "");
  const pss = /^Pss:\s+(\d+) kB/m.exec(rollup);
  if (pss) return Number(pss[1]) * 1024;
  const status = await readProcFile(`/proc/${pid}/status`).catch(() => "");
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return rss ? Number(rss[1]) * 1024 : 0;
}

export interface TreeUsage {
  pids: number[];
  memoryBytes: number;
  cpuMicros: number;
}

/** Memory (PSS) and CPU time summed over the sandbox process tree plus extra processes (the gofer). */
export async function treeUsage(root: number, extra: number[] = []): Promise<TreeUsage> {
  const tree = await processTree(root);
  const table = extra.length > 0 ? await readProcTable() : [];
  const all = [...tree, ...table.filter((e) => extra.includes(e.pid) && !tree.some((t) => t.pid === e.pid))];
  const memory = await Promise.all(all.map((e) => pssBytes(e.pid)));
  return {
    pids: all.map((e) => e.pid),
    memoryBytes: memory.reduce((a, b) => a + b, 0),
    cpuMicros: all.reduce((a, e) => a + e.cpuTicks * MICROS_PER_TICK, 0),
  };
}
