// The cross-language component package (components/package) used as a user uses it: each program
// in examples/ is copied to a temporary project, `pulumi package add` generates its SDK from the
// package (which the engine starts through the Node.js language host, its schema made by
// componentProviderHost from the components' TypeScript types) and installs the example's pinned
// dependencies (npm; pip into a virtualenv outside the repository), then `pulumi preview` runs the
// program under its language host with the real engine. Needs the npm registry and PyPI; the
// examples' targets need no hosts for a preview (playground hosts and kind are made at `pulumi up`).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "#cli/pulumi/tools.js";
import { skipReason } from "../requirements.js";
import { PulumiCli, usedFromPath, type PreviewJson } from "./pulumi-cli.js";

const PACKAGE_DIR = join(REPO_ROOT, "components", "package");
const PACKAGE_NAME = (JSON.parse(readFileSync(join(PACKAGE_DIR, "package.json"), "utf8")) as { name: string }).name;
const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };
const lockVersion = (pkg: string) => lock.packages[`node_modules/${pkg}`]!.version;
/** What `pulumi package add` and a run in place leave in an example (examples/.gitignore). */
const GENERATED = new Set(["sdks", "node_modules", "package-lock.json", "venv", "__pycache__"]);

const work = mkdtempSync(join(tmpdir(), "vhive-examples-"));
let cli: PulumiCli;

beforeAll(async () => {
  cli = await PulumiCli.open(work);
}, 1_800_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface ProjectFile {
  runtime: { name: string; options?: Record<string, unknown> };
  plugins?: { providers?: { name: string; path: string }[] };
  packages?: Record<string, string>;
}

/**
 * Every file of the package directory with a digest of its content: `package add` (which runs npm
 * install there, rewriting the lock file with the same content) must leave none different or new.
 */
function packageDirState(): string[] {
  return readdirSync(PACKAGE_DIR, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(PACKAGE_DIR, f)).isFile())
    .sort()
    .map(
      (f) =>
        `${f} ${createHash("sha256")
          .update(readFileSync(join(PACKAGE_DIR, f)))
          .digest("hex")}`,
    );
}

/**
 * The example copied to a project of the test's own, its plugin paths made absolute (they are
 * relative to examples/<name>), the Python virtualenv put in the test's directory.
 */
function copyExample(name: string): string {
  const source = join(REPO_ROOT, "examples", name);
  const dir = join(work, name);
  cpSync(source, dir, { recursive: true, filter: (path) => !GENERATED.has(path.slice(source.length + 1).split("/")[0]!) });
  const projectFile = parseYaml(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as ProjectFile;
  for (const provider of projectFile.plugins?.providers ?? []) provider.path = resolve(source, provider.path);
  if (projectFile.runtime.options?.virtualenv !== undefined) projectFile.runtime.options.virtualenv = join(work, `${name}-venv`);
  writeFileSync(join(dir, "Pulumi.yaml"), toYaml(projectFile));
  return dir;
}

/** `pulumi package add` of the component package, then `stack init` and `preview`. */
async function addPackageAndPreview(dir: string): Promise<{ added: string; preview: PreviewJson }> {
  const before = packageDirState();
  const add = await cli.run(dir, ["package", "add", PACKAGE_DIR]);
  expect(add.code, `${add.stdout}\n${add.stderr}`).toBe(0);
  expect(packageDirState()).toEqual(before);
  const init = await cli.run(dir, ["stack", "init", "example"]);
  expect(init.code, init.stderr).toBe(0);
  return { added: add.stdout + add.stderr, preview: await cli.preview(dir, "example") };
}

function stepNamed(preview: PreviewJson, name: string) {
  return preview.steps.find((s) => s.urn.endsWith(`::${name}`));
}

describe("examples/typescript: NodeRuntimeHosts from a TypeScript program", () => {
  let dir: string;
  let added: string;
  let preview: PreviewJson;

  beforeAll(async () => {
    dir = copyExample("typescript");
    ({ added, preview } = await addPackageAndPreview(dir));
  }, 1_800_000);

  it("pins the SDK and tsx at the project's own versions", () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "examples", "typescript", "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(manifest.dependencies["@pulumi/pulumi"]).toBe(lockVersion("@pulumi/pulumi"));
    expect(manifest.dependencies.tsx).toBe(lockVersion("tsx"));
  });

  it("gets a generated SDK from pulumi package add, linked into the program's dependencies", () => {
    expect(added).toContain(`Added package ${PACKAGE_NAME}`);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(manifest.dependencies[`@pulumi/${PACKAGE_NAME}`]).toBe(`file:sdks/${PACKAGE_NAME}`);
    // The name Pulumi's code generator gives the component's module (camelCase, not this repository's style).
    expect(readdirSync(join(dir, "sdks", PACKAGE_NAME))).toContain("nodeRuntimeHosts.ts");
    const projectFile = parseYaml(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as ProjectFile;
    expect(projectFile.packages?.[PACKAGE_NAME]).toBe(PACKAGE_DIR);
  });

  it("previews through the Node.js language host: the component, its two playground hosts' steps", () => {
    expect(usedFromPath(preview, "pulumi-language-nodejs", cli.bins["pulumi-language-nodejs"])).toBe(true);
    const component = stepNamed(preview, "runtime");
    expect(component?.newState?.type).toBe(`${PACKAGE_NAME}:index:NodeRuntimeHosts`);
    expect(component?.newState?.parent).toMatch(/pulumi:pulumi:Stack::/);
    for (const host of ["vht-71", "vht-72"]) {
      const step = stepNamed(preview, `${host}-node-runtime`);
      expect(step?.newState?.type).toBe("vhive:index:HostCommand");
      expect(step?.urn).toContain(`::${PACKAGE_NAME}:index:NodeRuntimeHosts$`);
    }
    expect(Object.keys(preview.changeSummary)).toEqual(["create"]);
    expect((preview.diagnostics ?? []).filter((d) => d.severity === "error")).toEqual([]);
  });
});

function venvUnavailable(): string | undefined {
  return spawnSync("python3", ["-m", "venv", "--help"]).status === 0 ? undefined : "python3 has no venv module (Debian: python3-venv)";
}
const pythonSkip = skipReason("examples.test (python)", { commands: ["python3"], unavailable: venvUnavailable() });

describe.skipIf(pythonSkip !== undefined)("examples/python: VhiveCluster from a Python program", () => {
  let dir: string;
  let added: string;
  let preview: PreviewJson;

  beforeAll(async () => {
    dir = copyExample("python");
    ({ added, preview } = await addPackageAndPreview(dir));
  }, 1_800_000);

  it("runs in a virtualenv outside the repository with the Pulumi SDK at the project's version", () => {
    expect(readFileSync(join(REPO_ROOT, "examples", "python", "requirements.txt"), "utf8")).toContain(`pulumi==${lockVersion("@pulumi/pulumi")}\n`);
    const python = join(work, "python-venv", "bin", "python");
    const version = execFileSync(python, ["-c", "import importlib.metadata as m; print(m.version('pulumi'))"], { encoding: "utf8" }).trim();
    expect(version).toBe(lockVersion("@pulumi/pulumi"));
  });

  it("gets a generated SDK from pulumi package add, installed into the virtualenv", () => {
    expect(added).toContain(`Added package ${PACKAGE_NAME}`);
    const python = join(work, "python-venv", "bin", "python");
    const module = `pulumi_${PACKAGE_NAME.replaceAll("-", "_")}`;
    const classes = execFileSync(python, ["-c", `import ${module} as m; print(m.VhiveCluster.__name__, m.NodeRuntimeHosts.__name__)`], {
      encoding: "utf8",
      cwd: dir,
    }).trim();
    expect(classes).toBe("VhiveCluster NodeRuntimeHosts");
  });

  it("previews through the Python language host: the cluster on kind, Knative and the helloworld function", () => {
    expect(usedFromPath(preview, "pulumi-language-python", cli.bins["pulumi-language-python"])).toBe(true);
    const component = stepNamed(preview, "dev");
    expect(component?.newState?.type).toBe(`${PACKAGE_NAME}:index:VhiveCluster`);
    const kind = preview.steps.find((s) => s.newState?.type === "vhive:kind:KindDevEnv");
    expect(kind?.urn).toContain(`::${PACKAGE_NAME}:index:VhiveCluster$`);
    expect(preview.steps.some((s) => s.newState?.type === "kubernetes:serving.knative.dev/v1:Service" && s.urn.endsWith("helloworld-0"))).toBe(true);
    expect(Object.keys(preview.changeSummary)).toEqual(["create"]);
    expect((preview.diagnostics ?? []).filter((d) => d.severity === "error")).toEqual([]);
  });
});
