import { describe, it, expect } from "vitest";
import { parseUffdHandshake, UffdHandshakeError } from "./handshake.js";

const MiB = 1 << 20;
// The shape Firecracker v1.13.1 / v1.16.1 serialises (page_size_kib carries bytes too).
const region = (base: number, size: number, offset: number, extra: Record<string, unknown> = { page_size: 4096, page_size_kib: 4096 }) => ({
  base_host_virt_addr: base,
  size,
  offset,
  ...extra,
});

describe("parseUffdHandshake", () => {
  it("accepts Firecracker's regions message", () => {
    const msg = JSON.stringify([region(0x7f1200000000, 64 * MiB, 0), region(0x7f2200000000, 32 * MiB, 64 * MiB)]);
    expect(parseUffdHandshake(msg, 1, 96 * MiB)).toEqual([
      { hostBase: 0x7f1200000000, size: 64 * MiB, offset: 0, pageSize: 4096 },
      { hostBase: 0x7f2200000000, size: 32 * MiB, offset: 64 * MiB, pageSize: 4096 },
    ]);
  });

  it("accepts older releases: page_size_kib only (v1.7–v1.10) or no page size (before v1.7)", () => {
    expect(parseUffdHandshake(JSON.stringify([region(4096, 4096, 0, { page_size_kib: 4096 })]), 1, 4096)[0]!.pageSize).toBe(4096);
    expect(parseUffdHandshake(JSON.stringify([region(4096, 4096, 0, {})]), 1, 4096)[0]!.pageSize).toBe(4096);
  });

  const bad: [string, string, number, number, RegExp][] = [
    ["no fd", JSON.stringify([region(4096, 4096, 0)]), 0, 4096, /no userfaultfd arrived/],
    [
      "two fds",
      JSON.stringify([region(4096, 4096, 0)]),
      2,
      4096,
      /exactly one file descriptor \(the userfaultfd\), got 2: guest_memfd-backed guest memory is not served/,
    ],
    ["malformed JSON", "[{", 1, 4096, /not valid JSON/],
    ["not an array", "{}", 1, 4096, /non-empty JSON array/],
    ["empty array", "[]", 1, 4096, /non-empty JSON array/],
    ["missing size", JSON.stringify([{ base_host_virt_addr: 4096, offset: 0 }]), 1, 4096, /regions\[0\]\.size must be a non-negative integer/],
    ["string address", JSON.stringify([{ ...region(4096, 4096, 0), base_host_virt_addr: "0x1000" }]), 1, 4096, /base_host_virt_addr must be/],
    [
      "hugetlbfs",
      JSON.stringify([region(0, 2 * MiB, 0, { page_size: 2 * MiB, page_size_kib: 2 * MiB })]),
      1,
      2 * MiB,
      /huge-page \(hugetlbfs\) guest memory is not served by this handler, only 4096-byte pages; restore such VMs with the File memory backend/,
    ],
    ["disagreeing page sizes", JSON.stringify([region(0, 4096, 0, { page_size: 4096, page_size_kib: 4 })]), 1, 4096, /disagree/],
    ["unaligned offset", JSON.stringify([region(4096, 4096, 100)]), 1, 8192, /offset 0x64 is not a multiple/],
    ["beyond the file", JSON.stringify([region(4096, 8192, 4096)]), 1, 8192, /regions\[0\] reaches beyond the memory file/],
    ["overlapping addresses", JSON.stringify([region(0, 8192, 0), region(4096, 4096, 8192)]), 1, 16384, /overlap in their VMM address ranges/],
    ["overlapping file ranges", JSON.stringify([region(0, 8192, 0), region(65536, 4096, 4096)]), 1, 16384, /overlap in their memory-file ranges/],
  ];
  for (const [name, msg, fds, size, re] of bad) {
    it(`rejects: ${name}`, () => {
      expect(() => parseUffdHandshake(msg, fds, size)).toThrow(UffdHandshakeError);
      expect(() => parseUffdHandshake(msg, fds, size)).toThrow(re);
    });
  }
});
