// The tool script: shellcheck-clean, recipes pinned to the versions the npm lock asks for, clear
// errors for unknown tools, and a cached tool found again in about a second.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_VERSIONS } from "../../components/config/artifacts.js";

const DIR = fileURLToPath(new URL(".", import.meta.url));
const SCRIPT = `${DIR}build.sh`;
const lock = JSON.parse(readFileSync(new URL("../../package-lock.json", import.meta.url), "utf8")) as { packages: Record<string, { version: string }> };
const lockVersion = (pkg: string) => lock.packages[`node_modules/${pkg}`]!.version;

function run(...args: string[]) {
  return spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8" });
}

describe("scripts/tools/build.sh", () => {
  it("is shellcheck-clean, recipes included", () => {
    const recipes = readdirSync(`${DIR}recipes`).map((f) => `${DIR}recipes/${f}`);
    const result = spawnSync("shellcheck", ["-x", SCRIPT, ...recipes], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("pins the engine and providers at the versions the npm lock's SDKs ask for", () => {
    const listed = Object.fromEntries(
      run("--list")
        .stdout.trim()
        .split("\n")
        .map((l) => l.split("\t")),
    );
    expect(listed.pulumi).toBe(lockVersion("@pulumi/pulumi"));
    expect(listed["pulumi-resource-kubernetes"]).toBe(lockVersion("@pulumi/kubernetes"));
  });

  it("pins the runtimes at the stacks' default versions (cri-tools: the nearest the module proxy serves)", () => {
    const listed = Object.fromEntries(
      run("--list")
        .stdout.trim()
        .split("\n")
        .map((l) => l.split("\t")),
    );
    expect(listed.containerd).toBe(DEFAULT_VERSIONS.containerd);
    expect(listed.runc).toBe(DEFAULT_VERSIONS.runc);
    expect(listed.runsc).toBe(DEFAULT_VERSIONS.runsc);
    expect(listed["cni-plugins"]).toBe(DEFAULT_VERSIONS.cni);
    expect(listed.kubernetes).toBe(DEFAULT_VERSIONS.kubernetes);
    // The stacks install crictl 1.35.0 from its release; the proxy here refuses cri-tools v1.35.0.
    expect(DEFAULT_VERSIONS.crictl).toBe("1.35.0");
    expect(listed["cri-tools"]).toBe("1.34.0");
  });

  it("refuses unknown tools and names that are not tool names", () => {
    const unknown = run("no-such-tool");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^\[tools\] error: no recipe for 'no-such-tool' \(known: .*pulumi /m);
    const odd = run("../etc");
    expect(odd.status).toBe(1);
    expect(odd.stderr).toContain("not a tool name: '../etc'");
  });

  // Go in /usr/bin (Debian's golang package) would be found even on the shortened PATH.
  const goInSystemPath = spawnSync("sh", ["-c", "command -v go"], { env: { PATH: "/usr/bin:/bin" } }).status === 0;
  it.skipIf(goInSystemPath)("says that a build needs Go when there is none, instead of failing somewhere inside", () => {
    const empty = mkdtempSync(join(tmpdir(), "vhive-tools-"));
    try {
      const result = spawnSync("bash", [SCRIPT, "pulumi"], {
        encoding: "utf8",
        env: { ...process.env, PATH: "/usr/bin:/bin", VHIVE_TOOLS_DIR: empty, VHIVE_TOOLS_FROM: "build" },
      });
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split("\n").at(-1)).toBe(`[tools] error: pulumi ${lockVersion("@pulumi/pulumi")}: building it needs Go (1.25 or later) on the PATH, and there is none`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("finds a built tool again in about a second, and it is the pinned version", () => {
    const started = Date.now();
    const result = run("--bin-dir", "pulumi");
    const seconds = (Date.now() - started) / 1000;
    if (seconds > 60) console.log(`tools test: pulumi was not cached yet and was built now (${seconds.toFixed(0)} s)`);
    expect(result.status, result.stderr).toBe(0);
    const bin = result.stdout.trim();
    expect(execFileSync(`${bin}/pulumi`, ["version"], { encoding: "utf8" }).trim()).toBe(`v${lockVersion("@pulumi/pulumi")}`);
    const again = Date.now();
    expect(run("--bin-dir", "pulumi").stdout.trim()).toBe(bin);
    expect(Date.now() - again).toBeLessThan(5_000);
  }, 900_000);
});
