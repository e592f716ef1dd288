import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unmetNeeds } from "./requirements.js";
import { CRI_SPEC, upstreamSpecPath, upstreamSpecsDir } from "./upstream-specs.js";

// A made-up machine: a PATH with one executable and one plain file, a specs directory with one spec.
const dir = mkdtempSync(join(tmpdir(), "vh-needs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(dir, "bin");
mkdirSync(bin);
writeFileSync(join(bin, "present-tool"), "#!/bin/sh\n");
chmodSync(join(bin, "present-tool"), 0o755);
writeFileSync(join(bin, "not-executable"), "");
const specs = join(dir, "specs");
mkdirSync(join(specs, "cri"), { recursive: true });
writeFileSync(join(specs, CRI_SPEC), 'syntax = "proto3";\n');
const env = { PATH: bin, VHIVE_SPECS_DIR: specs, SOME_SETTING: "x" };

describe("test requirements", () => {
  it("are met when every need is there", () => {
    expect(unmetNeeds({ root: "namespaces", commands: ["present-tool"], specs: [CRI_SPEC], env: ["SOME_SETTING"] }, env, 0)).toEqual([]);
  });

  it("name each unmet need: root and what for, commands, settings, specs with where they were looked for", () => {
    const unmet = unmetNeeds(
      {
        root: "network namespaces",
        commands: ["present-tool", "missing-tool", "not-executable"],
        env: ["SOME_SETTING", "UNSET_SETTING"],
        specs: [CRI_SPEC, "firecracker/firecracker-v1.16.1.yaml"],
      },
      env,
      1000,
    );
    expect(unmet).toEqual([
      "needs root (network namespaces)",
      "not on the PATH: missing-tool, not-executable",
      "not set: UNSET_SETTING",
      `upstream spec firecracker/firecracker-v1.16.1.yaml not found in ${specs} (set VHIVE_SPECS_DIR to the directory holding it)`,
    ]);
  });

  it("pass on another check's reason", () => {
    expect(unmetNeeds({ unavailable: "runsc is not installed" }, env, 0)).toEqual(["runsc is not installed"]);
  });
});

describe("upstream specs directory", () => {
  it("is VHIVE_SPECS_DIR when set, else ../shared/specs beside the repository", () => {
    expect(upstreamSpecPath(CRI_SPEC, env)).toBe(join(specs, CRI_SPEC));
    expect(upstreamSpecsDir({})).toBe(join(fileURLToPath(new URL("../..", import.meta.url)), "shared/specs"));
  });

  it("refuses a relative setting and a spec name outside the directory, naming them", () => {
    expect(() => upstreamSpecsDir({ VHIVE_SPECS_DIR: "specs" })).toThrow('VHIVE_SPECS_DIR must be an absolute path (got "specs")');
    expect(() => upstreamSpecPath("../secret", env)).toThrow('spec "../secret" must be a path inside VHIVE_SPECS_DIR');
    expect(() => upstreamSpecPath("/etc/passwd", env)).toThrow('spec "/etc/passwd" must be a path inside VHIVE_SPECS_DIR');
  });
});
