import { describe, it, expect, afterAll } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { markWorkingSetStale, planReapLoad, planWorkingSet, workingSetPathFor, clearWorkingSetStale } from "./working-set-policy.js";
import { buildWorkingSetImage } from "./working-set-file.js";

const dir = mkdtempSync("/tmp/vhuf-policy-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Stand-in for the addon's hash64: the policy only reads headers.
const hash = (): bigint => 0n;

describe("working-set policy", () => {
  it("records when there is no set, prefetches a usable one, re-records a stale one", async () => {
    expect(await planReapLoad(dir, 1 << 20)).toMatchObject({ mode: "record", reason: "no working set yet" });
    const ws = workingSetPathFor(dir);
    writeFileSync(
      ws,
      buildWorkingSetImage({ pageSize: 4096, memFileSize: 1 << 20, pages: Uint32Array.from([1]), data: new Uint8Array(4096), recordedAtMs: 0 }, hash),
    );
    expect(await planReapLoad(dir, 1 << 20)).toEqual({ mode: "prefetch", workingSetPath: ws, reason: "ok" });
    expect(await planReapLoad(dir, 2 << 20)).toMatchObject({ mode: "record", reason: expect.stringMatching(/1048576-byte memory file/) });
    await markWorkingSetStale(ws, "outside share 0.4 > threshold 0.25");
    expect(await planWorkingSet(ws)).toMatchObject({ mode: "record", reason: expect.stringMatching(/^stale/) });
    await clearWorkingSetStale(ws);
    expect(await planWorkingSet(ws)).toMatchObject({ mode: "prefetch" });
    writeFileSync(ws, "garbage");
    expect(await planWorkingSet(ws)).toMatchObject({ mode: "record", reason: expect.stringMatching(/^unreadable/) });
  });

  it("names a committed snapshot's set by the snapshot's id, and refuses one recorded before the snapshot was taken", async () => {
    const id = "0123456789abcdef0123456789abcdef";
    const ws = workingSetPathFor(dir, id);
    expect(ws).toBe(join(dir, `working-set.${id}.reap`));
    expect(() => workingSetPathFor(dir, "../x")).toThrow(/snapshotId must be 32 hex digits/);
    writeFileSync(
      ws,
      buildWorkingSetImage(
        { pageSize: 4096, memFileSize: 1 << 20, pages: Uint32Array.from([1]), data: new Uint8Array(4096), recordedAtMs: 5_000, snapshotId: id },
        hash,
      ),
    );
    expect(await planWorkingSet(ws, { notBefore: new Date(5_000), snapshotId: id })).toMatchObject({ mode: "prefetch" });
    const other = "f".repeat(32);
    expect(await planWorkingSet(ws, { snapshotId: other })).toEqual({
      mode: "record",
      workingSetPath: ws,
      reason: `unreadable: recorded on snapshot ${id}, not on this one (${other})`,
    });
    writeFileSync(
      ws,
      buildWorkingSetImage({ pageSize: 4096, memFileSize: 1 << 20, pages: Uint32Array.from([1]), data: new Uint8Array(4096), recordedAtMs: 5_000 }, hash),
    );
    expect(await planWorkingSet(ws, { snapshotId: id })).toMatchObject({
      mode: "record",
      reason: `unreadable: recorded on no snapshot, not on this one (${id})`,
    });
    expect(await planWorkingSet(ws, { notBefore: new Date(5_001) })).toMatchObject({
      mode: "record",
      reason: "unreadable: recorded at 1970-01-01T00:00:05.000Z, before its snapshot was taken (1970-01-01T00:00:05.001Z)",
    });
  });
});
