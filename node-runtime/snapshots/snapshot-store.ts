import { stat } from "node:fs/promises";
import path from "node:path";
import { RuntimeError, errorMessage } from "../orchestrator/errors.js";
import { describeFiles, sha256File, type SnapshotManifest } from "./manifest.js";
import { SnapshotPersistence } from "./snapshot-persistence.js";

export interface SnapshotInfo {
  revision: string;
  sandbox: string;
  imageDigest: string;
  createdAt: string;
  lastUsedAt: string;
  sizeBytes: number;
  files: number;
  /** Loads holding it right now (GC never deletes a snapshot with loads in flight). */
  inUse: number;
}

/** A snapshot checked and reserved for one load; `release()` once the load has finished. */
export interface SnapshotLease {
  readonly dir: string;
  readonly manifest: SnapshotManifest;
  release(): void;
}

export interface SnapshotStoreOptions {
  root: string;
  /** Disk budget for committed snapshots, bytes; least recently used ones go first beyond it. */
  budgetBytes: number;
  /**
   * "every-load" hashes every file before every load; "first-load" hashes once per file identity
   * (inode, size, mtime) per process and checks sizes on every load, which keeps multi-MB checksums
   * off the restore path while still catching truncation and any rewrite of a file.
   */
  checksums?: "every-load" | "first-load";
  onEvent?: (event: SnapshotEvent) => void;
}

export type SnapshotEvent =
  | { kind: "committed"; revision: string; sizeBytes: number }
  | { kind: "evicted"; revision: string; sizeBytes: number }
  | { kind: "discarded"; revision: string; reason: string };

/** Thrown when a snapshot fails its checks; the store has already discarded it. */
export class SnapshotCorruptError extends RuntimeError {
  constructor(revision: string, reason: string) {
    super("FAILED_PRECONDITION", `snapshot of revision ${revision} is corrupt and was discarded: ${reason}`);
  }
}

/**
 * Snapshots per function revision: atomic commit from a staging directory, checks before a load,
 * and LRU garbage collection within a disk budget that never touches a snapshot being loaded.
 */
export class SnapshotStore {
  private readonly disk: SnapshotPersistence;
  private readonly leases = new Map<string, number>();
  private readonly deleting = new Set<string>();
  private readonly verified = new Set<string>();
  private readonly checksums: "every-load" | "first-load";

  constructor(private readonly opts: SnapshotStoreOptions) {
    if (!Number.isFinite(opts.budgetBytes) || opts.budgetBytes <= 0) {
      throw new RuntimeError("INVALID_ARGUMENT", `snapshot disk budget must be a positive number of bytes, got ${opts.budgetBytes}`);
    }
    this.disk = new SnapshotPersistence(opts.root);
    this.checksums = opts.checksums ?? "first-load";
  }

  get root(): string {
    return this.opts.root;
  }

  get budgetBytes(): number {
    return this.opts.budgetBytes;
  }

  async init(): Promise<void> {
    await this.disk.init();
    // A committed directory without a readable manifest cannot be checked, so it cannot be loaded.
    for (const revision of await this.disk.listRevisions()) {
      try {
        await this.disk.readManifest(revision);
      } catch (err) {
        await this.discard(revision, `unreadable manifest: ${errorMessage(err)}`);
      }
    }
    await this.collectGarbage();
  }

  async has(revision: string): Promise<boolean> {
    if (this.deleting.has(revision)) return false;
    try {
      await stat(this.disk.committedDir(revision));
      return true;
    } catch {
      return false;
    }
  }

  /** An empty directory to write a snapshot of `revision` into; commit or abort it afterwards. */
  async stage(revision: string): Promise<string> {
    return this.disk.createStaging(revision);
  }

  async abort(stagingDir: string): Promise<void> {
    await this.disk.discardStaging(stagingDir);
  }

  /**
   * Records sizes and checksums of the staged files and publishes them as the revision's snapshot.
   * Returns false when the revision already had one (the staged copy is dropped) or the snapshot
   * alone exceeds the disk budget.
   */
  async commit(stagingDir: string, meta: { revision: string; sandbox: string; imageDigest: string }): Promise<boolean> {
    let published = false;
    try {
      const { files, totalBytes } = await describeFiles(stagingDir);
      if (files.length === 0) throw new RuntimeError("INTERNAL", `snapshot of revision ${meta.revision} wrote no files`);
      if (totalBytes > this.opts.budgetBytes) {
        this.opts.onEvent?.({ kind: "discarded", revision: meta.revision, reason: `size ${totalBytes} B exceeds the disk budget ${this.opts.budgetBytes} B` });
        return false;
      }
      await this.disk.writeManifest(stagingDir, {
        version: 1,
        ...meta,
        createdAt: new Date().toISOString(),
        totalBytes,
        files,
      });
      published = await this.disk.publish(stagingDir, meta.revision);
      if (published) {
        this.opts.onEvent?.({ kind: "committed", revision: meta.revision, sizeBytes: totalBytes });
        await this.collectGarbage(meta.revision);
      }
      return published;
    } finally {
      if (!published) await this.disk.discardStaging(stagingDir);
    }
  }

  /**
   * Checks the revision's snapshot (manifest, sizes, checksums) and reserves it for one load.
   * Undefined when there is none; SnapshotCorruptError (after discarding it) when it fails a check.
   */
  async acquire(revision: string): Promise<SnapshotLease | undefined> {
    if (this.deleting.has(revision) || !(await this.has(revision))) return undefined;
    // Reserve before any await so a concurrent GC pass sees it as in use.
    this.leases.set(revision, (this.leases.get(revision) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.leases.get(revision) ?? 1) - 1;
      if (n <= 0) this.leases.delete(revision);
      else this.leases.set(revision, n);
    };
    try {
      const manifest = await this.check(revision);
      await this.disk.touch(revision);
      return { dir: this.disk.committedDir(revision), manifest, release };
    } catch (err) {
      release();
      if (err instanceof SnapshotCorruptError) throw err;
      await this.discard(revision, errorMessage(err));
      throw new SnapshotCorruptError(revision, errorMessage(err));
    }
  }

  private async check(revision: string): Promise<SnapshotManifest> {
    let manifest: SnapshotManifest;
    try {
      manifest = await this.disk.readManifest(revision);
    } catch (err) {
      throw new Error(`manifest unreadable: ${errorMessage(err)}`);
    }
    const dir = this.disk.committedDir(revision);
    for (const f of manifest.files) {
      const full = path.join(dir, f.path);
      if (path.relative(dir, full).startsWith("..")) throw new Error(`manifest names a file outside the snapshot: ${f.path}`);
      let st;
      try {
        st = await stat(full);
      } catch {
        throw new Error(`file ${f.path} is missing`);
      }
      if (st.size !== f.size) throw new Error(`file ${f.path} has ${st.size} bytes, manifest says ${f.size}`);
      const identity = `${full}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${f.sha256}`;
      if (this.checksums === "first-load" && this.verified.has(identity)) continue;
      const sum = await sha256File(full);
      if (sum !== f.sha256) throw new Error(`file ${f.path} has sha256 ${sum}, manifest says ${f.sha256}`);
      this.verified.add(identity);
    }
    return manifest;
  }

  async list(): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const revision of await this.disk.listRevisions()) {
      if (this.deleting.has(revision)) continue;
      try {
        const m = await this.disk.readManifest(revision);
        out.push({
          revision,
          sandbox: m.sandbox,
          imageDigest: m.imageDigest,
          createdAt: m.createdAt,
          lastUsedAt: (await this.disk.lastUsed(revision)).toISOString(),
          sizeBytes: m.totalBytes,
          files: m.files.length,
          inUse: this.leases.get(revision) ?? 0,
        });
      } catch {
        // Vanished or half-written between listing and reading: not a usable snapshot, skip it.
      }
    }
    return out;
  }

  /** Deletes a revision's snapshot; refuses while a load holds it. */
  async remove(revision: string): Promise<void> {
    if (!(await this.has(revision))) throw new RuntimeError("NOT_FOUND", `no snapshot for revision ${revision}`);
    if ((this.leases.get(revision) ?? 0) > 0) {
      throw new RuntimeError("FAILED_PRECONDITION", `snapshot of revision ${revision} is being loaded; try again when the load has finished`);
    }
    await this.delete(revision);
  }

  async totalBytes(): Promise<number> {
    return (await this.list()).reduce((sum, s) => sum + s.sizeBytes, 0);
  }

  /** Evicts least recently used snapshots until the total fits the budget; `keep` is never evicted. */
  async collectGarbage(keep?: string): Promise<string[]> {
    const all = await this.list();
    let total = all.reduce((sum, s) => sum + s.sizeBytes, 0);
    const evicted: string[] = [];
    const candidates = all
      .filter((s) => s.revision !== keep)
      .sort((a, b) => a.lastUsedAt.localeCompare(b.lastUsedAt));
    for (const s of candidates) {
      if (total <= this.opts.budgetBytes) break;
      if ((this.leases.get(s.revision) ?? 0) > 0) continue;
      await this.delete(s.revision);
      this.opts.onEvent?.({ kind: "evicted", revision: s.revision, sizeBytes: s.sizeBytes });
      evicted.push(s.revision);
      total -= s.sizeBytes;
    }
    return evicted;
  }

  private async discard(revision: string, reason: string): Promise<void> {
    this.opts.onEvent?.({ kind: "discarded", revision, reason });
    // A load may hold it (it was corrupt for them too); remove anyway: they fail over to a boot.
    await this.delete(revision);
  }

  private async delete(revision: string): Promise<void> {
    this.deleting.add(revision);
    try {
      await this.disk.remove(revision);
    } finally {
      this.deleting.delete(revision);
    }
  }
}
