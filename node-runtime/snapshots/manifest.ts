import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/** File name of the manifest inside a committed snapshot directory. */
export const MANIFEST_FILE = "manifest.json";
/** Manifest format written now; earlier formats carry no snapshot identity and are not loaded. */
export const MANIFEST_VERSION = 2;

const fileEntry = z.object({
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * The file's identity when it was hashed: inode and mtime in nanoseconds (a decimal string; it
   * exceeds a double's precision). A load checks these with one stat() instead of a full hash:
   * any rewrite or replacement of the file changes one of them.
   */
  ino: z.number().int().nonnegative(),
  mtimeNs: z.string().regex(/^\d+$/),
});

export const snapshotManifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  /**
   * Identity of this snapshot, new at every commit: two snapshots of one revision (one deleted, the
   * revision snapshotted again) never share it, so what is bound to one (REAP's working set) cannot
   * be used with the other.
   */
  snapshotId: z.string().regex(/^[0-9a-f]{32}$/),
  revision: z.string().min(1),
  sandbox: z.string().min(1),
  imageDigest: z.string(),
  createdAt: z.string(),
  totalBytes: z.number().int().nonnegative(),
  files: z.array(fileEntry),
});

export type SnapshotManifest = z.infer<typeof snapshotManifestSchema>;
export type ManifestFile = z.infer<typeof fileEntry>;

/** Parses a manifest, saying plainly when it is of an older format than this runtime loads. */
export function parseSnapshotManifest(raw: string): SnapshotManifest {
  const json: unknown = JSON.parse(raw);
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version < MANIFEST_VERSION) {
    throw new Error(`manifest format ${version} predates snapshot identities (format ${MANIFEST_VERSION}); the snapshot is retaken`);
  }
  return snapshotManifestSchema.parse(json);
}

export function newSnapshotId(): string {
  return randomBytes(16).toString("hex");
}

/** sha256 of a file; stops early (throwing) when `signal` aborts, so a background pass can be cut short. */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) {
      if (signal?.aborted) throw new Error(`hashing ${file} was stopped`);
      hash.update(chunk as Buffer);
    }
  } finally {
    stream.destroy();
  }
  return hash.digest("hex");
}

/** Inode and nanosecond mtime of a file, as the manifest records them. */
export async function fileIdentity(file: string): Promise<{ size: number; ino: number; mtimeNs: string }> {
  const st = await stat(file, { bigint: true });
  return { size: Number(st.size), ino: Number(st.ino), mtimeNs: st.mtimeNs.toString() };
}

/** Every regular file under `dir` (recursively), relative to it, sorted; the manifest itself excluded. */
export async function listSnapshotFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const relPath = rel ? path.posix.join(rel, entry.name) : entry.name;
      if (entry.isDirectory()) await walk(relPath);
      else if (entry.isFile() && relPath !== MANIFEST_FILE) out.push(relPath);
    }
  };
  await walk("");
  return out.sort();
}

/** Describes the files of a staged snapshot: sizes, checksums and identities as written. */
export async function describeFiles(dir: string): Promise<{ files: ManifestFile[]; totalBytes: number }> {
  const files: ManifestFile[] = [];
  let totalBytes = 0;
  for (const rel of await listSnapshotFiles(dir)) {
    const full = path.join(dir, rel);
    const before = await fileIdentity(full);
    const sha256 = await sha256File(full);
    const { size, ino, mtimeNs } = await fileIdentity(full);
    // The identity recorded must be that of the bytes the checksum covers.
    if (ino !== before.ino || mtimeNs !== before.mtimeNs || size !== before.size) throw new Error(`file ${rel} changed while it was being hashed`);
    files.push({ path: rel, size, sha256, ino, mtimeNs });
    totalBytes += size;
  }
  return { files, totalBytes };
}
