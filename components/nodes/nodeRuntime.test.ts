import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkShell } from "../scripts/checkShell.js";
import { bundleScript, runtimeDependencies, sourceDigest } from "./nodeRuntime.js";

const repo = join(import.meta.dirname, "..", "..");

describe("node runtime bundle", () => {
  it("keeps only the dependencies the node runtime imports, plus tsx", () => {
    const deps = runtimeDependencies(repo);
    expect(Object.keys(deps)).toContain("tsx");
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
});
