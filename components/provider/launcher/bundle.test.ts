import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bundleIsFresh, ensureBundle } from "./bundle.mjs";

describe("provider bundle", () => {
  let root: string;
  let bundlePath: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "vhive-bundle-"));
    bundlePath = join(root, "cache", "main.mjs");
    writeFileSync(join(root, "entry.ts"), 'import { value } from "./dep.js";\nexport const answer: number = value * 2;\n');
    writeFileSync(join(root, "dep.ts"), "export const value = 21;\n");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const load = async (): Promise<number> => ((await import(`${pathToFileURL(bundlePath).href}?t=${Date.now()}`)) as { answer: number }).answer;

  it("builds once, then reuses the bundle while no source changed", async () => {
    expect(await ensureBundle({ root, entry: "entry.ts", bundlePath })).toBe(true);
    expect(await load()).toBe(42);
    expect(bundleIsFresh(root, bundlePath)).toBe(true);
    expect(await ensureBundle({ root, entry: "entry.ts", bundlePath })).toBe(false);
  });

  it("rebuilds when an imported source changes", async () => {
    await ensureBundle({ root, entry: "entry.ts", bundlePath });
    writeFileSync(join(root, "dep.ts"), "export const value = 50;\n");
    // Same size is possible for an edit; the mtime tells it apart.
    utimesSync(join(root, "dep.ts"), new Date(), new Date(Date.now() + 5_000));
    expect(bundleIsFresh(root, bundlePath)).toBe(false);
    expect(await ensureBundle({ root, entry: "entry.ts", bundlePath })).toBe(true);
    expect(await load()).toBe(100);
  });

  it("rebuilds when a source it was built from is gone, and names a broken entry", async () => {
    await ensureBundle({ root, entry: "entry.ts", bundlePath });
    rmSync(join(root, "dep.ts"));
    expect(bundleIsFresh(root, bundlePath)).toBe(false);
    await expect(ensureBundle({ root, entry: "entry.ts", bundlePath })).rejects.toThrow(/dep/);
  });

  it("does not trust a file without its stamp", () => {
    writeFileSync(join(root, "plain.mjs"), "export const answer = 1;\n");
    expect(bundleIsFresh(root, join(root, "plain.mjs"))).toBe(false);
    expect(bundleIsFresh(root, join(root, "missing.mjs"))).toBe(false);
  });
});
