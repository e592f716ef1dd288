// The project's own stack program (index.ts, `export default vhiveProgram`) as `pulumi up` runs it:
// started by the pinned CLI through the Node.js language host built by scripts/tools (not the
// Automation API's inline program), with Pulumi.yaml's runtime options (ESM TypeScript through
// `nodeargs: --import tsx`). The project directory is a temporary one that links the repository's
// program, package.json and node_modules and carries the repository's Pulumi.yaml settings, so the
// stack's encryption salt is written there and not into stacks/. The playground stack previews
// without hosts (they are made at `pulumi up`, which needs root and systemd-nspawn).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "#cli/pulumi/tools.js";
import { PulumiCli, usedFromPath, type PreviewJson } from "./pulumi-cli.js";

const work = mkdtempSync(join(tmpdir(), "vhive-language-host-"));
const project = join(work, "project");
let cli: PulumiCli;
let preview: PreviewJson;

interface ProjectFile {
  stackConfigDir?: string;
  plugins?: { providers?: { name: string; path: string }[] };
  runtime: { name: string; options?: Record<string, unknown> };
  main?: string;
}

beforeAll(async () => {
  cli = await PulumiCli.open(work);
  const projectFile = parseYaml(readFileSync(join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as ProjectFile;
  delete projectFile.stackConfigDir;
  for (const provider of projectFile.plugins?.providers ?? []) provider.path = join(REPO_ROOT, provider.path);
  rmSync(project, { recursive: true, force: true });
  mkdirSync(project);
  writeFileSync(join(project, "Pulumi.yaml"), toYaml(projectFile));
  for (const entry of ["index.ts", "package.json", "node_modules"]) symlinkSync(join(REPO_ROOT, entry), join(project, entry));
  copyFileSync(join(REPO_ROOT, "stacks", "Pulumi.playground.yaml"), join(project, "Pulumi.playground.yaml"));
  const init = await cli.run(project, ["stack", "init", "playground"]);
  expect(init.code, init.stderr).toBe(0);
  preview = await cli.preview(project, "playground");
}, 1_800_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("index.ts under pulumi-language-nodejs", () => {
  it("keeps the runtime options the test relies on: ESM TypeScript through tsx", () => {
    const projectFile = parseYaml(readFileSync(join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as ProjectFile;
    expect(projectFile.runtime).toEqual({ name: "nodejs", options: { typescript: false, nodeargs: "--import tsx" } });
    expect(projectFile.main).toBe("index.ts");
  });

  it("is run by the language host from the tool cache", () => {
    expect(usedFromPath(preview, "pulumi-language-nodejs", cli.bins["pulumi-language-nodejs"])).toBe(true);
  });

  it("previews the playground stack: the node runtime and its host steps on both hosts, all to create", () => {
    expect(Object.keys(preview.changeSummary)).toEqual(["create"]);
    const names = preview.steps.map((s) => s.urn.split("::").at(-1));
    for (const host of ["vht-61", "vht-62"]) {
      expect(names).toContain(`${host}-packages`);
      expect(names).toContain(`${host}-node-runtime`);
    }
    const nodeRuntimeStep = preview.steps.find((s) => s.urn.endsWith("::vht-61-node-runtime"));
    expect(nodeRuntimeStep?.newState?.type).toBe("vhive:index:HostCommand");
    expect(preview.steps.every((s) => s.op === "create")).toBe(true);
    expect((preview.diagnostics ?? []).filter((d) => d.severity === "error")).toEqual([]);
  });
});
