import { createHash } from "node:crypto";

/** Obtains the bytes of one pinned upstream release file. */
export interface ManifestFetcher {
  /** Resolves to the file's contents; rejects when it cannot be obtained. */
  fetch(url: string): Promise<Uint8Array>;
}

/** Downloads over HTTP(S) with Node's fetch; follows redirects (GitHub release assets redirect). */
export class HttpManifestFetcher implements ManifestFetcher {
  constructor(private readonly timeoutMs = 120_000) {}

  async fetch(url: string): Promise<Uint8Array> {
    const res = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) throw new Error(`download ${url}: HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Fetches `url` and refuses it unless its sha256 is `expected`. */
export async function fetchVerified(fetcher: ManifestFetcher, url: string, expected: string, key: string): Promise<Uint8Array> {
  const bytes = await fetcher.fetch(url);
  const actual = sha256Hex(bytes);
  if (actual !== expected.toLowerCase()) {
    throw new Error(`checksums.${key}: ${url} has sha256 ${actual}, expected ${expected}; refusing to apply it`);
  }
  return bytes;
}
