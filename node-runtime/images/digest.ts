import { ImageError } from "./errors.js";

import { createHash, type Hash } from "node:crypto";

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** True for the only digest algorithm we accept: sha256 with 64 lower-case hex characters. */
export function isDigest(value: string): boolean {
  return SHA256_DIGEST.test(value);
}

/** Validates a digest and returns its hex part; the error names the field it came from. */
export function digestHex(digest: string, field = "digest"): string {
  if (!isDigest(digest)) throw new ImageError("INVALID_ARGUMENT", `${field} "${digest}" is not a sha256 digest (sha256:<64 hex>)`);
  return digest.slice("sha256:".length);
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Incremental sha256 for streamed blobs. */
export class DigestCounter {
  private readonly hash: Hash = createHash("sha256");
  bytes = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}
