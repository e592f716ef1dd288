import path from "node:path";
import { stat } from "node:fs/promises";
import { RuntimeError } from "../orchestrator/errors.js";
import { MANIFEST_VERSION, describeFiles, fileIdentity, newSnapshotId, sha256File, type ManifestFile, type SnapshotManifest } from "./manifest.js";
import { SnapshotPersistence } from "./snapshot-persistence.js";
import { errorMessage } from "../system/error-message.js";

export interface SnapshotInfo {
  revision: string;
  /** The snapshot's identity (new at every commit of the revision). */
  snapshotId: string;
  sandbox: string;
  imageDigest: string;
  createdAt: string;
  lastUsedAt: string;
  /** Bytes on disk: the committed files plus what was written beside them since (working sets). */
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

/**
 * When file contents are hashed. "commit" (default): sha256 of every file at commit, and once more in
 * a background pass after start-up; a load only stat()s each file and compares size, inode and
 * mtime with what the commit recorded, so no checksum runs on the start path. "every-load" also
 * hashes every file before every load (the time shows in AddInstance).
 */
export type SnapshotChecksums = "commit" | "every-load";

export interface SnapshotStoreOptions {
  root: string;
  /** Disk budget for committed snapshots, bytes; least recently used ones go first beyond it. */
  budgetBytes: number;
  /**
   * Whether the store itself evicts within `budgetBytes` (default true), counting file lengths. The
   * served runtime passes false: its StorageBudget enforces the budget over everything it stores in
   * allocated blocks, where a snapshot's sparse 1 GiB writable layer counts what it holds, not 1 GiB.
   */
  enforceBudget?: boolean;
  checksums?: SnapshotChecksums;
  /** Re-hash every snapshot in the background after init() (default true). */
  verifyInBackground?: boolean;
  onEvent?: (event: SnapshotEvent) => void;
}

export type SnapshotEvent =
  | { kind: "committed"; revision: string; sizeBytes: number }
  | { kind: "evicted"; revision: string; sizeBytes: number }
  | { kind: "discarded"; revision: string; reason: string };

/** What the background pass found: snapshots whose every file matched its checksum, and the others. */
export interface VerificationReport {
  verified: string[];
  discarded: string[];
}

/** Thrown when a snapshot fails its checks; the store has already discarded it. */
export class SnapshotCorruptError extends RuntimeError {
  constructor(revision: string, reason: string) {
    super("FAILED_PRECONDITION", `snapshot of revision ${revision} is corrupt and was discarded: ${reason}`);
  }
}

/** A side file (written beside a committed snapshot) belongs to the snapshot whose id its name carries. */
export function sideFileBelongsTo(name: string, snapshotId: string): boolean {
  return path.posix.basename(name).includes(snapshotId);
}

/**
 * Snapshots per function revision: atomic commit from a staging directory, checks before a load,
 * and LRU garbage collection within a disk budget that never touches a snapshot being loaded.
 */
export class SnapshotStore {
  private readonly disk: SnapshotPersistence;
  private readonly leases = new Map<string, number>();
  private readonly deleting = new Set<string>();
  private readonly checksums: SnapshotChecksums;
  private readonly stopBackground = new AbortController();
  private background: Promise<VerificationReport> = Promise.resolve({ verified: [], discarded: [] });

  constructor(private readonly opts: SnapshotStoreOptions) {
    if (!Number.isFinite(opts.budgetBytes) || opts.budgetBytes <= 0) {
      throw new RuntimeError("INVALID_ARGUMENT", `snapshot disk budget must be a positive number of bytes, got ${opts.budgetBytes}`);
    }
    const checksums = opts.checksums ?? "commit";
    if (checksums !== "commit" && checksums !== "every-load") {
      throw new RuntimeError("INVALID_ARGUMENT", `snapshot checksums must be "commit" or "every-load", got ${JSON.stringify(checksums)}`);
    }
    this.checksums = checksums;
    this.disk = new SnapshotPersistence(opts.root);
  }

  get root(): string {
    return this.opts.root;
  }

  get budgetBytes(): number {
    return this.opts.budgetBytes;
  }

  /**
   * Start-up: drops what cannot be loaded (unreadable or old-format manifests, files gone or changed
   * and failing their checksum), side files of earlier snapshots of a revision, and whatever exceeds
   * the budget; then re-hashes the rest in the background (see `verification()`).
   */
  async init(): Promise<void> {
    await this.disk.init();
    const hashedNow = new Set<string>();
    for (const revision of await this.disk.listRevisions()) {
      let manifest: SnapshotManifest;
      try {
        manifest = await this.disk.readManifest(revision);
      } catch (err) {
        await this.discard(revision, `unreadable manifest: ${errorMessage(err)}`);
        continue;
      }
      try {
        if (await this.reidentify(revision, manifest)) hashedNow.add(revision);
      } catch (err) {
        await this.discard(revision, errorMessage(err));
        continue;
      }
      for (const side of await this.disk.sideFiles(revision, manifest)) {
        // Written for an earlier snapshot of this revision (say, a recording that finished after it
        // was deleted), or the temporary of an atomic write a crash interrupted (no writer runs yet).
        const temporary = path.posix.basename(side.path).startsWith(".");
        if (temporary || !sideFileBelongsTo(side.path, manifest.snapshotId)) await this.disk.removeFile(revision, side.path);
      }
    }
    if (this.opts.enforceBudget ?? true) await this.collectGarbage();
    if (this.opts.verifyInBackground ?? true) {
      const pending = (await this.disk.listRevisions()).filter((r) => !hashedNow.has(r));
      this.background = this.verifyAll(pending);
    }
  }

  /**
   * Files whose identity (inode, mtime) differs from the manifest's — the data directory was copied
   * or restored from a backup — are hashed now; when their contents still match, the manifest takes
   * their new identity. Returns whether anything was hashed. Throws when a file is missing or differs.
   */
  private async reidentify(revision: string, manifest: SnapshotManifest): Promise<boolean> {
    const dir = this.disk.committedDir(revision);
    const files: ManifestFile[] = [];
    let changed = false;
    for (const f of manifest.files) {
      const full = this.fileIn(dir, f.path);
      const now = await fileIdentity(full).catch(() => {
        throw new Error(`file ${f.path} is missing`);
      });
      if (now.size !== f.size) throw new Error(`file ${f.path} has ${now.size} bytes, manifest says ${f.size}`);
      if (now.ino === f.ino && now.mtimeNs === f.mtimeNs) {
        files.push(f);
        continue;
      }
      const sum = await sha256File(full);
      if (sum !== f.sha256) throw new Error(`file ${f.path} has sha256 ${sum}, manifest says ${f.sha256}`);
      files.push({ ...f, ino: now.ino, mtimeNs: now.mtimeNs });
      changed = true;
    }
    if (changed) await this.disk.replaceManifest(revision, { ...manifest, files });
    return changed;
  }

  /** The background pass started by init(): resolves once every snapshot was re-hashed (or close() stopped it). */
  verification(): Promise<VerificationReport> {
    return this.background;
  }

  /** Stops the background pass and waits for it. */
  async close(): Promise<void> {
    this.stopBackground.abort();
    await this.background;
  }

  private async verifyAll(revisions: string[]): Promise<VerificationReport> {
    const report: VerificationReport = { verified: [], discarded: [] };
    const signal = this.stopBackground.signal;
    for (const revision of revisions) {
      if (signal.aborted) break;
      let manifest: SnapshotManifest;
      try {
        manifest = await this.disk.readManifest(revision);
      } catch {
        continue; // Deleted (or replaced mid-write) since init: nothing to verify.
      }
      const dir = this.disk.committedDir(revision);
      let problem: string | undefined;
      for (const f of manifest.files) {
        try {
          const sum = await sha256File(this.fileIn(dir, f.path), signal);
          if (sum !== f.sha256) problem = `file ${f.path} has sha256 ${sum}, manifest says ${f.sha256}`;
        } catch (err) {
          if (signal.aborted) return report;
          problem = errorMessage(err);
        }
        if (problem) break;
      }
      if (problem === undefined) {
        report.verified.push(revision);
      } else if (await this.isCurrent(revision, manifest.snapshotId)) {
        // Only the snapshot that was hashed: one deleted and taken again meanwhile is not this one.
        await this.discard(revision, `background verification: ${problem}`).catch(() => undefined);
        report.discarded.push(revision);
      }
    }
    return report;
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
   * Records sizes, checksums and identities of the staged files under a new snapshot id and
   * publishes them as the revision's snapshot. Returns false when the revision already had one (the
   * staged copy is dropped) or the snapshot alone exceeds the disk budget.
   */
  async commit(stagingDir: string, meta: { revision: string; sandbox: string; imageDigest: string }): Promise<boolean> {
    let published = false;
    try {
      const { files, totalBytes } = await describeFiles(stagingDir);
      if (files.length === 0) throw new RuntimeError("INTERNAL", `snapshot of revision ${meta.revision} wrote no files`);
      if ((this.opts.enforceBudget ?? true) && totalBytes > this.opts.budgetBytes) {
        this.opts.onEvent?.({ kind: "discarded", revision: meta.revision, reason: `size ${totalBytes} B exceeds the disk budget ${this.opts.budgetBytes} B` });
        return false;
      }
      await this.disk.writeManifest(stagingDir, {
        version: MANIFEST_VERSION,
        snapshotId: newSnapshotId(),
        ...meta,
        createdAt: new Date().toISOString(),
        totalBytes,
        files,
      });
      published = await this.disk.publish(stagingDir, meta.revision);
      if (published) {
        this.opts.onEvent?.({ kind: "committed", revision: meta.revision, sizeBytes: totalBytes });
        if (this.opts.enforceBudget ?? true) await this.collectGarbage(meta.revision);
      }
      return published;
    } finally {
      if (!published) await this.disk.discardStaging(stagingDir);
    }
  }

  /**
   * Checks the revision's snapshot and reserves it for one load. Undefined when there is none;
   * SnapshotCorruptError (after discarding it) when it fails a check.
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

  /**
   * Gives back a lease on a snapshot that could not be loaded here (the restore failed, or the
   * driver found it incompatible) and deletes that snapshot, so the next teardown of a booted
   * instance takes it again. A snapshot taken since under the same revision is left alone.
   * Loads of it still in flight fail over to a boot, as with a corrupt snapshot.
   */
  async discardLoaded(lease: SnapshotLease, reason: string): Promise<boolean> {
    lease.release();
    const revision = lease.manifest.revision;
    if (!(await this.isCurrent(revision, lease.manifest.snapshotId))) return false;
    await this.discard(revision, reason);
    return true;
  }

  private async isCurrent(revision: string, snapshotId: string): Promise<boolean> {
    if (this.deleting.has(revision)) return false;
    const current = await this.disk.readManifest(revision).catch(() => undefined);
    return current?.snapshotId === snapshotId;
  }

  /** A load's check: each file is there with the size, inode and mtime the commit recorded (and, every-load, its checksum). */
  private async check(revision: string): Promise<SnapshotManifest> {
    let manifest: SnapshotManifest;
    try {
      manifest = await this.disk.readManifest(revision);
    } catch (err) {
      throw new Error(`manifest unreadable: ${errorMessage(err)}`);
    }
    const dir = this.disk.committedDir(revision);
    for (const f of manifest.files) {
      const full = this.fileIn(dir, f.path);
      const now = await fileIdentity(full).catch(() => {
        throw new Error(`file ${f.path} is missing`);
      });
      if (now.size !== f.size) throw new Error(`file ${f.path} has ${now.size} bytes, manifest says ${f.size}`);
      if (now.ino !== f.ino || now.mtimeNs !== f.mtimeNs) {
        throw new Error(
          `file ${f.path} was replaced or rewritten after the commit (inode ${now.ino}, mtime ${now.mtimeNs} ns; manifest says ${f.ino}, ${f.mtimeNs} ns)`,
        );
      }
      if (this.checksums === "every-load") {
        const sum = await sha256File(full);
        if (sum !== f.sha256) throw new Error(`file ${f.path} has sha256 ${sum}, manifest says ${f.sha256}`);
      }
    }
    return manifest;
  }

  private fileIn(dir: string, rel: string): string {
    const full = path.join(dir, rel);
    if (path.relative(dir, full).startsWith("..")) throw new Error(`manifest names a file outside the snapshot: ${rel}`);
    return full;
  }

  async list(): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const revision of await this.disk.listRevisions()) {
      if (this.deleting.has(revision)) continue;
      try {
        const m = await this.disk.readManifest(revision);
        const side = await this.disk.sideFiles(revision, m);
        out.push({
          revision,
          snapshotId: m.snapshotId,
          sandbox: m.sandbox,
          imageDigest: m.imageDigest,
          createdAt: m.createdAt,
          lastUsedAt: (await this.disk.lastUsed(revision)).toISOString(),
          sizeBytes: m.totalBytes + side.reduce((sum, f) => sum + f.size, 0),
          files: m.files.length,
          inUse: this.leases.get(revision) ?? 0,
        });
      } catch {
        // Vanished or half-written between listing and reading: not a usable snapshot, skip it.
      }
    }
    return out;
  }

  /** Deletes a revision's snapshot (and everything bound to it); refuses while a load holds it. */
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
    const candidates = all.filter((s) => s.revision !== keep).sort((a, b) => a.lastUsedAt.localeCompare(b.lastUsedAt));
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
