// REAP benchmark: cold snapshot-memory restore of a 512 MiB guest for several working-set shapes,
// four ways: (a) vanilla — memory file mapped MAP_PRIVATE and faulted by the kernel (Firecracker's
// File backend); (b) our userfaultfd handler, lazy; (c) REAP — working set streamed in with
// O_DIRECT reads while the guest runs (faults first), rest lazy; (d) the limit — one O_DIRECT
// read of the working set plus one copy of it. The page cache is dropped before every run.
// Also: per-fault cost of our handler against a minimal C handler built here, warm page cache;
// and 1, 2, 4, 8 REAP loads of the helloworld shape at once, each with its own handler.
// Every single-load figure is reported unpinned and pinned (guest and fault handler on one CPU).
// Writes bench/results/reap.json, reap.svg and reap.png; prints a table with ratios.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync, createWriteStream, readFileSync } from "node:fs";
import { writeFile, mkdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { once } from "node:events";
import { startUffdHandler } from "../node-runtime/memory/uffd-handler.js";
import { loadUffdNative } from "../node-runtime/memory/native-binding.js";
import { buildWorkingSetImage, parseWorkingSetHeader } from "../node-runtime/memory/working-set-file.js";
import { GuestProcess, buildGuest, ensureAddonBuilt, writeTrace } from "../tests/memory/guest-process.js";
import { SHAPES, workingSetTrace, meanRunLength, scatteredPages, type WorkingSetShape } from "./reap/shapes.js";
import { drawReapPlot, type PlotRow } from "./reap/plot.js";
import { loadAverage, measureConcurrentLoads } from "./reap/concurrency.js";

const here = dirname(fileURLToPath(import.meta.url));
// A partial run (REAP_BENCH_SHAPES) must not overwrite the committed results.
const RESULTS = process.env.REAP_BENCH_SHAPES ? "/tmp/vhuf-reap-partial" : join(here, "results");
const GUEST_BYTES = 512 << 20;
const PS = 4096;
const TOTAL_PAGES = GUEST_BYTES / PS;
const REPS = Number(process.env.REAP_BENCH_REPS ?? 5);
// Per-fault runs are short (a few hundred ms) and the host is shared: take more of them.
const FAULT_REPS = Number(process.env.REAP_BENCH_FAULT_REPS ?? 9);
const FAULT_PAGES = Number(process.env.REAP_BENCH_FAULT_PAGES ?? 20000);
const PIN_CPU = 1;
// REAP_BENCH_CONCURRENCY=1,2,4,8 (default): simultaneous loads to measure; "" skips them.
const CONCURRENCY = (process.env.REAP_BENCH_CONCURRENCY ?? "1,2,4,8").split(",").filter(Boolean).map(Number);

type Variant = "vanilla" | "lazy" | "reap" | "limit" | "limitPrefaulted";
const VARIANTS: Variant[] = ["vanilla", "lazy", "reap", "limit", "limitPrefaulted"];
interface Figures {
  vanillaMs: number;
  lazyMs: number;
  reapMs: number;
  /** One O_DIRECT read of the working set plus one copy into fresh (unallocated) guest memory. */
  limitMs: number;
  /** The same with buffer and guest memory allocated before the clock starts: I/O + memcpy only. */
  limitPrefaultedMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function dropCaches(): void {
  execFileSync("sync");
  execFileSync("sh", ["-c", "echo 3 > /proc/sys/vm/drop_caches"]);
}

/** Checks that dropping the page cache really evicts the memory file (so "cold" means cold). */
function cachedKiB(): number {
  const m = /^Cached:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) : NaN;
}

const work = mkdtempSync("/var/tmp/vhuf-bench-");
const children = new Set<GuestProcess>();
function cleanup(): void {
  for (const c of children) c.kill();
  rmSync(work, { recursive: true, force: true });
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

/** SCHED_FIFO priority for the per-fault runs: keeps other tenants' load off the measured path. */
const RT_PRIORITY = 20;
// REAP_BENCH_REALTIME=1: the cold lazy/REAP runs' fault thread runs SCHED_FIFO too (the handler's
// realtimePriority option; shows what other load on the host costs the install). Default: normal.
const COLD_REALTIME = process.env.REAP_BENCH_REALTIME === "1";

function guest(bin: string, args: string[], pinned: boolean, realtime = false): GuestProcess {
  const prefix = [...(realtime ? ["chrt", "-f", String(RT_PRIORITY)] : []), ...(pinned ? ["taskset", "-c", String(PIN_CPU)] : [])];
  const g = prefix.length ? new GuestProcess(prefix[0]!, [...prefix.slice(1), bin, ...args]) : new GuestProcess(bin, args);
  children.add(g);
  void g.exited.then(() => children.delete(g));
  return g;
}

async function writeMemoryFile(path: string): Promise<void> {
  // Random contents: nothing compresses or dedups, every page is distinct.
  const out = createWriteStream(path);
  for (let off = 0; off < GUEST_BYTES; off += 16 << 20) {
    if (!out.write(randomBytes(16 << 20))) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

/** Writes `src`'s working set again with its pages in ascending order (the comparison's variant). */
async function writeSortedCopy(src: string, dst: string): Promise<void> {
  const file = readFileSync(src);
  const h = parseWorkingSetHeader(file, src);
  const pages = Array.from({ length: h.pageCount }, (_, i) => ({ page: file.readUInt32LE(h.indexOffset + i * 4), at: i }));
  pages.sort((a, b) => a.page - b.page);
  const data = Buffer.alloc(h.pageCount * h.pageSize);
  for (const [i, p] of pages.entries()) file.copy(data, i * h.pageSize, h.dataOffset + p.at * h.pageSize, h.dataOffset + (p.at + 1) * h.pageSize);
  const image = buildWorkingSetImage(
    { pageSize: h.pageSize, memFileSize: h.memFileSize, pages: Uint32Array.from(pages, (p) => p.page), data, recordedAtMs: h.recordedAtMs },
    (b) => loadUffdNative().hash64(b),
  );
  await writeFile(dst, image);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:reap needs root (userfaultfd, drop_caches)");
  const loadAverageAtStart = loadAverage();
  ensureAddonBuilt();
  const guestBin = buildGuest(work);
  const cRef = join(work, "c-reference-handler");
  execFileSync("cc", ["-O2", "-Wall", "-o", cRef, join(here, "reap", "c-reference-handler.c")]);
  const memFile = join(work, "mem");
  await writeMemoryFile(memFile);

  dropCaches();
  const before = cachedKiB();
  readFileSync(memFile);
  const warm = cachedKiB();
  dropCaches();
  const after = cachedKiB();
  console.log(`drop_caches check: Cached ${before} KiB -> ${warm} KiB after reading the memory file -> ${after} KiB after dropping`);
  if (warm - after < (GUEST_BYTES / 1024) * 0.9) throw new Error("dropping the page cache does not evict the memory file; cold runs would be warm");

  let sockN = 0;
  const sock = () => join(work, `h${sockN++}.sock`);

  async function coldRun(v: Variant, shapeDir: string, pinned: boolean): Promise<number> {
    const trace = join(shapeDir, "trace");
    const ws = join(shapeDir, "working-set.reap");
    dropCaches();
    if (v !== "lazy" && v !== "reap") {
      const args =
        v === "vanilla"
          ? ["--file-backed", memFile, "--regions", String(GUEST_BYTES), "--trace", trace]
          : ["--limit", ws, "--regions", String(GUEST_BYTES), ...(v === "limitPrefaulted" ? ["--prefault"] : [])];
      const g = guest(guestBin, args, pinned);
      const first = await g.nextLine<{ sinceStartNs?: number; handshakeSent?: boolean }>(120_000);
      const r = first.sinceStartNs !== undefined ? first : await g.nextLine<{ sinceStartNs: number }>(120_000);
      g.child.stdin.end();
      await g.exited;
      return r.sinceStartNs! / 1e6;
    }
    return (await uffdColdRunWithSocket(v, trace, ws, pinned)).ms;
  }

  async function uffdColdRunWithSocket(mode: "lazy" | "reap", trace: string, wsPath: string, pinned: boolean) {
    const socketPath = sock();
    const h = await startUffdHandler({
      socketPath,
      memFilePath: memFile,
      mode: mode === "reap" ? "prefetch" : "lazy",
      workingSetPath: wsPath,
      ...(pinned ? { cpu: PIN_CPU } : {}),
      ...(COLD_REALTIME ? { realtimePriority: RT_PRIORITY } : {}),
    });
    const g = guest(guestBin, ["--socket", socketPath, "--regions", String(GUEST_BYTES), "--trace", trace], pinned);
    try {
      await g.nextLine();
      const r = await g.nextLine<{ sinceStartNs: number }>(120_000);
      const installed = await h.installed;
      if (mode === "reap" && installed.workingSetWarning) throw new Error(installed.workingSetWarning);
      return { ms: r.sinceStartNs / 1e6, installed, stats: h.stats() };
    } finally {
      g.child.stdin.end();
      await g.exited;
      await h.close();
    }
  }

  /** Records the working set the way production does: a record-mode load plus stopRecording. */
  async function record(shape: WorkingSetShape, shapeDir: string, pages: number[]): Promise<void> {
    const socketPath = sock();
    const h = await startUffdHandler({ socketPath, memFilePath: memFile, mode: "record", workingSetPath: join(shapeDir, "working-set.reap") });
    const g = guest(guestBin, ["--socket", socketPath, "--regions", String(GUEST_BYTES)], false);
    await g.nextLine();
    await h.ready;
    await g.command(`touch ${join(shapeDir, "trace")}`);
    const r = await h.stopRecording();
    g.child.stdin.end();
    await g.exited;
    await h.close();
    if (r.mode !== "record" || r.recordedPages.length !== pages.length || r.recordedPages.some((p, i) => p !== pages[i])) {
      throw new Error(`${shape.name}: recorded set differs from the trace`);
    }
  }

  const functions: (Figures & {
    name: string;
    pages: number;
    meanRun: number;
    pinned: Figures;
    fastest: Figures;
    fastestPinned: Figures;
    reap: Record<string, number>;
    reapSortedMs: number;
    loadAverageAtStart: string;
    loadAverageAtEnd: string;
  })[] = [];
  // REAP_BENCH_SHAPES=helloworld,ws-24k runs a subset (quick checks); default: all shapes.
  const only = process.env.REAP_BENCH_SHAPES?.split(",");
  for (const [i, shape] of SHAPES.entries()) {
    if (only && !only.includes(shape.name)) continue;
    const shapeDir = join(work, shape.name);
    mkdirSync(shapeDir);
    const shapeLoadAtStart = loadAverage();
    const pages = workingSetTrace(shape, TOTAL_PAGES, 1000 + i);
    writeTrace(join(shapeDir, "trace"), pages);
    await record(shape, shapeDir, pages);
    // The same set stored sorted by page number (how files were written before first-touch order).
    await writeSortedCopy(join(shapeDir, "working-set.reap"), join(shapeDir, "sorted.reap"));
    const sortedSamples: number[] = [];
    const figs: Record<"unpinned" | "pinned", Figures> = { unpinned: {} as Figures, pinned: {} as Figures };
    const fastest: Record<"unpinned" | "pinned", Figures> = { unpinned: {} as Figures, pinned: {} as Figures };
    let reapDetail: Record<string, number> = {};
    for (const pinned of [false, true]) {
      const samples: Record<Variant, number[]> = { vanilla: [], lazy: [], reap: [], limit: [], limitPrefaulted: [] };
      for (let rep = 0; rep < REPS; rep++) {
        // Interleave variants so drift on this shared machine hits all of them alike.
        for (const v of VARIANTS) {
          if (v === "reap") {
            dropCaches();
            const r = await uffdColdRunWithSocket("reap", join(shapeDir, "trace"), join(shapeDir, "working-set.reap"), pinned);
            samples.reap.push(r.ms);
            if (!pinned) {
              dropCaches();
              sortedSamples.push((await uffdColdRunWithSocket("reap", join(shapeDir, "trace"), join(shapeDir, "sorted.reap"), pinned)).ms);
            }
            if (!pinned && rep === REPS - 1) {
              reapDetail = {
                fetchStateMs: r.installed.fetchStateUs / 1000,
                installWsMs: r.installed.installWsUs / 1000,
                streamMs: r.installed.streamUs / 1000,
                installedPages: r.installed.installedPages,
                installIoctls: r.stats.installIoctls,
                // Faults on set pages that had not streamed in yet (answered by the stream's copy)…
                workingSetFaults: r.stats.workingSetFaults,
                // …and pages copied lazily from the memory file (0: the trace is the set).
                lazyCopies: r.stats.copiedPages,
              };
            }
          } else {
            samples[v].push(await coldRun(v, shapeDir, pinned));
          }
        }
      }
      figs[pinned ? "pinned" : "unpinned"] = {
        vanillaMs: median(samples.vanilla),
        lazyMs: median(samples.lazy),
        reapMs: median(samples.reap),
        limitMs: median(samples.limit),
        limitPrefaultedMs: median(samples.limitPrefaulted),
      };
      const min = (xs: number[]) => Math.min(...xs);
      fastest[pinned ? "pinned" : "unpinned"] = {
        vanillaMs: min(samples.vanilla),
        lazyMs: min(samples.lazy),
        reapMs: min(samples.reap),
        limitMs: min(samples.limit),
        limitPrefaultedMs: min(samples.limitPrefaulted),
      };
    }
    functions.push({
      name: shape.name,
      pages: shape.pages,
      meanRun: Number(meanRunLength(pages).toFixed(2)),
      ...figs.unpinned,
      pinned: figs.pinned,
      fastest: fastest.unpinned,
      fastestPinned: fastest.pinned,
      reap: reapDetail,
      // REAP with the set installed in ascending page order instead of first-touch order (unpinned).
      reapSortedMs: median(sortedSamples),
      loadAverageAtStart: shapeLoadAtStart,
      loadAverageAtEnd: loadAverage(),
    });
    const f = figs.unpinned;
    console.log(
      `${shape.name}: vanilla ${f.vanillaMs.toFixed(1)} ms, lazy ${f.lazyMs.toFixed(1)}, reap ${f.reapMs.toFixed(1)} (sorted install ${median(sortedSamples).toFixed(1)}), limit ${f.limitMs.toFixed(1)} (prefaulted ${f.limitPrefaultedMs.toFixed(1)})`,
    );
  }

  // Several loads at once, helloworld shape (recorded here if the shape loop skipped it).
  let concurrency: Awaited<ReturnType<typeof measureConcurrentLoads>> = [];
  if (CONCURRENCY.length > 0) {
    const hello = SHAPES.find((x) => x.name === "helloworld")!;
    const helloDir = join(work, hello.name);
    if (!functions.some((f) => f.name === hello.name)) {
      mkdirSync(helloDir);
      const pages = workingSetTrace(hello, TOTAL_PAGES, 1000 + SHAPES.indexOf(hello));
      writeTrace(join(helloDir, "trace"), pages);
      await record(hello, helloDir, pages);
    }
    concurrency = await measureConcurrentLoads(CONCURRENCY, {
      guestBin,
      memFile,
      workingSetPath: join(helloDir, "working-set.reap"),
      trace: join(helloDir, "trace"),
      regionsBytes: GUEST_BYTES,
      repetitions: REPS,
      socketPath: sock,
      guest: (bin, args) => guest(bin, args, false),
      dropCaches,
    });
    const one = concurrency.find((c) => c.loads === 1);
    for (const c of concurrency) {
      console.log(
        `${c.loads} REAP loads at once: mean ${c.reapMs.toFixed(1)} ms, slowest ${c.slowestMs.toFixed(1)} ms, stream ${c.streamMs.toFixed(1)} ms, ${c.joinedFetch} joined` +
          (one ? ` (${(c.reapMs / one.reapMs).toFixed(2)}x one load)` : "") +
          `, load average ${c.loadAverageAtStart} -> ${c.loadAverageAtEnd}`,
      );
    }
  }

  // Per-fault cost, warm page cache: distinct scattered pages, one fault each.
  const faultDir = join(work, "faults");
  mkdirSync(faultDir);
  const faultTrace = writeTrace(join(faultDir, "trace"), scatteredPages(FAULT_PAGES, TOTAL_PAGES, 7));
  readFileSync(memFile); // warm
  async function perFault(kind: "handler" | "cReference", pinned: boolean, realtime: boolean): Promise<number> {
    const socketPath = sock();
    let close: () => Promise<void>;
    if (kind === "handler") {
      const h = await startUffdHandler({
        socketPath,
        memFilePath: memFile,
        mode: "lazy",
        ...(pinned ? { cpu: PIN_CPU } : {}),
        ...(realtime ? { realtimePriority: RT_PRIORITY } : {}),
      });
      close = () => h.close();
    } else {
      const args = [socketPath, memFile, pinned ? String(PIN_CPU) : "-1", realtime ? String(RT_PRIORITY) : "0"];
      const p = spawn(cRef, args, { stdio: ["ignore", "pipe", "inherit"] });
      await once(p.stdout, "data"); // "listening"
      close = async () => {
        if (p.exitCode === null) await once(p, "exit");
      };
    }
    const g = guest(guestBin, ["--socket", socketPath, "--regions", String(GUEST_BYTES)], pinned, realtime);
    await g.nextLine();
    const r = await g.command<{ elapsedNs: number; pages: number }>(`touch ${faultTrace}`);
    g.child.stdin.end();
    await g.exited;
    await close();
    return r.elapsedNs / 1000 / r.pages;
  }
  // Alternate handler and reference within each repetition so drift hits both alike.
  const pf: Record<string, number[]> = {};
  for (let rep = 0; rep < FAULT_REPS; rep++) {
    for (const realtime of [true, false]) {
      for (const pinned of [false, true]) {
        for (const kind of ["handler", "cReference"] as const) {
          const series = `${kind}${pinned ? "Pinned" : ""}${realtime ? "" : "Normal"}`;
          pf[series] ??= [];
          pf[series].push(await perFault(kind, pinned, realtime));
        }
      }
    }
  }
  const pair = (suffix: string, f: (xs: number[]) => number) => ({ handler: f(pf[`handler${suffix}`]!), cReference: f(pf[`cReference${suffix}`]!) });
  const fastest = (xs: number[]) => Math.min(...xs);
  const perFaultUs = {
    // Headline: SCHED_FIFO (guest and fault thread), median.
    ...pair("", median),
    pinned: pair("Pinned", median),
    normalPriority: { ...pair("Normal", median), pinned: pair("PinnedNormal", median) },
    fastest: {
      ...pair("", fastest),
      pinned: pair("Pinned", fastest),
      normalPriority: pair("Normal", fastest),
      normalPriorityPinned: pair("PinnedNormal", fastest),
    },
    samples: pf,
  };

  const result = {
    functions,
    concurrency,
    perFaultUs,
    setup: {
      guestMiB: GUEST_BYTES >> 20,
      repetitions: REPS,
      faultRepetitions: FAULT_REPS,
      statistic:
        "median (fastest* fields: minimum); concurrency: median over repetitions of the mean (reapMs) and of the slowest (slowestMs) of the simultaneous loads",
      loadAverageAtStart,
      loadAverageAtEnd: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
      coldCache: "sync; echo 3 > /proc/sys/vm/drop_caches before every run",
      pinnedCpu: PIN_CPU,
      perFaultPages: FAULT_PAGES,
      coldRunsFaultThread: COLD_REALTIME ? `SCHED_FIFO ${RT_PRIORITY} (REAP_BENCH_REALTIME=1)` : "normal scheduling",
      perFaultHeadline: `SCHED_FIFO ${RT_PRIORITY} for guest and fault thread (other tenants' load kept off the path); normalPriority has the default-scheduling figures`,
      cpus: execFileSync("nproc").toString().trim(),
      kernel: execFileSync("uname", ["-r"]).toString().trim(),
    },
  };
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, "reap.json"), `${JSON.stringify(result, null, 2)}\n`);

  const rows: PlotRow[] = [];
  for (const f of functions) {
    for (const [cpu, fig] of [
      ["unpinned", f],
      ["pinned (one CPU)", f.pinned],
    ] as const) {
      rows.push(
        { function: f.name, variant: "vanilla", ms: fig.vanillaMs, cpu },
        { function: f.name, variant: "lazy", ms: fig.lazyMs, cpu },
        { function: f.name, variant: "reap", ms: fig.reapMs, cpu },
        { function: f.name, variant: "limit", ms: fig.limitMs, cpu },
        { function: f.name, variant: "limit, prefaulted", ms: fig.limitPrefaultedMs, cpu },
      );
    }
  }
  await drawReapPlot(rows, join(RESULTS, "reap.svg"), join(RESULTS, "reap.png"));

  const line = (cols: (string | number)[]) => cols.map((c, i) => String(c).padStart(i === 0 ? 12 : 10)).join(" ");
  for (const [label, pick] of [
    ["unpinned", (f: (typeof functions)[number]) => f as Figures],
    ["pinned", (f: (typeof functions)[number]) => f.pinned],
  ] as const) {
    console.log(`\n${label}: cold restore, ms (median of ${REPS})`);
    console.log(line(["function", "pages", "vanilla", "lazy", "reap", "limit", "limit-pf", "van/reap", "reap/limit", "reap/lim-pf"]));
    for (const f of functions) {
      const x = pick(f);
      console.log(
        line([
          f.name,
          f.pages,
          x.vanillaMs.toFixed(1),
          x.lazyMs.toFixed(1),
          x.reapMs.toFixed(1),
          x.limitMs.toFixed(1),
          x.limitPrefaultedMs.toFixed(1),
          `${(x.vanillaMs / x.reapMs).toFixed(2)}x`,
          `${(x.reapMs / x.limitMs).toFixed(2)}x`,
          `${(x.reapMs / x.limitPrefaultedMs).toFixed(2)}x`,
        ]),
      );
    }
  }
  const cmp = (label: string, x: { handler: number; cReference: number }) =>
    console.log(
      `  ${label.padEnd(34)} handler ${x.handler.toFixed(2).padStart(6)}  C ${x.cReference.toFixed(2).padStart(6)}  ratio ${(x.handler / x.cReference).toFixed(2)}x`,
    );
  console.log(`\nper-fault cost, warm cache, µs (median of ${FAULT_REPS}; fastest in brackets):`);
  cmp("SCHED_FIFO, unpinned", perFaultUs);
  cmp("SCHED_FIFO, pinned", perFaultUs.pinned);
  cmp("normal priority, unpinned", perFaultUs.normalPriority);
  cmp("normal priority, pinned", perFaultUs.normalPriority.pinned);
  cmp("[fastest] SCHED_FIFO, unpinned", perFaultUs.fastest);
  cmp("[fastest] SCHED_FIFO, pinned", perFaultUs.fastest.pinned);
  cmp("[fastest] normal, unpinned", perFaultUs.fastest.normalPriority);
  cmp("[fastest] normal, pinned", perFaultUs.fastest.normalPriorityPinned);
  console.log(`load average at start ${result.setup.loadAverageAtStart}, at end ${result.setup.loadAverageAtEnd} (2 CPUs, shared host)`);
  console.log(`wrote ${join(RESULTS, "reap.json")}, reap.svg, reap.png`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
