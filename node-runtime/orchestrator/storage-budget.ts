import { execFile } from "node:child_process";
import { readdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { readProcFile } from "../system/proc-file.js";
import type { SnapshotStore } from "../snapshots/snapshot-store.js";

const run = promisify(execFile);

/** A directory of entries the runtime can build again, so they may go when the disk budget is short. */
export interface CacheDir {
  /** What the entries are, for logs: "prepared-image", "ext4", "rootfs". */
  kind: string;
  dir: string;
  /** The image digest's hex an entry is derived from (rootfs/<hex>, ext4/<hex>.ext4), when it is named by one. */
  digestHexOf?: (entryName: string) => string | undefined;
}

export interface CollectedEntry {
  kind: string;
  path: string;
  bytes: number;
}

export interface StorageBudgetOptions {
  budgetBytes: number;
  /** Every directory the runtime stores data in; all of it counts against the budget. */
  roots: string[];
  /** Caches collected first, least recently used first. */
  caches: CacheDir[];
  snapshots: SnapshotStore;
  /** Hex digests of images instances run from now: their caches stay. */
  imagesInUse: () => Iterable<string>;
  onCollected?: (entry: CollectedEntry) => void;
  onEvicted?: (revision: string, bytes: number) => void;
}

export interface CollectionReport {
  /** Bytes stored before and after collecting. */
  usageBytes: number;
  afterBytes: number;
  removed: CollectedEntry[];
  evicted: string[];
}

/**
 * The runtime's disk budget over everything it stores (snapshots, image blobs, unpacked root
 * filesystems, ext4 images, prepared guest disks, instance state). When the total is over the
 * budget, caches the runtime can rebuild go first, least recently used first (files by the later
 * of access and modification time, directories by when they were built), skipping those of images
 * in use and root filesystems an overlay mount still reads; then snapshots, least recently used
 * first, never one being loaded. Image blobs are the source of everything else and are never
 * collected here.
 *
 * Sizes are allocated blocks as `du` counts them (sparse files count what they hold; a file
 * hard-linked into several places counts once).
 */
export class StorageBudget {
  private running: Promise<CollectionReport> | undefined;
  private again = false;

  constructor(private readonly opts: StorageBudgetOptions) {
    if (!Number.isFinite(opts.budgetBytes) || opts.budgetBytes <= 0) throw new Error(`diskBudget must be a positive number of bytes, got ${opts.budgetBytes}`);
  }

  /** Bytes the runtime stores now. */
  async usage(): Promise<number> {
    const roots = await existing(topLevel(this.opts.roots));
    return roots.length === 0 ? 0 : (await du(roots)).reduce((sum, b) => sum + b, 0);
  }

  /** Collects until the total fits; calls while one runs are folded into one more run after it. */
  collect(): Promise<CollectionReport> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.collectOnce()
      .then(async (report) => {
        while (this.again) {
          this.again = false;
          report = await this.collectOnce();
        }
        return report;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async collectOnce(): Promise<CollectionReport> {
    const usageBytes = await this.usage();
    let total = usageBytes;
    const report: CollectionReport = { usageBytes, afterBytes: total, removed: [], evicted: [] };
    if (total <= this.opts.budgetBytes) return report;

    const inUse = new Set(this.opts.imagesInUse());
    const mounted = await overlayLowerDirs();
    for (const entry of await this.cacheEntries()) {
      if (total <= this.opts.budgetBytes) break;
      if (entry.digestHex !== undefined && inUse.has(entry.digestHex)) continue;
      if ([...mounted].some((lower) => lower === entry.path || lower.startsWith(entry.path + path.sep))) continue;
      await rm(entry.path, { recursive: true, force: true });
      total -= entry.bytes;
      const collected = { kind: entry.kind, path: entry.path, bytes: entry.bytes };
      report.removed.push(collected);
      this.opts.onCollected?.(collected);
    }
    if (total > this.opts.budgetBytes) {
      const snapshots = (await this.opts.snapshots.list()).filter((s) => s.inUse === 0).sort((a, b) => a.lastUsedAt.localeCompare(b.lastUsedAt));
      for (const s of snapshots) {
        if (total <= this.opts.budgetBytes) break;
        try {
          await this.opts.snapshots.remove(s.revision);
        } catch {
          continue; // a load took it meanwhile, or it is gone already
        }
        // Snapshot sizes are file lengths, not blocks: measure again rather than guess.
        total = await this.usage();
        report.evicted.push(s.revision);
        this.opts.onEvicted?.(s.revision, s.sizeBytes);
      }
    }
    report.afterBytes = await this.usage();
    return report;
  }

  /** Every cache entry with its size and last use, least recently used first. */
  private async cacheEntries(): Promise<{ kind: string; path: string; bytes: number; lastUsedMs: number; digestHex?: string }[]> {
    const found: { kind: string; path: string; lastUsedMs: number; digestHex?: string }[] = [];
    for (const cache of this.opts.caches) {
      for (const name of await readdir(cache.dir).catch(() => [] as string[])) {
        // Half-built entries (".build-…", "….tmp") belong to a builder running now.
        if (name.startsWith(".") || name.endsWith(".tmp")) continue;
        const full = path.join(cache.dir, name);
        const st = await stat(full).catch(() => undefined);
        if (!st) continue;
        const digestHex = cache.digestHexOf?.(name);
        // A file's atime moves when a boot reads it; a directory's when anything lists it (du
        // included), so a directory counts from when it was built.
        const lastUsedMs = st.isDirectory() ? st.mtimeMs : Math.max(st.atimeMs, st.mtimeMs);
        found.push({ kind: cache.kind, path: full, lastUsedMs, ...(digestHex ? { digestHex } : {}) });
      }
    }
    if (found.length === 0) return [];
    const sizes = await du(found.map((f) => f.path));
    return found.map((f, i) => ({ ...f, bytes: sizes[i] ?? 0 })).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  }
}

/** Drops roots inside other roots (the image store under the data dir's parent, say) so nothing counts twice. */
function topLevel(roots: string[]): string[] {
  const resolved = [...new Set(roots.map((r) => path.resolve(r)))];
  return resolved.filter((r) => !resolved.some((o) => o !== r && r.startsWith(o + path.sep)));
}

async function existing(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const p of paths)
    if (
      await stat(p).then(
        () => true,
        () => false,
      )
    )
      found.push(p);
  return found;
}

/**
 * Allocated bytes of each path, in order, from one `du` run (so hard links count once across all
 * of them). A path that vanished meanwhile counts 0.
 */
async function du(paths: string[]): Promise<number[]> {
  const { stdout } = await run("du", ["-s", "--block-size=1", "--", ...paths], { maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string }) => ({
    stdout: err.stdout ?? "",
  }));
  const bytes = new Map<string, number>();
  for (const line of stdout.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) bytes.set(line.slice(tab + 1), Number(line.slice(0, tab)));
  }
  return paths.map((p) => bytes.get(p) ?? 0);
}

/** Directories that overlay mounts of this host read from (gVisor instances' lower root filesystems). */
async function overlayLowerDirs(): Promise<Set<string>> {
  const text = await readProcFile("/proc/self/mountinfo").catch(() => "");
  const lowers = new Set<string>();
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const [fstype, , superOptions = ""] = line.slice(sep + 3).split(" ");
    if (fstype !== "overlay") continue;
    const lower = /(?:^|,)lowerdir=([^,]*)/.exec(superOptions)?.[1];
    for (const dir of lower?.split(":") ?? []) lowers.add(unescapeMountPath(dir));
  }
  return lowers;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
