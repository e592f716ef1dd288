// IPv4 address, CIDR and range arithmetic for the network checks of the stack config.
// Addresses are handled as unsigned 32-bit integers so overlap tests are plain comparisons.

/** An inclusive range of IPv4 addresses, as integers. */
export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses `a.b.c.d/n`; the address must be the network address (no host bits set). */
export function parseCidr(text: string): Ipv4Range | undefined {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const base = parseIpv4(match[1]!);
  const bits = Number(match[2]);
  if (base === undefined || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  if (base % size !== 0) return undefined;
  return { first: base, last: base + size - 1 };
}

/** Parses a MetalLB-style pool: either a CIDR or `first-last`. */
export function parsePool(text: string): Ipv4Range | undefined {
  if (text.includes("/")) return parseCidr(text);
  const match = /^([^-\s]+)\s*-\s*([^-\s]+)$/.exec(text);
  if (!match) return undefined;
  const first = parseIpv4(match[1]!);
  const last = parseIpv4(match[2]!);
  if (first === undefined || last === undefined || last < first) return undefined;
  return { first, last };
}

export function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function contains(outer: Ipv4Range, inner: Ipv4Range): boolean {
  return outer.first <= inner.first && inner.last <= outer.last;
}

export function containsAddress(range: Ipv4Range, address: number): boolean {
  return range.first <= address && address <= range.last;
}
