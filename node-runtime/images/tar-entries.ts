// Reads the member list of a tar stream (ustar, GNU long names, PAX), without extracting, so
// layer application can see whiteouts and type changes before GNU tar writes anything.
import type { Readable } from "node:stream";

export type TarEntryType = "file" | "hardlink" | "symlink" | "chardev" | "blockdev" | "directory" | "fifo" | "other";

export interface TarEntry {
  /** Path inside the archive, normalised: no leading "./" or "/", no trailing "/". */
  path: string;
  type: TarEntryType;
  linkTarget: string;
  mode: number;
}

const BLOCK = 512;

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case "0":
    case "\0":
    case "7":
      return "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "3":
      return "chardev";
    case "4":
      return "blockdev";
    case "5":
      return "directory";
    case "6":
      return "fifo";
    default:
      return "other";
  }
}

function text(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString("utf8");
}

function octal(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if ((field[0] ?? 0) & 0x80) {
    // GNU base-256 for values that do not fit in octal.
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  const digits = text(block, offset, length).trim();
  return digits === "" ? 0 : Number.parseInt(digits, 8);
}

function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number.parseInt(data.subarray(at, space).toString("ascii"), 10);
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

/** Normalises an archive path and rejects ones that climb out of the root. */
export function normaliseMemberPath(raw: string): string {
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error(`tar member "${raw}" contains ".." and would escape the root`);
  return parts.join("/");
}

/** Buffers a byte stream and hands out exact-sized pieces. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private length = 0;
  private ended = false;
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) this.ended = true;
      else {
        this.chunks.push(next.value);
        this.length += next.value.length;
      }
    }
    return this.length >= n;
  }

  async take(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const piece = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return piece;
  }

  /** Skips n bytes without keeping them. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.fill(1))) throw new Error("tar stream ended inside a member");
      const head = this.chunks[0]!;
      if (head.length <= left) {
        left -= head.length;
        this.length -= head.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = head.subarray(left);
        this.length -= left;
        left = 0;
      }
    }
  }

  /** Drains the rest so the producer (and any hash on it) sees every byte. */
  async drain(): Promise<void> {
    this.chunks = [];
    this.length = 0;
    while (!this.ended) {
      const next = await this.iterator.next();
      if (next.done) this.ended = true;
    }
  }
}

/** Yields every member of an uncompressed tar stream, then consumes the stream to its end. */
export async function* readTarEntries(stream: Readable): AsyncGenerator<TarEntry> {
  const queue = new ByteQueue(stream);
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  let globalPax = new Map<string, string>();
  for (;;) {
    const header = await queue.take(BLOCK);
    if (!header) throw new Error("tar stream ended without an end-of-archive marker");
    if (header.every((b) => b === 0)) break;
    let checksum = 0;
    for (let i = 0; i < BLOCK; i++) checksum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    if (checksum !== octal(header, 148, 8)) throw new Error("tar header checksum mismatch (not a tar stream, or corrupt)");
    const flag = String.fromCharCode(header[156]!);
    let size = octal(header, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (flag === "L" || flag === "K" || flag === "x" || flag === "g") {
      const data = await queue.take(padded);
      if (!data) throw new Error("tar stream ended inside an extended header");
      const body = data.subarray(0, size);
      if (flag === "L") longName = text(body, 0, body.length);
      else if (flag === "K") longLink = text(body, 0, body.length);
      else if (flag === "x") pax = parsePax(body);
      else globalPax = new Map([...globalPax, ...parsePax(body)]);
      continue;
    }
    const prefix = header.subarray(257, 263).toString("ascii").startsWith("ustar") ? text(header, 345, 155) : "";
    const plainName = prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100);
    const name = pax.get("path") ?? globalPax.get("path") ?? longName ?? plainName;
    const link = pax.get("linkpath") ?? longLink ?? text(header, 157, 100);
    const paxSize = pax.get("size");
    if (paxSize !== undefined) size = Number.parseInt(paxSize, 10);
    const type = typeOf(flag);
    yield {
      path: normaliseMemberPath(name),
      type,
      linkTarget: link,
      mode: octal(header, 100, 8) & 0o7777,
    };
    // Only regular files carry data (hard links, links and devices have size 0 or ignore it).
    await queue.skip(type === "file" || type === "other" ? Math.ceil(size / BLOCK) * BLOCK : 0);
    longName = undefined;
    longLink = undefined;
    pax = new Map();
  }
  await queue.drain();
}
