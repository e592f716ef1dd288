import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile, open } from "node:fs/promises";
import path from "node:path";
import { MANIFEST_FILE, listSnapshotFiles, parseSnapshotManifest, type SnapshotManifest } from "./manifest.js";

/**
 * On-disk layout of the snapshot store, kept apart from its policy (leases, LRU):
 *   <root>/committed/<revision>/{files…, manifest.json}   one directory per function revision
 *   <root>/committed/<revision>/<side files>                written after the commit, bound to the
 *                                                          snapshot by its id in their names (REAP's
 *                                                          working set); not in the manifest
 *   <root>/staging/<revision>.<random>/                    snapshots being written
 * A snapshot becomes visible only by renaming a complete staging directory into committed/, so a
 * crash mid-write never leaves a half snapshot where a loader could find it. A committed directory's
 * mtime records when it was last used (the LRU order survives restarts).
 */
export class SnapshotPersistence {
  readonly committedRoot: string;
  readonly stagingRoot: string;

  constructor(readonly root: string) {
    this.committedRoot = path.join(root, "committed");
    this.stagingRoot = path.join(root, "staging");
  }

  async init(): Promise<void> {
    await mkdir(this.committedRoot, { recursive: true });
    // Staging leftovers belong to writes that never committed (crash or kill): drop them.
    await rm(this.stagingRoot, { recursive: true, force: true });
    await mkdir(this.stagingRoot, { recursive: true });
  }

  committedDir(revision: string): string {
    return path.join(this.committedRoot, revision);
  }

  async createStaging(revision: string): Promise<string> {
    const dir = path.join(this.stagingRoot, `${revision}.${randomBytes(4).toString("hex")}`);
    await mkdir(dir, { recursive: false });
    return dir;
  }

  async writeManifest(dir: string, manifest: SnapshotManifest): Promise<void> {
    const file = path.join(dir, MANIFEST_FILE);
    await writeFile(file, JSON.stringify(manifest, null, 2) + "\n");
    // Flush the manifest so the rename that publishes it never points at an empty file after a crash.
    await syncFile(file);
  }

  /** Replaces a committed snapshot's manifest atomically (readers see the old one or the new one). */
  async replaceManifest(revision: string, manifest: SnapshotManifest): Promise<void> {
    const dir = this.committedDir(revision);
    const tmp = path.join(dir, `.${MANIFEST_FILE}.${randomBytes(4).toString("hex")}`);
    await writeFile(tmp, JSON.stringify(manifest, null, 2) + "\n");
    await syncFile(tmp);
    await rename(tmp, path.join(dir, MANIFEST_FILE));
  }

  /** Files of a committed snapshot that its manifest does not list (written after the commit). */
  async sideFiles(revision: string, manifest: SnapshotManifest): Promise<{ path: string; size: number }[]> {
    const listed = new Set(manifest.files.map((f) => f.path));
    const dir = this.committedDir(revision);
    const out: { path: string; size: number }[] = [];
    for (const rel of await listSnapshotFiles(dir)) {
      if (listed.has(rel)) continue;
      const st = await stat(path.join(dir, rel)).catch(() => undefined);
      if (st) out.push({ path: rel, size: st.size });
    }
    return out;
  }

  async removeFile(revision: string, rel: string): Promise<void> {
    await rm(path.join(this.committedDir(revision), rel), { force: true });
  }

  /** Publishes a staged snapshot; false when the revision already has one (the staged copy is dropped). */
  async publish(stagingDir: string, revision: string): Promise<boolean> {
    try {
      await rename(stagingDir, this.committedDir(revision));
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        await rm(stagingDir, { recursive: true, force: true });
        return false;
      }
      throw err;
    }
  }

  async readManifest(revision: string): Promise<SnapshotManifest> {
    const raw = await readFile(path.join(this.committedDir(revision), MANIFEST_FILE), "utf8");
    return parseSnapshotManifest(raw);
  }

  async listRevisions(): Promise<string[]> {
    const entries = await readdir(this.committedRoot, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  }

  async lastUsed(revision: string): Promise<Date> {
    return (await stat(this.committedDir(revision))).mtime;
  }

  async touch(revision: string, when = new Date()): Promise<void> {
    await utimes(this.committedDir(revision), when, when);
  }

  async remove(revision: string): Promise<void> {
    // Rename first so a concurrent reader never sees a half-deleted directory under the real name.
    const doomed = path.join(this.stagingRoot, `deleting-${revision}.${randomBytes(4).toString("hex")}`);
    try {
      await rename(this.committedDir(revision), doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    await rm(doomed, { recursive: true, force: true });
  }

  async discardStaging(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }
}

async function syncFile(file: string): Promise<void> {
  const fh = await open(file, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
