import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/** File name of the manifest inside a committed snapshot directory. */
export const MANIFEST_FILE = "manifest.json";

const fileEntry = z.object({
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const snapshotManifestSchema = z.object({
  version: z.literal(1),
  revision: z.string().min(1),
  sandbox: z.string().min(1),
  imageDigest: z.string(),
  createdAt: z.string(),
  totalBytes: z.number().int().nonnegative(),
  files: z.array(fileEntry),
});

export type SnapshotManifest = z.infer<typeof snapshotManifestSchema>;
export type ManifestFile = z.infer<typeof fileEntry>;

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
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

/** Describes the files of a staged snapshot: sizes and checksums as written. */
export async function describeFiles(dir: string): Promise<{ files: ManifestFile[]; totalBytes: number }> {
  const files: ManifestFile[] = [];
  let totalBytes = 0;
  for (const rel of await listSnapshotFiles(dir)) {
    const full = path.join(dir, rel);
    const { size } = await stat(full);
    files.push({ path: rel, size, sha256: await sha256File(full) });
    totalBytes += size;
  }
  return { files, totalBytes };
}
