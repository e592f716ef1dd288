/** IPv4 helpers for address plans; addresses as unsigned 32-bit numbers. */

export function parseIpv4(text: string, field: string): number {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`${field}: ${JSON.stringify(text)} is not an IPv4 address`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export function parseCidr(text: string, field: string): { base: number; prefixLength: number; size: number } {
  const [addr, len, extra] = text.split("/");
  const prefixLength = Number(len);
  if (addr === undefined || extra !== undefined || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new Error(`${field}: ${JSON.stringify(text)} is not an IPv4 CIDR like 10.0.0.0/16`);
  }
  const size = 2 ** (32 - prefixLength);
  const base = parseIpv4(addr, field);
  if (base % size !== 0) throw new Error(`${field}: ${text} has host bits set`);
  return { base, prefixLength, size };
}

export function checkMac(mac: string, field: string): void {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) throw new Error(`${field}: ${JSON.stringify(mac)} is not a MAC address`);
  if ((parseInt(mac.slice(0, 2), 16) & 1) === 1) throw new Error(`${field}: ${mac} is a multicast MAC`);
}

/** Whether two ranges share an address. */
export function rangesOverlap(a: { base: number; size: number }, b: { base: number; size: number }): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** A route destination as `ip route` prints it (`10.0.0.0/24` or a bare host address). */
export function parseRouteDestination(text: string): { base: number; size: number } | undefined {
  const [addr, len] = text.split("/");
  if (addr === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(addr)) return undefined;
  const prefixLength = len === undefined ? 32 : Number(len);
  const size = 2 ** (32 - prefixLength);
  return { base: Math.floor(parseIpv4(addr, "route") / size) * size, size };
}
