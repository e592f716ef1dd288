import { ImageError } from "./errors.js";

import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { DigestCounter, digestHex } from "./digest.js";

/**
 * Content-addressed blobs under `<root>/blobs/sha256/<hex>`. Every write is hashed on the way in
 * and lands by rename only when digest (and size, when known) match, so a blob in the store is
 * always the bytes its name says, also with several processes writing at once.
 */
export class BlobStore {
  constructor(
    private readonly root: string,
    private readonly tmpDir: string,
  ) {}

  path(digest: string): string {
    return path.join(this.root, "blobs", "sha256", digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.path(digest)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest));
  }

  /** Stores a stream whose digest must be `digest`; `source` names where it came from in errors. */
  async write(digest: string, content: Readable, source: string, expectedSize?: number): Promise<void> {
    const final = this.path(digest);
    if (await this.has(digest)) {
      content.destroy();
      return;
    }
    await mkdir(path.dirname(final), { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    const dir = await mkdtemp(path.join(this.tmpDir, "blob-"));
    const partial = path.join(dir, "data");
    try {
      const counter = new DigestCounter();
      await pipeline(
        content,
        new Transform({
          transform(chunk: Buffer, _encoding, done) {
            counter.update(chunk);
            if (expectedSize !== undefined && counter.bytes > expectedSize) {
              done(new ImageError("DATA_LOSS", `blob ${digest} from ${source} is larger than its descriptor's size ${expectedSize}`));
              return;
            }
            done(null, chunk);
          },
        }),
        createWriteStream(partial, { mode: 0o644 }),
      );
      const actual = counter.digest();
      if (actual !== digest) throw new ImageError("DATA_LOSS", `digest mismatch for blob from ${source}: expected ${digest}, content hashes to ${actual}`);
      if (expectedSize !== undefined && counter.bytes !== expectedSize) {
        throw new ImageError("DATA_LOSS", `size mismatch for blob ${digest} from ${source}: descriptor says ${expectedSize} bytes, got ${counter.bytes}`);
      }
      await rename(partial, final);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async writeFile(digest: string, file: string, expectedSize?: number): Promise<void> {
    if (await this.has(digest)) return;
    await this.write(digest, createReadStream(file), file, expectedSize);
  }
}
