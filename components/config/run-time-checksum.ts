// A checksum resolved at `pulumi up` for a file that has none pinned (stack setting or built-in
// table): the lock's record if there is one; else upstream's published checksum file, read over
// HTTPS; else (upstream publishes none) the sha256 of the first download, trusted on first use.
// Whatever was resolved goes into the lock, so later runs verify against it.
import { createHash } from "node:crypto";
import { mirroredUrl } from "./artifacts.js";
import { type ChecksumLock, FIRST_DOWNLOAD } from "./checksum-lock.js";
import { readPublishedChecksum, type PublishedChecksum } from "./published-checksums.js";

/** Obtains the bytes at a URL; rejects when it cannot. */
export interface FileFetcher {
  fetch(url: string): Promise<Uint8Array>;
}

/** Downloads over HTTP(S) with Node's fetch, following redirects (GitHub release assets redirect). */
export class HttpFileFetcher implements FileFetcher {
  constructor(private readonly timeoutMs = 120_000) {}

  async fetch(url: string): Promise<Uint8Array> {
    const res = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) throw new Error(`download ${url}: HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  }
}

/** `<algorithm>:<hex>` of the bytes. */
export function checksumOf(bytes: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/** Whether the bytes have this `<algorithm>:<hex>` checksum. */
export function hasChecksum(bytes: Uint8Array, checksum: string): boolean {
  const algorithm = checksum.startsWith("sha512:") ? "sha512" : "sha256";
  return checksumOf(bytes, algorithm) === checksum.toLowerCase();
}

export interface RunTimeChecksumRequest {
  /** The config setting that pins it, for messages: `checksums.<name>`. */
  readonly setting: string;
  /** The file's upstream URL (the lock's key; a mirror serves the same bytes). */
  readonly url: string;
  /** Upstream's checksum file for it, if upstream publishes one. */
  readonly published?: PublishedChecksum;
  /** URL prefix replacing upstream hosts (the checksum file is fetched through it too). */
  readonly artifactMirror?: string;
}

export interface RunTimeChecksum {
  /** `<algorithm>:<hex>`. */
  readonly checksum: string;
  /** The file itself, when it was downloaded to compute the checksum (first use). */
  readonly bytes?: Uint8Array;
}

/** The recorded checksum, or undefined: what a preview may use (it downloads nothing). */
export function lockedChecksum(lock: ChecksumLock | undefined, url: string): string | undefined {
  return lock?.get(url)?.checksum;
}

/** Resolves (and records) the checksum of one file at `pulumi up`; the error names the setting to pin instead. */
export async function resolveRunTimeChecksum(request: RunTimeChecksumRequest, lock: ChecksumLock, fetcher: FileFetcher): Promise<RunTimeChecksum> {
  const locked = lockedChecksum(lock, request.url);
  if (locked) return { checksum: locked };
  const { published } = request;
  if (published) {
    const from = mirroredUrl(published.url, request.artifactMirror);
    let checksum: string;
    try {
      checksum = readPublishedChecksum(published, Buffer.from(await fetcher.fetch(from)).toString("utf8"));
    } catch (error) {
      throw new Error(
        `${request.setting}: cannot read upstream's checksum for ${request.url} from ${from} (${(error as Error).message}); ` +
          `set ${request.setting} in the stack to the checksum upstream publishes`,
      );
    }
    lock.record(request.url, checksum, published.url);
    return { checksum };
  }
  const from = mirroredUrl(request.url, request.artifactMirror);
  let bytes: Uint8Array;
  try {
    bytes = await fetcher.fetch(from);
  } catch (error) {
    throw new Error(`${request.setting}: cannot download ${from} to record its checksum (${(error as Error).message}); set ${request.setting} in the stack`);
  }
  const checksum = checksumOf(bytes);
  lock.record(request.url, checksum, FIRST_DOWNLOAD);
  return { checksum, bytes };
}
