import { mkdtemp, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SnapshotCorruptError, SnapshotStore, type SnapshotEvent } from "./snapshot-store.js";

let root: string;
let events: SnapshotEvent[];
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "vhor-snap-"));
  events = [];
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function store(budgetBytes: number) {
  const s = new SnapshotStore({ root, budgetBytes, onEvent: (e) => events.push(e) });
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
    expect(lease?.manifest.files).toEqual([
      { path: "sub/mem", size: 1000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    lease!.release();
    expect(await readdir(path.join(root, "staging"))).toEqual([]);
    // A second commit for the same revision keeps the first and drops the staged copy.
    expect(await put(s, "a", 500)).toBe(false);
    expect((await s.list())[0]!.sizeBytes).toBe(1000);
    expect(await readdir(path.join(root, "staging"))).toEqual([]);
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
    await rm(path.join(root, "committed", "a", "sub", "mem"));
    await expect(s.acquire("a")).rejects.toThrow(SnapshotCorruptError);
    expect(await s.has("a")).toBe(false);

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

  it("rejects a non-positive budget", () => {
    expect(() => new SnapshotStore({ root, budgetBytes: 0 })).toThrow(/disk budget must be a positive number/);
  });
});
