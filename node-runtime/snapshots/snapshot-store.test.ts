import { copyFile, mkdtemp, open, readFile, readdir, rename, rm, stat, utimes, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SnapshotCorruptError, SnapshotStore, type SnapshotEvent, type SnapshotStoreOptions } from "./snapshot-store.js";

let root: string;
const opened: SnapshotStore[] = [];
let events: SnapshotEvent[];
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "vhor-snap-"));
  events = [];
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await rm(root, { recursive: true, force: true });
});

async function store(budgetBytes: number, opts: Partial<SnapshotStoreOptions> = {}) {
  const s = new SnapshotStore({ root, budgetBytes, onEvent: (e) => events.push(e), ...opts });
  opened.push(s);
  await s.init();
  return s;
}

async function put(s: SnapshotStore, revision: string, bytes: number): Promise<boolean> {
  const dir = await s.stage(revision);
  await mkdir(path.join(dir, "sub"));
  await writeFile(path.join(dir, "sub", "mem"), Buffer.alloc(bytes, 7));
  return s.commit(dir, { revision, sandbox: "gvisor", imageDigest: "sha256:x" });
}

const tick = () => new Promise((r) => setTimeout(r, 15));

describe("SnapshotStore", () => {
  it("commits atomically with a manifest of sizes and checksums", async () => {
    const s = await store(10_000);
    expect(await put(s, "a", 1000)).toBe(true);
    const lease = await s.acquire("a");
    const st = await stat(path.join(root, "committed", "a", "sub", "mem"), { bigint: true });
    expect(lease?.manifest.files).toEqual([
      { path: "sub/mem", size: 1000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), ino: Number(st.ino), mtimeNs: st.mtimeNs.toString() },
    ]);
    expect(lease?.manifest.snapshotId).toMatch(/^[0-9a-f]{32}$/);
    lease!.release();
    expect(await readdir(path.join(root, "staging"))).toEqual([]);
    // A second commit for the same revision keeps the first and drops the staged copy.
    expect(await put(s, "a", 500)).toBe(false);
    expect((await s.list())[0]!.sizeBytes).toBe(1000);
    expect(await readdir(path.join(root, "staging"))).toEqual([]);
  });

  it("with enforceBudget false (the served runtime's StorageBudget collects) keeps what exceeds the budget, at commit and at start-up", async () => {
    const s = await store(1500, { enforceBudget: false });
    expect(await put(s, "a", 1000)).toBe(true);
    expect(await put(s, "b", 2000)).toBe(true);
    expect((await s.list()).map((x) => x.revision).sort()).toEqual(["a", "b"]);
    await s.close();
    const restarted = await store(1500, { enforceBudget: false });
    expect((await restarted.list()).map((x) => x.revision).sort()).toEqual(["a", "b"]);
    expect(events.filter((e) => e.kind === "evicted" || e.kind === "discarded")).toEqual([]);
  });

  it("evicts least recently used snapshots beyond the budget, never the one in use", async () => {
    const s = await store(3000);
    await put(s, "a", 1000);
    await tick();
    await put(s, "b", 1000);
    await tick();
    await put(s, "c", 1000);
    await tick();
    (await s.acquire("a"))!.release(); // a is now the most recently used
    await tick();
    await put(s, "d", 1000); // over budget: b is the least recently used
    expect((await s.list()).map((x) => x.revision)).toEqual(["a", "c", "d"]);
    expect(events).toContainEqual({ kind: "evicted", revision: "b", sizeBytes: 1000 });

    const held = await s.acquire("c"); // c is the LRU now, but a load holds it
    await tick();
    await put(s, "e", 1000);
    expect((await s.list()).map((x) => x.revision)).toEqual(["c", "d", "e"]);
    expect(await s.totalBytes()).toBe(3000);
    await expect(s.remove("c")).rejects.toThrow(/being loaded/);
    held!.release();
    await s.remove("c");
    await expect(s.remove("c")).rejects.toThrow(/no snapshot for revision c/);
  });

  it("refuses a snapshot larger than the whole budget", async () => {
    const s = await store(100);
    expect(await put(s, "big", 1000)).toBe(false);
    expect(await s.list()).toEqual([]);
    expect(events[0]).toMatchObject({ kind: "discarded", revision: "big" });
  });

  it("discards a snapshot with a missing file or a broken manifest", async () => {
    const s = await store(10_000);
    await put(s, "a", 10);
    const side = path.join(root, "committed", "a", `working-set.${(await s.list())[0]!.snapshotId}.reap`);
    await writeFile(side, "set");
    await rm(path.join(root, "committed", "a", "sub", "mem"));
    await expect(s.acquire("a")).rejects.toThrow(SnapshotCorruptError);
    expect(await s.has("a")).toBe(false);
    await expect(stat(side)).rejects.toThrow(); // what was bound to it went with it

    await put(s, "b", 10);
    await writeFile(path.join(root, "committed", "b", "manifest.json"), "{");
    const again = await store(10_000); // a restart drops what cannot be checked
    expect(await again.has("b")).toBe(false);
    expect(await again.acquire("b")).toBeUndefined();
  });

  it("drops staging leftovers of a crashed writer on start", async () => {
    const s = await store(10_000);
    const dir = await s.stage("half");
    await writeFile(path.join(dir, "mem"), "partial");
    await store(10_000);
    expect(await readdir(path.join(root, "staging"))).toEqual([]);
    expect(await s.has("half")).toBe(false);
  });

  it("checks a load with one stat per file: a file rewritten after the commit is caught without hashing", async () => {
    const s = await store(10_000);
    await put(s, "a", 100);
    const mem = path.join(root, "committed", "a", "sub", "mem");
    // Same size, new contents: a rewrite changes the mtime the commit recorded.
    await writeFile(mem, Buffer.alloc(100, 9));
    await expect(s.acquire("a")).rejects.toThrow(/file sub\/mem was replaced or rewritten after the commit/);
    expect(await s.has("a")).toBe(false);
    // A replacement (same size, same mtime, another inode) too.
    await put(s, "b", 100);
    const memB = path.join(root, "committed", "b", "sub", "mem");
    const { mtime } = await stat(memB);
    await writeFile(memB + ".new", Buffer.alloc(100, 9));
    await utimes(memB + ".new", mtime, mtime);
    await rename(memB + ".new", memB);
    await expect(s.acquire("b")).rejects.toThrow(/replaced or rewritten/);
  });

  it("a corruption that keeps size, inode and mtime passes the load's check, and the background pass after start-up discards it", async () => {
    const s = await store(10_000, { verifyInBackground: false });
    const dir = await s.stage("a");
    const mem = path.join(dir, "mem");
    await writeFile(mem, Buffer.alloc(4096, 7));
    await utimes(mem, 1_000_000, 1_000_000); // a whole second, so it can be set back exactly
    await s.commit(dir, { revision: "a", sandbox: "gvisor", imageDigest: "sha256:x" });
    const committed = path.join(root, "committed", "a", "mem");
    const fh = await open(committed, "r+");
    await fh.write(Buffer.from([0]), 0, 1, 100);
    await fh.close();
    await utimes(committed, 1_000_000, 1_000_000);
    (await s.acquire("a"))!.release(); // the cheap check cannot see it: no hashing on the start path

    const every = await store(10_000, { checksums: "every-load", verifyInBackground: false });
    await expect(every.acquire("a")).rejects.toThrow(/file mem has sha256 [0-9a-f]{64}, manifest says/);

    await put(s, "b", 100);
    const dirC = await s.stage("c");
    await writeFile(path.join(dirC, "mem"), Buffer.alloc(4096, 7));
    await utimes(path.join(dirC, "mem"), 1_000_000, 1_000_000);
    await s.commit(dirC, { revision: "c", sandbox: "gvisor", imageDigest: "sha256:x" });
    const fhC = await open(path.join(root, "committed", "c", "mem"), "r+");
    await fhC.write(Buffer.from([0]), 0, 1, 100);
    await fhC.close();
    await utimes(path.join(root, "committed", "c", "mem"), 1_000_000, 1_000_000);
    const restarted = await store(10_000);
    expect(await restarted.verification()).toEqual({ verified: ["b"], discarded: ["c"] });
    expect(events).toContainEqual({ kind: "discarded", revision: "c", reason: expect.stringMatching(/^background verification: file mem has sha256/) });
    expect((await restarted.list()).map((x) => x.revision)).toEqual(["b"]);
  });

  it("a data directory copied elsewhere keeps its snapshots: new identities are hashed once at start-up", async () => {
    const s = await store(10_000);
    await put(s, "a", 100);
    await put(s, "b", 100);
    for (const rev of ["a", "b"]) {
      // What a copy does: same bytes, another inode and mtime.
      const mem = path.join(root, "committed", rev, "sub", "mem");
      await copyFile(mem, mem + ".copy");
      await rename(mem + ".copy", mem);
    }
    const bMem = path.join(root, "committed", "b", "sub", "mem");
    const bytes = await readFile(bMem);
    bytes[0] = 0;
    await writeFile(bMem, bytes); // b's copy is damaged
    const restarted = await store(10_000);
    expect(await restarted.has("b")).toBe(false);
    expect(events).toContainEqual({ kind: "discarded", revision: "b", reason: expect.stringMatching(/^file sub\/mem has sha256/) });
    const lease = await restarted.acquire("a");
    expect(lease?.manifest.files[0]?.ino).toBe(Number((await stat(path.join(root, "committed", "a", "sub", "mem"))).ino));
    lease!.release();
    // a was hashed at init: the background pass does not hash it again.
    expect(await restarted.verification()).toEqual({ verified: [], discarded: [] });
  });

  it("discards snapshots of an older manifest format, which carry no snapshot identity", async () => {
    const s = await store(10_000);
    await put(s, "a", 10);
    const file = path.join(root, "committed", "a", "manifest.json");
    const m = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...m, version: 1, snapshotId: undefined }));
    await store(10_000);
    expect(await s.has("a")).toBe(false);
    expect(events).toContainEqual({ kind: "discarded", revision: "a", reason: expect.stringMatching(/manifest format 1 predates snapshot identities/) });
  });

  it("files written beside a snapshot count in its size, go with it, and only its own survive a restart", async () => {
    const s = await store(10_000);
    await put(s, "a", 1000);
    const lease = (await s.acquire("a"))!;
    const id = lease.manifest.snapshotId;
    lease.release();
    await writeFile(path.join(lease.dir, `working-set.${id}.reap`), Buffer.alloc(500));
    await writeFile(path.join(lease.dir, `working-set.${"0".repeat(32)}.reap`), Buffer.alloc(300)); // an earlier snapshot's
    await writeFile(path.join(lease.dir, `.working-set.${id}.reap.tmp-1-ab`), ""); // a write a crash interrupted
    expect((await s.list())[0]).toMatchObject({ revision: "a", snapshotId: id, sizeBytes: 1800, files: 1 });
    const restarted = await store(10_000);
    expect((await readdir(lease.dir)).sort()).toEqual(["manifest.json", "sub", `working-set.${id}.reap`]);
    expect((await restarted.list())[0]!.sizeBytes).toBe(1500);
    await restarted.remove("a");
    await expect(stat(lease.dir)).rejects.toThrow();
    // Side files count against the budget: 1500 + 1000 > 2000 evicts the older one.
    const small = await store(2000);
    await put(small, "b", 1000);
    const leaseB = (await small.acquire("b"))!;
    leaseB.release();
    await writeFile(path.join(leaseB.dir, `working-set.${leaseB.manifest.snapshotId}.reap`), Buffer.alloc(500));
    await tick();
    await put(small, "c", 1000);
    expect((await small.list()).map((x) => x.revision)).toEqual(["c"]);
    expect(events).toContainEqual({ kind: "evicted", revision: "b", sizeBytes: 1500 });
  });

  it("discardLoaded deletes the snapshot that failed to load, never a newer one of the same revision", async () => {
    const s = await store(10_000);
    await put(s, "a", 10);
    const stale = (await s.acquire("a"))!;
    expect(await s.discardLoaded(stale, "restore failed")).toBe(true);
    expect(await s.has("a")).toBe(false);
    expect(events).toContainEqual({ kind: "discarded", revision: "a", reason: "restore failed" });
    await put(s, "a", 10);
    const old = (await s.acquire("a"))!;
    old.release();
    await s.remove("a");
    await put(s, "a", 10); // taken again while the old load was still failing
    expect(await s.discardLoaded(old, "restore failed")).toBe(false);
    expect(await s.has("a")).toBe(true);
    expect((await s.list())[0]!.inUse).toBe(0);
  });

  it("rejects a non-positive budget", () => {
    expect(() => new SnapshotStore({ root, budgetBytes: 0 })).toThrow(/disk budget must be a positive number/);
  });
});
