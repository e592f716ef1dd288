import { describe, it, expect, beforeAll, afterAll, afterEach } from "vitest";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startUffdHandler, type UffdHandler, type UffdHandlerOptions } from "#node-runtime/memory/uffd-handler.js";
import { isWorkingSetStale, planReapLoad, workingSetPathFor } from "#node-runtime/memory/working-set-policy.js";
import { readWorkingSetPages } from "#node-runtime/memory/working-set-file.js";
import { StageTimer } from "#node-runtime/metrics/stages.js";
import { buildGuest, ensureAddonBuilt, GuestProcess, makeTempDir, pageSum, uffdUnavailableReason, writeTrace } from "./guest-process.js";

const skipReason = uffdUnavailableReason();
if (skipReason) console.log(`tests/memory/uffd-handler.integration.test.ts skipped: ${skipReason}`);

const PS = 4096;
const REGIONS = [16 << 20, 48 << 20]; // two regions, like a guest split around a memory hole
const MEM_SIZE = REGIONS[0]! + REGIONS[1]!;
const PAGES = MEM_SIZE / PS;

// Deterministic pseudo-random page picks (no Math.random: failures must be reproducible).
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function pickPages(n: number, seed: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.floor(r() * PAGES));
  return out;
}
const firstOccurrence = (pages: number[]): number[] => [...new Set(pages)];

describe.skipIf(skipReason !== undefined)("userfaultfd handler against a Firecracker-like guest", () => {
  let tmp: { dir: string; cleanup: () => void };
  let guestBin: string;
  let memFile: string;
  let mem: Buffer;
  const open: { h?: UffdHandler; g?: GuestProcess }[] = [];
  let n = 0;

  beforeAll(() => {
    ensureAddonBuilt();
    tmp = makeTempDir("uffd-test");
    guestBin = buildGuest(tmp.dir);
    mem = randomBytes(MEM_SIZE);
    memFile = join(tmp.dir, "snapshot", "mem");
    mkdirSync(join(tmp.dir, "snapshot"));
    writeFileSync(memFile, mem);
  });
  afterEach(async () => {
    for (const o of open.splice(0)) {
      o.g?.kill();
      await o.h?.close();
    }
  });
  afterAll(() => tmp?.cleanup());

  async function launch(
    opts: Partial<UffdHandlerOptions> & { mode: UffdHandlerOptions["mode"] },
    guestArgs: string[] = [],
  ): Promise<{ h: UffdHandler; g: GuestProcess; socketPath: string }> {
    const socketPath = join(tmp.dir, `s${n++}.sock`);
    const h = await startUffdHandler({ socketPath, memFilePath: memFile, handshakeTimeoutMs: 5000, ...opts });
    const g = new GuestProcess(guestBin, ["--socket", socketPath, "--regions", REGIONS.join(","), ...guestArgs]);
    open.push({ h, g });
    await g.nextLine(); // {"handshakeSent":true}
    return { h, g, socketPath };
  }

  const fileSums = (pages: number[]): number[] => pages.map((p) => pageSum(mem.subarray(p * PS, (p + 1) * PS)));

  it("lazy: every touched page equals the memory file's page, in both regions", async () => {
    const { h, g } = await launch({ mode: "lazy" });
    const ready = await h.ready;
    expect(ready.regions.map((r) => [r.size, r.offset])).toEqual([
      [REGIONS[0], 0],
      [REGIONS[1], REGIONS[0]],
    ]);
    expect(ready.peerPid).toBe(g.pid);
    const trace = pickPages(400, 1);
    const res = await g.command<{ sums: number[]; residentBefore: number }>(`touch ${writeTrace(join(tmp.dir, "t-lazy"), trace)} sums`);
    expect(res.residentBefore).toBe(0);
    expect(res.sums).toEqual(fileSums(trace));
    const s = h.stats();
    expect(s.copiedPages).toBe(new Set(trace).size);
    expect(s.faults).toBe(new Set(trace).size);
  });

  it("record: yields exactly the touched pages in first-touch order and writes the working set atomically", async () => {
    const snapDir = join(tmp.dir, "snapshot");
    const timer = new StageTimer();
    const { h, g } = await launch({ mode: "record", timer });
    await h.ready;
    const trace = [...pickPages(300, 2), ...pickPages(50, 2).slice(0, 50)]; // repeats must not be recorded twice
    await g.command(`touch ${writeTrace(join(tmp.dir, "t-rec"), trace)}`);
    const r = await h.stopRecording();
    if (r.mode !== "record") throw new Error("expected a record result");
    expect([...r.recordedPages]).toEqual(firstOccurrence(trace));
    expect(r.workingSetPath).toBe(workingSetPathFor(snapDir));
    const stored = await readWorkingSetPages(r.workingSetPath);
    // Stored in first-touch order, which is the order the next load installs them in.
    expect([...stored]).toEqual(firstOccurrence(trace));
    // Pages touched after stopRecording are served but not recorded.
    await g.command(`touch ${writeTrace(join(tmp.dir, "t-rec2"), [7, 8, 9])}`);
    expect(h.stats().recordedPages).toBe(firstOccurrence(trace).length);
    expect(await planReapLoad(snapDir, MEM_SIZE)).toMatchObject({ mode: "prefetch", reason: "ok" });
  });

  it("prefetch: installs the set before the guest touches it; reused/unique counts are exact", async () => {
    const snapDir = join(tmp.dir, "snapshot");
    const wsPages = firstOccurrence(pickPages(300, 2));
    expect([...(await readWorkingSetPages(workingSetPathFor(snapDir)))]).toEqual(wsPages);
    const ws = new Set(wsPages);
    const extra = firstOccurrence(pickPages(40, 99)).filter((p) => !ws.has(p));
    const timer = new StageTimer();
    const { h, g } = await launch({ mode: "prefetch", timer, rerecordThreshold: 0.5 });
    await h.ready;
    const installed = await h.installed;
    expect(installed.workingSetWarning).toBeUndefined();
    expect(installed.installedPages).toBe(ws.size);
    const trace = [...wsPages.slice(0, 150), ...extra, ...wsPages.slice(150)];
    const res = await g.command<{ sums: number[]; residentBefore: number }>(`touch ${writeTrace(join(tmp.dir, "t-pf"), trace)} sums`);
    // mincore before touching: every working-set page is already present, no extra page is.
    expect(res.residentBefore).toBe(ws.size);
    expect(res.sums).toEqual(fileSums(trace));
    const s = h.stats();
    expect(s.workingSetFaults).toBe(0);
    expect(s.faults).toBe(extra.length);
    expect(s.uniquePages).toBe(extra.length);
    expect(s.reusedPages).toBe(ws.size);
    const r = await h.stopRecording();
    expect(r).toEqual({
      mode: "prefetch",
      reusedPages: ws.size,
      uniquePages: extra.length,
      outsideShare: extra.length / (ws.size + extra.length),
      rerecord: false,
    });
    const stages = timer.snapshot();
    expect(stages.FetchState).toBeGreaterThan(0);
    expect(stages.InstallWS).toBeGreaterThan(0);
    expect(stages.ServeUnique).toBeGreaterThan(0);
    expect(await planReapLoad(snapDir, MEM_SIZE)).toMatchObject({ mode: "prefetch" });
  });

  it("prefetch: vCPUs that fault while the set is being installed are woken (final UFFDIO_WAKE, or the wake that answers EEXIST)", async () => {
    const ws = await readWorkingSetPages(workingSetPathFor(join(tmp.dir, "snapshot")));
    const { h, g } = await launch({ mode: "prefetch" });
    // No waiting for ready: the guest faults on set pages before and while they are installed.
    const res = await g.command<{ sums: number[] }>(`vcpus 2 ${writeTrace(join(tmp.dir, "t-race"), [...ws])}`);
    expect(res.sums).toEqual(fileSums([...ws]));
    expect((await h.installed).installedPages).toBe(ws.length);
    const s = h.stats();
    // Faults that raced the install are answered by the install, never copied lazily.
    expect(s.copiedPages).toBe(0);
    expect(s.uniquePages).toBe(0);
  });

  it("prefetch: too many faults outside the set mark it for re-recording", async () => {
    const snapDir = join(tmp.dir, "snapshot");
    const ws = new Set(await readWorkingSetPages(workingSetPathFor(snapDir)));
    const extra = firstOccurrence(pickPages(200, 7)).filter((p) => !ws.has(p));
    const { h, g } = await launch({ mode: "prefetch", rerecordThreshold: 0.2 });
    await h.ready;
    await g.command(`touch ${writeTrace(join(tmp.dir, "t-pf2"), extra)}`);
    const r = await h.stopRecording();
    expect(r).toMatchObject({ mode: "prefetch", uniquePages: extra.length, rerecord: true });
    expect(await planReapLoad(snapDir, MEM_SIZE)).toMatchObject({ mode: "record" });
  });

  it("prefetch with an unusable working set (a page listed twice) serves lazily and asks for re-recording", async () => {
    const wsPath = join(tmp.dir, "twice.reap");
    const bad = readFileSync(workingSetPathFor(join(tmp.dir, "snapshot")));
    const indexOffset = Number(bad.readBigUInt64LE(32));
    bad.writeUInt32LE(bad.readUInt32LE(indexOffset), indexOffset + 4);
    writeFileSync(wsPath, bad);
    const { h, g } = await launch({ mode: "prefetch", workingSetPath: wsPath });
    await h.ready;
    const installed = await h.installed;
    expect(installed.workingSetWarning).toMatch(/page index out of range or lists a page twice/);
    expect(installed.installedPages).toBe(0);
    const trace = pickPages(20, 3);
    const res = await g.command<{ sums: number[] }>(`touch ${writeTrace(join(tmp.dir, "t-c"), trace)} sums`);
    expect(res.sums).toEqual(fileSums(trace));
    expect(h.stats().copiedPages).toBe(new Set(trace).size);
    expect(await h.stopRecording()).toMatchObject({ rerecord: true });
  });

  it("a working set that fails its checksum after its pages were installed kills the VMM and is marked stale", async () => {
    const wsPath = join(tmp.dir, "corrupt.reap");
    const good = readFileSync(workingSetPathFor(join(tmp.dir, "snapshot")));
    good.writeUInt8(good.readUInt8(good.length - 1) ^ 0xff, good.length - 1);
    writeFileSync(wsPath, good);
    const { h, g } = await launch({ mode: "prefetch", workingSetPath: wsPath });
    const failure = new Promise<{ killedPid: number; message: string }>((res) => h.onFailure((f) => res({ killedPid: f.killedPid, message: f.error.message })));
    await h.ready; // the guest may already run on installed pages when the last chunk disagrees
    await expect(h.installed).rejects.toThrow(/checksum mismatch after its pages were installed/);
    const f = await failure;
    expect(f.killedPid).toBe(g.pid);
    expect(await g.exited).toMatchObject({ signal: "SIGKILL" });
    await h.stopped;
    expect(await isWorkingSetStale(wsPath)).toBe(true);
  });

  it("prefetch streams the set while the guest runs: ready comes first, set pages are never copied lazily, pages outside it are", async () => {
    // A set of many chunks (about 12 MiB of pages), recorded through the real path.
    const wsPath = join(tmp.dir, "streamed.reap");
    const wsPages = firstOccurrence(pickPages(3000, 41));
    const rec = await launch({ mode: "record", workingSetPath: wsPath });
    await rec.h.ready;
    await rec.g.command(`touch ${writeTrace(join(tmp.dir, "t-rec-stream"), wsPages)}`);
    await rec.h.stopRecording();
    const ws = new Set(wsPages);
    const extra = firstOccurrence(pickPages(200, 43)).filter((p) => !ws.has(p));
    // Interleaved as a guest would touch them: set pages in recorded order, strangers among them.
    const trace = wsPages.flatMap((p, i) => (i % 15 === 0 && extra[i / 15] !== undefined ? [extra[i / 15]!, p] : [p]));
    const traceFile = writeTrace(join(tmp.dir, "t-stream"), trace);
    const order: string[] = [];
    // The guest starts touching right after its handshake, before the set can be in.
    const { h, g } = await launch({ mode: "prefetch", workingSetPath: wsPath }, ["--trace", traceFile]);
    void h.ready.then(() => order.push("ready"));
    const installed = h.installed.then((i) => {
      order.push("installed");
      return i;
    });
    const touched = await g.nextLine<{ pages: number }>(60_000);
    expect(touched.pages).toBe(trace.length);
    expect((await installed).installedPages).toBe(ws.size);
    expect(order).toEqual(["ready", "installed"]);
    const strangers = extra.filter((p) => trace.includes(p));
    const res = await g.command<{ sums: number[] }>(`touch ${traceFile} sums`);
    expect(res.sums).toEqual(fileSums(trace));
    const s = h.stats();
    // Set pages reach the guest only through the stream (a fault on one not yet streamed waits
    // for its chunk's copy); every page outside the set is served at once, from the memory file.
    expect(s.copiedPages).toBe(strangers.length);
    expect(s.uniquePages).toBe(strangers.length);
    expect(s.faults).toBe(s.workingSetFaults + strangers.length);
    expect(s.installedPages).toBe(ws.size);
    console.log(`streamed: ${s.workingSetFaults} faults on set pages left to the stream, ${s.parkedFaults} held until the index was read`);
  });

  it("several loads of one working set at once: each guest gets the set installed and the file's contents", async () => {
    const wsPath = join(tmp.dir, "streamed.reap");
    const ws = await readWorkingSetPages(wsPath);
    const traceFile = writeTrace(join(tmp.dir, "t-many"), [...ws]);
    const loads = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const socketPath = join(tmp.dir, `s${n++}.sock`);
        const h = await startUffdHandler({ socketPath, memFilePath: memFile, mode: "prefetch", workingSetPath: wsPath });
        const g = new GuestProcess(guestBin, ["--socket", socketPath, "--regions", REGIONS.join(","), "--trace", traceFile, "--wait-go"]);
        open.push({ h, g });
        await g.nextLine(); // {"armed":true}
        return { h, g };
      }),
    );
    for (const { g } of loads) g.child.stdin.write("go\n");
    for (const { h, g } of loads) {
      await g.nextLine(); // {"handshakeSent":true}
      expect((await g.nextLine<{ pages: number }>(60_000)).pages).toBe(ws.length);
      expect((await h.installed).installedPages).toBe(ws.length);
      const res = await g.command<{ sums: number[] }>(`touch ${traceFile} sums`);
      expect(res.sums).toEqual(fileSums([...ws]));
      const s = h.stats();
      expect(s.copiedPages).toBe(0);
      expect(s.installedPages).toBe(ws.length);
    }
    const joined = loads.filter(({ h }) => h.stats().joinedFetch === 1).length;
    console.log(`simultaneous loads: ${joined} of ${loads.length} took the set from a read another load had started`);
  });

  it("close() while the working set streams stops the handler and releases it", async () => {
    const wsPath = join(tmp.dir, "streamed.reap");
    const { h } = await launch({ mode: "prefetch", workingSetPath: wsPath });
    await h.ready;
    await h.close();
    expect((await h.stopped).reason).toBe("closed");
    // Either the set was in before close() or the load ended without it; never left pending.
    await h.installed.then(
      (i) => expect(i.installedPages).toBeGreaterThan(0),
      (e: Error) => expect(e.message).toMatch(/stopped before the working set was installed/),
    );
  });

  it("several vCPUs faulting the same pages at once all get the file's contents; duplicate faults count as already present", async () => {
    const { h, g } = await launch({ mode: "lazy" });
    await h.ready;
    const trace = firstOccurrence(pickPages(3000, 11));
    const res = await g.command<{ sums: number[] }>(`vcpus 4 ${writeTrace(join(tmp.dir, "t-vcpu"), trace)}`);
    expect(res.sums).toEqual(fileSums(trace));
    const s = h.stats();
    expect(s.copiedPages).toBe(trace.length);
    // Every fault message was either a copy or an already-present page that got woken.
    expect(s.faults).toBe(s.copiedPages + s.alreadyPresent);
  });

  it("handlers for several VMs run side by side in one process without sharing state", async () => {
    const a = await launch({ mode: "lazy" });
    const b = await launch({ mode: "record", workingSetPath: join(tmp.dir, "side-by-side.reap") });
    await Promise.all([a.h.ready, b.h.ready]);
    const ta = pickPages(500, 21);
    const tb = firstOccurrence(pickPages(300, 22));
    const [ra, rb] = await Promise.all([
      a.g.command<{ sums: number[] }>(`touch ${writeTrace(join(tmp.dir, "t-a"), ta)} sums`),
      b.g.command<{ sums: number[] }>(`touch ${writeTrace(join(tmp.dir, "t-b"), tb)} sums`),
    ]);
    expect(ra.sums).toEqual(fileSums(ta));
    expect(rb.sums).toEqual(fileSums(tb));
    expect(a.h.stats().copiedPages).toBe(new Set(ta).size);
    const rec = await b.h.stopRecording();
    expect(rec.mode === "record" && [...rec.recordedPages]).toEqual(tb);
  });

  it("UFFD_EVENT_REMOVE: pages the balloon removed fault back in as zeroes", async () => {
    const { h, g } = await launch({ mode: "lazy" });
    await h.ready;
    const pages = [100, 101, 102, 103];
    const t = writeTrace(join(tmp.dir, "t-rm"), pages);
    expect((await g.command<{ sums: number[] }>(`touch ${t} sums`)).sums).toEqual(fileSums(pages));
    expect(await g.command("remove 101 2")).toEqual({ removed: true });
    const after = await g.command<{ sums: number[] }>(`touch ${t} sums`);
    const zero = pageSum(new Uint8Array(PS));
    expect(after.sums).toEqual([fileSums([100])[0], zero, zero, fileSums([103])[0]]);
    const s = h.stats();
    expect(s.removeEvents).toBe(1);
    expect(s.removedPages).toBe(2);
    expect(s.zeroPages).toBe(2);
  });

  it("REMOVE events racing page faults (EAGAIN from UFFDIO_COPY) neither hang nor corrupt pages", async () => {
    const { h, g } = await launch({ mode: "lazy" });
    await h.ready;
    const trace = firstOccurrence(pickPages(400, 31));
    const res = await g.command<{ sums: number[] }>(`churn 10 ${writeTrace(join(tmp.dir, "t-churn"), trace)}`);
    const zero = pageSum(new Uint8Array(PS));
    const expected = fileSums(trace);
    // A page ends as the file's contents (never removed, or refaulted before any removal) or as
    // zeroes (removed by the balloon, then faulted in again): nothing else.
    for (const [i, sum] of res.sums.entries()) expect([expected[i], zero]).toContain(sum);
    const s = h.stats();
    expect(s.removeEvents).toBeGreaterThan(0);
    expect(s.zeroPages).toBeGreaterThan(0);
    console.log(`churn: ${s.removeEvents} REMOVE events, ${s.eagainRetries} EAGAIN retries, ${s.zeroPages} zero pages`);
  });

  it("accepts the legacy handshake fields (page_size_kib only, or no page size)", async () => {
    for (const fields of ["kib", "none", "new"]) {
      const { h, g } = await launch({ mode: "lazy" }, ["--fields", fields]);
      await h.ready;
      const res = await g.command<{ sums: number[] }>(`touch ${writeTrace(join(tmp.dir, "t-f"), [5, 5000])} sums`);
      expect(res.sums).toEqual(fileSums([5, 5000]));
    }
  });

  async function expectBadHandshake(guestArgs: string[], message: RegExp, regions?: string): Promise<void> {
    const socketPath = join(tmp.dir, `s${n++}.sock`);
    const h = await startUffdHandler({ socketPath, memFilePath: memFile, mode: "lazy", handshakeTimeoutMs: 1500 });
    const failures: string[] = [];
    h.onFailure((f) => failures.push(f.error.message));
    const g = new GuestProcess(guestBin, ["--socket", socketPath, "--regions", regions ?? REGIONS.join(","), ...guestArgs]);
    open.push({ h, g });
    await expect(h.ready).rejects.toThrow(message);
    expect(failures).toHaveLength(1);
    // The VMM that sent a bad handshake is killed, not left hanging on its first fault.
    expect(await g.exited).toMatchObject({ signal: "SIGKILL" });
    await h.stopped;
    expect(existsSync(socketPath)).toBe(false);
  }

  it("bad handshake: no fd", async () => {
    await expectBadHandshake(["--no-fd"], /no userfaultfd arrived/);
  });

  it("bad handshake: malformed JSON", async () => {
    const f = join(tmp.dir, "bad.json");
    writeFileSync(f, '[{"base_host_virt_addr": 4096, "size": ');
    await expectBadHandshake(["--message-file", f], /not valid JSON/);
  });

  it("bad handshake: a region beyond the memory file", async () => {
    await expectBadHandshake([], /regions\[1\] reaches beyond the memory file/, `${REGIONS[0]},${REGIONS[1]! + PS}`);
  });

  it("bad handshake: overlapping regions", async () => {
    const f = join(tmp.dir, "overlap.json");
    writeFileSync(
      f,
      JSON.stringify([
        { base_host_virt_addr: 0x7f0000000000, size: 2 * PS, offset: 0, page_size: PS, page_size_kib: PS },
        { base_host_virt_addr: 0x7f0000001000, size: PS, offset: 2 * PS, page_size: PS, page_size_kib: PS },
      ]),
    );
    await expectBadHandshake(["--message-file", f], /regions\[0\] and regions\[1\] overlap in their VMM address ranges/);
  });

  it("bad handshake: VMM connects but sends nothing (timeout)", async () => {
    await expectBadHandshake(["--send-nothing"], /sent nothing within 1500 ms/);
  });

  it("a fault the handler cannot serve kills the VMM and reports the failure", async () => {
    const { h, g } = await launch({ mode: "lazy" }, ["--lie-base"]);
    const failure = new Promise<{ killedPid: number; message: string }>((res) => h.onFailure((f) => res({ killedPid: f.killedPid, message: f.error.message })));
    await h.ready; // the lie is only visible at the first fault
    g.child.stdin.write(`touch ${writeTrace(join(tmp.dir, "t-lie"), [1])}\n`);
    const f = await failure;
    expect(f.message).toMatch(/outside every region/);
    expect(f.killedPid).toBe(g.pid);
    expect(await g.exited).toMatchObject({ signal: "SIGKILL" });
    expect((await h.stopped).reason).toMatch(/^failed/);
  });

  it("socketOwner hands the socket to the VMM's uid (a jailed Firecracker is not root)", async () => {
    const socketPath = join(tmp.dir, `s${n++}.sock`);
    const h = await startUffdHandler({ socketPath, memFilePath: memFile, mode: "lazy", socketOwner: { uid: 4321, gid: 4322 } });
    open.push({ h });
    const st = statSync(socketPath);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4321, 4322, 0o600]);
  });

  it("the handler stops by itself when the VMM exits", async () => {
    const { h, g } = await launch({ mode: "lazy" });
    await h.ready;
    g.child.stdin.write("exit\n");
    expect((await h.stopped).reason).toBe("vmm-exited");
  });
});
