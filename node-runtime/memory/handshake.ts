/**
 * Validation of Firecracker's UFFD handshake message.
 *
 * Firecracker (v1.7 onwards; checked against v1.13.1 and v1.16.1) connects to the backend socket
 * and sends, in one sendmsg, a JSON array with one object per guest memory region plus the
 * userfaultfd as SCM_RIGHTS data:
 *   {"base_host_virt_addr": <VMM address>, "size": <bytes>, "offset": <offset in the memory file>,
 *    "page_size": <bytes>, "page_size_kib": <bytes, despite the name>}
 * `page_size` exists since v1.11; `page_size_kib` (v1.7+) carries the same value in bytes and is
 * deprecated. Releases before v1.7 send neither; then the host page size is assumed.
 */

export class UffdHandshakeError extends Error {
  constructor(message: string) {
    super(`UFFD handshake: ${message}`);
    this.name = "UffdHandshakeError";
  }
}

export interface UffdRegion {
  /** Start of the region in the VMM's address space. */
  hostBase: number;
  size: number;
  /** Where the region's contents start in the memory file. */
  offset: number;
  pageSize: number;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function integerField(obj: Record<string, unknown>, key: string, where: string, required: boolean): number | undefined {
  const v = obj[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new UffdHandshakeError(`${where}.${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Parses and checks the regions message. `fdCount` is how many fds arrived with it (exactly one
 * is required); `memFileSize` bounds every region; `hostPageSize` is the only page size served
 * (hugetlbfs-backed guests would need UFFDIO_COPY of 2 MiB pages, which this handler does not do).
 */
export function parseUffdHandshake(message: string, fdCount: number, memFileSize: number, hostPageSize = 4096): UffdRegion[] {
  if (fdCount === 0) throw new UffdHandshakeError("no userfaultfd arrived with the message (SCM_RIGHTS data missing)");
  if (fdCount > 1) {
    // Firecracker hands over more than the userfaultfd for guest_memfd-backed ("secret-free") memory.
    throw new UffdHandshakeError(
      `expected exactly one file descriptor (the userfaultfd), got ${fdCount}: guest_memfd-backed guest memory is not served by this handler; restore such VMs with the File memory backend`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch (err) {
    const head = message.length > 120 ? `${message.slice(0, 120)}…` : message;
    throw new UffdHandshakeError(`regions message is not valid JSON (${(err as Error).message}): ${JSON.stringify(head)}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new UffdHandshakeError("regions message must be a non-empty JSON array of regions");
  }
  const regions = parsed.map((raw, i): UffdRegion => {
    const where = `regions[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new UffdHandshakeError(`${where} must be an object`);
    const o = raw as Record<string, unknown>;
    const hostBase = integerField(o, "base_host_virt_addr", where, true)!;
    const size = integerField(o, "size", where, true)!;
    const offset = integerField(o, "offset", where, true)!;
    const pageSize = integerField(o, "page_size", where, false);
    const legacyPageSize = integerField(o, "page_size_kib", where, false);
    if (pageSize !== undefined && legacyPageSize !== undefined && pageSize !== legacyPageSize) {
      throw new UffdHandshakeError(`${where}: page_size ${pageSize} and page_size_kib ${legacyPageSize} disagree (both are bytes)`);
    }
    const ps = pageSize ?? legacyPageSize ?? hostPageSize;
    if (ps !== hostPageSize) {
      throw new UffdHandshakeError(
        `${where}.page_size is ${ps} bytes: huge-page (hugetlbfs) guest memory is not served by this handler, only ${hostPageSize}-byte pages; restore such VMs with the File memory backend`,
      );
    }
    if (size === 0) throw new UffdHandshakeError(`${where}.size must be positive`);
    for (const [k, v] of [
      ["base_host_virt_addr", hostBase],
      ["size", size],
      ["offset", offset],
    ] as const) {
      if (v % ps !== 0) throw new UffdHandshakeError(`${where}.${k} ${hex(v)} is not a multiple of the page size ${ps}`);
    }
    if (offset + size > memFileSize) {
      throw new UffdHandshakeError(`${where} reaches beyond the memory file: offset ${hex(offset)} + size ${hex(size)} > file size ${hex(memFileSize)}`);
    }
    return { hostBase, size, offset, pageSize: ps };
  });
  checkDisjoint(regions, (r) => r.hostBase, "VMM address ranges");
  checkDisjoint(regions, (r) => r.offset, "memory-file ranges");
  return regions;
}

function checkDisjoint(regions: UffdRegion[], start: (r: UffdRegion) => number, what: string): void {
  const order = regions.map((r, i) => ({ i, s: start(r), e: start(r) + r.size })).sort((a, b) => a.s - b.s);
  for (let k = 1; k < order.length; k++) {
    const prev = order[k - 1]!;
    const cur = order[k]!;
    if (cur.s < prev.e) {
      throw new UffdHandshakeError(`regions[${prev.i}] and regions[${cur.i}] overlap in their ${what} (${hex(cur.s)} < ${hex(prev.e)})`);
    }
  }
}
