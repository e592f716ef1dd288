import { createHash } from "node:crypto";
import { hasChecksum, HttpFileFetcher, type FileFetcher } from "../config/run-time-checksum.js";

/** Obtains the bytes of one pinned upstream release file. */
export type ManifestFetcher = FileFetcher;

/** Downloads over HTTP(S) with Node's fetch; follows redirects (GitHub release assets redirect). */
export const HttpManifestFetcher = HttpFileFetcher;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Fetches `url` and refuses it unless its checksum is `expected` (`<algorithm>:<hex>`, or a bare sha256 hex). */
export async function fetchVerified(fetcher: ManifestFetcher, url: string, expected: string, key: string): Promise<Uint8Array> {
  const bytes = await fetcher.fetch(url);
  const checksum = expected.includes(":") ? expected.toLowerCase() : `sha256:${expected.toLowerCase()}`;
  if (!hasChecksum(bytes, checksum)) {
    const algorithm = checksum.slice(0, checksum.indexOf(":"));
    const actual = createHash(algorithm).update(bytes).digest("hex");
    throw new Error(`checksums.${key}: ${url} has ${algorithm} ${actual}, expected ${expected}; refusing to apply it`);
  }
  return bytes;
}
