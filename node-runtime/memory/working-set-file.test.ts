import { describe, it, expect } from "vitest";
import { buildWorkingSetImage, parseWorkingSetHeader, WS_ALIGN } from "./working-set-file.js";

// Stand-in for the addon's hash64 (only the header plumbing is under test here).
const sumHash = (b: Uint8Array): bigint => BigInt(b.reduce((a, x) => (a + x) % 65521, 0));

describe("working-set file image", () => {
  it("lays out header, sorted index and page data on 4 KiB boundaries", () => {
    const pages = Uint32Array.from([3, 4, 9]);
    const data = new Uint8Array(3 * 4096).map((_, i) => i % 251);
    const img = buildWorkingSetImage({ pageSize: 4096, memFileSize: 1 << 20, pages, data, recordedAtMs: 1234 }, sumHash);
    expect(img.length % WS_ALIGN).toBe(0);
    const h = parseWorkingSetHeader(img);
    expect(h).toMatchObject({ version: 1, pageSize: 4096, pageCount: 3, memFileSize: 1 << 20, indexOffset: 4096, dataOffset: 8192, recordedAtMs: 1234 });
    expect(h.checksum).toBe(sumHash(img.subarray(4096)));
    expect([img.readUInt32LE(4096), img.readUInt32LE(4100), img.readUInt32LE(4104)]).toEqual([3, 4, 9]);
    expect(img.subarray(8192)).toEqual(Buffer.from(data));
  });

  it("carries the id of the snapshot it was recorded on, or none", () => {
    const base = { pageSize: 4096, memFileSize: 1 << 20, pages: Uint32Array.from([1]), data: new Uint8Array(4096), recordedAtMs: 0 };
    const id = "00112233445566778899aabbccddeeff";
    expect(parseWorkingSetHeader(buildWorkingSetImage({ ...base, snapshotId: id }, sumHash)).snapshotId).toBe(id);
    expect(parseWorkingSetHeader(buildWorkingSetImage(base, sumHash)).snapshotId).toBeUndefined();
    expect(() => buildWorkingSetImage({ ...base, snapshotId: "xyz" }, sumHash)).toThrow(/snapshotId must be 32 hex digits/);
  });

  it("refuses a page listed twice and mismatched data; keeps pages in the order given (install order)", () => {
    expect(() =>
      buildWorkingSetImage(
        { pageSize: 4096, memFileSize: 1 << 20, pages: Uint32Array.from([4, 3, 4]), data: new Uint8Array(3 * 4096), recordedAtMs: 0 },
        sumHash,
      ),
    ).toThrow(/page 4 appears twice/);
    const img = buildWorkingSetImage(
      { pageSize: 4096, memFileSize: 1 << 20, pages: Uint32Array.from([4, 3]), data: new Uint8Array(8192), recordedAtMs: 0 },
      sumHash,
    );
    expect([img.readUInt32LE(4096), img.readUInt32LE(4100)]).toEqual([4, 3]);
    expect(() =>
      buildWorkingSetImage({ pageSize: 4096, memFileSize: 1 << 20, pages: Uint32Array.from([1]), data: new Uint8Array(10), recordedAtMs: 0 }, sumHash),
    ).toThrow(/expected 1 pages/);
  });

  it("rejects files that are not working sets", () => {
    expect(() => parseWorkingSetHeader(Buffer.alloc(64), "x.reap")).toThrow(/x.reap: not a working-set file/);
  });
});
