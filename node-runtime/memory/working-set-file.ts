import { open, rename, rm, readFile } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * Working-set file: the pages the first invocation after a snapshot load touched, stored so one
 * sequential O_DIRECT read fetches them all (REAP's "WS file"). Layout (little-endian):
 *   header, 4096 bytes:
 *     0  magic "VHUFWS1\0"      8 u32 version (1)     12 u32 page size
 *     16 u64 page count         24 u64 memory-file size
 *     32 u64 index offset (4096) 40 u64 data offset (4096-aligned)
 *     48 u64 checksum of bytes [index offset, end of file) (hash64 of the native addon)
 *     56 u64 unix ms when recorded
 *     64 16 bytes: id of the snapshot it was recorded on (all zero: none, e.g. a benchmark's file)
 *   index: u32 memory-file page numbers, each once, in the order they are installed: the order the
 *          recorded invocation first touched them (files written before that are ascending; both
 *          load alike). Consecutive entries that are contiguous pages install as one run.
 *   data: the pages, in index order.
 * The native prefetcher (native/prefetch.c) reads the same layout.
 */
export const WS_MAGIC = "VHUFWS1\0";
export const WS_VERSION = 1;
export const WS_ALIGN = 4096;

export interface WorkingSetHeader {
  version: number;
  pageSize: number;
  pageCount: number;
  memFileSize: number;
  indexOffset: number;
  dataOffset: number;
  checksum: bigint;
  recordedAtMs: number;
  /** The snapshot it was recorded on (32 hex digits), when the recorder knew it. */
  snapshotId?: string;
}

const SNAPSHOT_ID_OFFSET = 64;
const SNAPSHOT_ID_BYTES = 16;

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Builds the complete file image. `pages` are distinct, in install order; `data` holds them in that order. */
export function buildWorkingSetImage(
  input: { pageSize: number; memFileSize: number; pages: Uint32Array; data: Uint8Array; recordedAtMs: number; snapshotId?: string },
  hash64: (bytes: Uint8Array) => bigint,
): Buffer {
  const { pageSize, memFileSize, pages, data } = input;
  const seen = new Set<number>();
  for (const [i, page] of pages.entries()) {
    if (seen.has(page)) throw new Error(`working set: page ${page} appears twice (index ${i})`);
    seen.add(page);
  }
  if (data.length !== pages.length * pageSize) {
    throw new Error(`working set: data holds ${data.length} bytes, expected ${pages.length} pages of ${pageSize}`);
  }
  if (input.snapshotId !== undefined && !/^[0-9a-f]{32}$/.test(input.snapshotId)) {
    throw new Error(`working set: snapshotId must be 32 hex digits, got ${JSON.stringify(input.snapshotId)}`);
  }
  const indexOffset = WS_ALIGN;
  const dataOffset = alignUp(indexOffset + pages.length * 4, WS_ALIGN);
  const img = Buffer.alloc(dataOffset + data.length);
  img.write(WS_MAGIC, 0, "latin1");
  img.writeUInt32LE(WS_VERSION, 8);
  img.writeUInt32LE(pageSize, 12);
  img.writeBigUInt64LE(BigInt(pages.length), 16);
  img.writeBigUInt64LE(BigInt(memFileSize), 24);
  img.writeBigUInt64LE(BigInt(indexOffset), 32);
  img.writeBigUInt64LE(BigInt(dataOffset), 40);
  img.writeBigUInt64LE(BigInt(input.recordedAtMs), 56);
  if (input.snapshotId !== undefined) img.write(input.snapshotId, SNAPSHOT_ID_OFFSET, SNAPSHOT_ID_BYTES, "hex");
  for (let i = 0; i < pages.length; i++) img.writeUInt32LE(pages[i]!, indexOffset + i * 4);
  img.set(data, dataOffset);
  img.writeBigUInt64LE(hash64(img.subarray(indexOffset)), 48);
  return img;
}

/** Parses and sanity-checks a header (the checksum is verified by whoever reads the data). */
export function parseWorkingSetHeader(buf: Uint8Array, where = "working set"): WorkingSetHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < SNAPSHOT_ID_OFFSET + SNAPSHOT_ID_BYTES || b.toString("latin1", 0, 8) !== WS_MAGIC)
    throw new Error(`${where}: not a working-set file (bad magic)`);
  const h: WorkingSetHeader = {
    version: b.readUInt32LE(8),
    pageSize: b.readUInt32LE(12),
    pageCount: Number(b.readBigUInt64LE(16)),
    memFileSize: Number(b.readBigUInt64LE(24)),
    indexOffset: Number(b.readBigUInt64LE(32)),
    dataOffset: Number(b.readBigUInt64LE(40)),
    checksum: b.readBigUInt64LE(48),
    recordedAtMs: Number(b.readBigUInt64LE(56)),
  };
  const id = b.subarray(SNAPSHOT_ID_OFFSET, SNAPSHOT_ID_OFFSET + SNAPSHOT_ID_BYTES);
  if (id.some((x) => x !== 0)) h.snapshotId = id.toString("hex");
  if (h.version !== WS_VERSION) throw new Error(`${where}: unsupported version ${h.version}`);
  if (h.dataOffset % WS_ALIGN !== 0 || h.dataOffset < h.indexOffset + h.pageCount * 4) throw new Error(`${where}: inconsistent layout`);
  return h;
}

export async function readWorkingSetHeader(path: string): Promise<WorkingSetHeader> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(SNAPSHOT_ID_OFFSET + SNAPSHOT_ID_BYTES);
    await fh.read(buf, 0, buf.length, 0);
    return parseWorkingSetHeader(buf, path);
  } finally {
    await fh.close();
  }
}

/** Reads the page index (memory-file page numbers) of a working-set file, e.g. for inspection. */
export async function readWorkingSetPages(path: string): Promise<Uint32Array> {
  const all = await readFile(path);
  const h = parseWorkingSetHeader(all, path);
  const out = new Uint32Array(h.pageCount);
  for (let i = 0; i < h.pageCount; i++) out[i] = all.readUInt32LE(h.indexOffset + i * 4);
  return out;
}

/**
 * Writes `image` to `path` atomically: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. Readers see either the old file or the complete new one.
 */
export async function writeFileAtomically(path: string, image: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(image);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
