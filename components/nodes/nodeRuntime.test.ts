import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkShell } from "../scripts/checkShell.js";
import { bundleScript, runtimeDependencies, sourceDigest } from "./nodeRuntime.js";

const repo = join(import.meta.dirname, "..", "..");

describe("node runtime bundle", () => {
  it("keeps only the dependencies the node runtime imports", () => {
    const deps = runtimeDependencies(repo);
    expect(Object.keys(deps)).not.toContain("tsx");
    expect(Object.keys(deps)).toContain("@grpc/grpc-js");
    for (const excluded of ["@pulumi/pulumi", "@pulumi/kubernetes", "@pulumi/command", "vitest", "vega"])
      expect(Object.keys(deps)).not.toContain(excluded);
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
      const [path, sha] = execFileSync("bash", ["-c", bundleScript(repo, sourceDigest(repo), "test")], { encoding: "utf8", env, timeout: 300_000 }).trim().split(" ");
      expect(execFileSync("sha256sum", [path!], { encoding: "utf8" }).split(" ")[0]).toBe(sha);
      execFileSync("tar", ["-xzf", path!, "-C", unpacked]);
      const files = execFileSync("find", [".", "-path", "./node_modules", "-prune", "-o", "-type", "f", "-print"], { cwd: unpacked, encoding: "utf8" }).split("\n");
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
