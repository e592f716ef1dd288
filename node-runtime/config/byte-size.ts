const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses "10GiB", "512 MB", "1e9" or a plain number of bytes; throws naming the field on bad input. */
export function parseByteSize(value: string | number, field: string): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value > 0) return Math.floor(value);
    throw new Error(`${field}: expected a positive size, got ${value}`);
  }
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`${field}: cannot read ${JSON.stringify(value)} as a size (e.g. 10GiB, 512MB, 1048576)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0)) throw new Error(`${field}: expected a positive size, got ${JSON.stringify(value)}`);
  return bytes;
}
