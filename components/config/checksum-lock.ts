// The checksum lock: every checksum the provisioner resolved at run time (from an upstream checksum
// file, or by hashing the first download where upstream publishes none), by upstream URL. The user
// commits it; later runs verify against it instead of trusting a download again.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

export const CHECKSUM = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

const LockEntrySchema = z.strictObject({
  checksum: z.string().regex(CHECKSUM, { error: 'must be "sha256:<64 hex digits>" or "sha512:<128 hex digits>"' }),
  /** Where the checksum came from: the upstream checksum file's URL, or "first download". */
  source: z.string().min(1),
});

const LockFileSchema = z.strictObject({
  comment: z.string().optional(),
  files: z.record(z.string().regex(/^https:\/\/\S+$/, { error: "must be the https URL of an upstream file" }), LockEntrySchema),
});

export type LockEntry = z.output<typeof LockEntrySchema>;

/** The source recorded for a checksum computed from the first download (trust on first use). */
export const FIRST_DOWNLOAD = "first download";

const COMMENT =
  "Checksums of downloaded files, recorded by the first `pulumi up` that needed them (from upstream's " +
  "checksum file, or from the first download where upstream publishes none). Commit this file: later " +
  "runs verify every download against it. See README.md, 'Downloads and checksums'.";

export class ChecksumLock {
  private readonly entries: Map<string, LockEntry>;

  constructor(readonly path: string) {
    this.entries = new Map(Object.entries(ChecksumLock.read(path)));
  }

  private static read(path: string): Record<string, LockEntry> {
    if (!existsSync(path)) return {};
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, "utf8"));
    } catch (error) {
      throw new Error(`checksum lock ${path}: not valid JSON (${(error as Error).message})`);
    }
    const parsed = LockFileSchema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
      throw new Error(`checksum lock ${path}: ${problems.join("; ")}`);
    }
    return parsed.data.files;
  }

  /** The recorded checksum of the file at this upstream URL, if any. */
  get(url: string): LockEntry | undefined {
    return this.entries.get(url);
  }

  /**
   * Records a checksum and rewrites the file (sorted, so diffs stay small). Refuses to change a
   * recorded checksum: a different value means the upstream file changed, which the user decides.
   */
  record(url: string, checksum: string, source: string): void {
    if (!CHECKSUM.test(checksum)) throw new Error(`checksum lock: ${JSON.stringify(checksum)} for ${url} is not "sha256:<hex>" or "sha512:<hex>"`);
    const known = this.entries.get(url);
    if (known && known.checksum !== checksum)
      throw new Error(`checksum lock ${this.path}: ${url} is recorded as ${known.checksum}, now ${checksum}; refusing to replace it`);
    if (known) return;
    this.entries.set(url, { checksum, source });
    const files = Object.fromEntries([...this.entries].sort(([a], [b]) => a.localeCompare(b)));
    mkdirSync(dirname(this.path), { recursive: true });
    // Written whole and renamed into place, so an interrupted run never leaves half a lock.
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ comment: COMMENT, files }, null, 2)}\n`);
    renameSync(temporary, this.path);
  }
}
