import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkShell } from "../scripts/check-shell.js";
import { bundleScript, sourceDigest } from "./runtime-bundle.js";
import { runtimeLock } from "./runtime-lock.js";

const repo = join(import.meta.dirname, "..", "..");

describe("node runtime bundle", () => {
  it("installs from the runtime's own cut of the lock: its dependencies and what they reach, nothing of the provisioner's", () => {
    const { packageJson, lock } = runtimeLock(repo);
    expect(Object.keys(packageJson.dependencies)).toContain("@grpc/grpc-js");
    const installed = Object.keys(lock.packages)
      .filter((p) => p !== "")
      .map((p) => p.replace(/^.*node_modules\//, ""));
    for (const dep of Object.keys(packageJson.dependencies)) expect(installed).toContain(dep);
    // What only the provisioner, the tests or the benchmarks use stays out.
    for (const excluded of ["tsx", "esbuild", "@pulumi/pulumi", "@pulumi/kubernetes", "vitest", "vega", "ssh2", "typescript"])
      expect(installed).not.toContain(excluded);
    for (const entry of Object.values(lock.packages)) {
      expect(entry).not.toHaveProperty("dev");
      expect(entry).not.toHaveProperty("link");
    }
    // Every package keeps the integrity hash the repository's lock pinned.
    for (const [path, entry] of Object.entries(lock.packages)) if (path !== "") expect(entry.integrity, path).toMatch(/^sha(256|384|512)-/);
  });

  it("names the package a broken lock lacks", () => {
    const broken = mkdtempSync(join(tmpdir(), "vh-lock-"));
    try {
      mkdirSync(join(broken, "node-runtime"));
      writeFileSync(join(broken, "node-runtime", "package.json"), JSON.stringify({ name: "r", version: "1.0.0", dependencies: { "left-pad": "^1.0.0" } }));
      writeFileSync(join(broken, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": {} } }));
      expect(() => runtimeLock(broken)).toThrow(/no entry for left-pad .*run npm install/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it("does not change its digest when only the provisioner's files change", () => {
    const copy = mkdtempSync(join(tmpdir(), "vh-digest-"));
    try {
      execFileSync("tar", [
        "-C",
        repo,
        "--exclude=node_modules",
        "--exclude=build",
        "-cf",
        join(copy, "src.tar"),
        "package.json",
        "package-lock.json",
        "node-runtime",
      ]);
      execFileSync("tar", ["-C", copy, "-xf", join(copy, "src.tar")]);
      const before = sourceDigest(copy);
      const pkg = JSON.parse(readFileSync(join(copy, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
      pkg.devDependencies.vitest = "^99.0.0";
      writeFileSync(join(copy, "package.json"), JSON.stringify(pkg));
      expect(sourceDigest(copy)).toBe(before);
      writeFileSync(join(copy, "node-runtime", "index.ts"), "// changed\n", { flag: "a" });
      expect(sourceDigest(copy)).not.toBe(before);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("digests the runtime sources deterministically", () => {
    expect(sourceDigest(repo)).toMatch(/^[0-9a-f]{64}$/);
    expect(sourceDigest(repo)).toBe(sourceDigest(repo));
  });

  it("packs with a shellcheck-clean script that names the bundle by stack and digest", () => {
    const script = bundleScript(repo, "f".repeat(64), "vhive-dev");
    expect(script).toContain("node-runtime-vhive-dev-ffffffffffffffff.tgz");
    expect(checkShell(script)).toEqual({ syntax: "", shellcheck: "" });
  });

  it("packs the runtime compiled to JavaScript, which plain node runs, with no compiler in it", () => {
    const cache = mkdtempSync(join(tmpdir(), "vh-bundle-"));
    const unpacked = mkdtempSync(join(tmpdir(), "vh-bundle-x-"));
    try {
      const env = { ...process.env, XDG_CACHE_HOME: cache };
      const [path, sha] = execFileSync("bash", ["-c", bundleScript(repo, sourceDigest(repo), "test")], { encoding: "utf8", env, timeout: 300_000 })
        .trim()
        .split(" ");
      expect(execFileSync("sha256sum", [path!], { encoding: "utf8" }).split(" ")[0]).toBe(sha);
      execFileSync("tar", ["-xzf", path!, "-C", unpacked]);
      const files = execFileSync("find", [".", "-path", "./node_modules", "-prune", "-o", "-type", "f", "-print"], { cwd: unpacked, encoding: "utf8" }).split(
        "\n",
      );
      expect(files.filter((f) => f.endsWith(".ts"))).toEqual([]);
      expect(files).toEqual(expect.arrayContaining(["./node-runtime/cli/main.js", "./node-runtime/api/protos/orchestrator.proto"]));
      const modules = readdirSync(join(unpacked, "node_modules"));
      for (const tool of ["tsx", "esbuild", "typescript", "@esbuild"]) expect(modules).not.toContain(tool);
      // Started the way its systemd unit starts it.
      const usage = execFileSync(process.execPath, ["node-runtime/cli/main.js", "--help"], { cwd: unpacked, encoding: "utf8" });
      expect(usage).toMatch(/serve/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
      rmSync(unpacked, { recursive: true, force: true });
    }
  }, 300_000);
});
