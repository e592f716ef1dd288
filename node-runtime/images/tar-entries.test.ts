import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, linkSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { normaliseMemberPath, readTarEntries, type TarEntry } from "./tar-entries.js";

const dir = mkdtempSync("/tmp/vhimg-tar-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function entriesOf(format: "gnu" | "posix" | "ustar"): Promise<TarEntry[]> {
  const src = path.join(dir, `src-${format}`);
  const long = "d".repeat(60) + "/" + "e".repeat(70) + "/" + "f".repeat(90);
  mkdirSync(path.join(src, path.dirname(long)), { recursive: true });
  writeFileSync(path.join(src, long), "x".repeat(1000));
  writeFileSync(path.join(src, "a"), "a");
  linkSync(path.join(src, "a"), path.join(src, "hard"));
  symlinkSync("a", path.join(src, "soft"));
  const members = format === "ustar" ? ["a", "hard", "soft"] : ["a", "hard", "soft", long];
  const tar = execFileSync("tar", ["-C", src, `--format=${format}`, "--sort=name", "-cf", "-", ...members]);
  const found: TarEntry[] = [];
  for await (const entry of readTarEntries(Readable.from([tar]))) found.push(entry);
  return found;
}

describe("readTarEntries", () => {
  it.each(["gnu", "posix"] as const)("lists members of a %s archive, long names included", async (format) => {
    const entries = await entriesOf(format);
    expect(entries.map((e) => [e.path.length > 100 ? "long" : e.path, e.type])).toEqual([
      ["a", "file"],
      ["hard", "hardlink"],
      ["soft", "symlink"],
      ["long", "file"],
    ]);
    expect(entries[1]?.linkTarget).toBe("a");
    expect(entries[2]?.linkTarget).toBe("a");
  });

  it("rejects data that is not a tar stream", async () => {
    const garbage = Readable.from([Buffer.alloc(1024, 7)]);
    await expect(async () => {
      for await (const _ of readTarEntries(garbage)) void _;
    }).rejects.toThrow("checksum mismatch");
  });

  it("normalises member paths and refuses ones that climb out", () => {
    expect(normaliseMemberPath("./etc//passwd")).toBe("etc/passwd");
    expect(normaliseMemberPath("/abs/dir/")).toBe("abs/dir");
    expect(() => normaliseMemberPath("a/../../etc")).toThrow('contains ".."');
  });
});
