// The tool script: shellcheck-clean, recipes pinned to the versions the npm lock asks for, clear
// errors for unknown tools, and a cached tool found again in about a second.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_VERSIONS } from "#components/config/artifacts.js";

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

  it("pins the language hosts at the CLI's version, built from the tag's commit where they come from a clone", () => {
    const listed = Object.fromEntries(
      run("--list")
        .stdout.trim()
        .split("\n")
        .map((l) => l.split("\t")),
    );
    for (const host of ["pulumi-language-nodejs", "pulumi-language-python"]) {
      expect(listed[host]).toBe(listed.pulumi);
      const recipe = readFileSync(`${DIR}recipes/${host}.sh`, "utf8");
      expect(recipe).toMatch(/^tool_git_tag=v\$\{tool_version\}$/m);
      expect(recipe).toMatch(/^tool_git_commit=[0-9a-f]{40}$/m);
    }
  });

  describe("a local clone of upstream (the route for modules the proxy does not serve)", () => {
    /** A clone with a tag v3.248.0 on a commit of its own: not the commit the recipes pin. */
    function cloneWithMovedTag(): { dir: string; commit: string } {
      const dir = mkdtempSync(join(tmpdir(), "vhive-tools-clone-"));
      const git = (...args: string[]) =>
        execFileSync("git", ["-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.invalid", ...args], { encoding: "utf8" }).trim();
      git("init", "-q");
      git("commit", "-q", "--allow-empty", "-m", "not upstream");
      git("tag", "v3.248.0");
      return { dir, commit: git("rev-parse", "HEAD") };
    }

    it("refuses a tag that does not point at the pinned commit, naming both", () => {
      const clone = cloneWithMovedTag();
      const cache = mkdtempSync(join(tmpdir(), "vhive-tools-"));
      try {
        const result = spawnSync("bash", [SCRIPT, "pulumi-language-nodejs"], {
          encoding: "utf8",
          env: { ...process.env, VHIVE_TOOLS_DIR: cache, VHIVE_TOOLS_FROM: "clone", VHIVE_UPSTREAM_GIT_PULUMI: clone.dir },
        });
        expect(result.status).toBe(1);
        expect(result.stderr.trim().split("\n").at(-1)).toMatch(
          new RegExp(
            `^\\[tools\\] error: pulumi-language-nodejs 3\\.248\\.0: tag v3\\.248\\.0 in ${clone.dir} points at ${clone.commit}, the recipe pins [0-9a-f]{40}$`,
          ),
        );
        // Nothing complete: an unfinished entry (.partial) is never taken for a built tool.
        expect(readdirSync(cache).filter((f) => !f.startsWith(".") && !f.endsWith(".partial"))).toEqual([]);
      } finally {
        rmSync(clone.dir, { recursive: true, force: true });
        rmSync(cache, { recursive: true, force: true });
      }
    });

    it("says so when the clone it is given is not a directory", () => {
      const cache = mkdtempSync(join(tmpdir(), "vhive-tools-"));
      try {
        const result = spawnSync("bash", [SCRIPT, "pulumi-language-python"], {
          encoding: "utf8",
          env: { ...process.env, VHIVE_TOOLS_DIR: cache, VHIVE_TOOLS_FROM: "clone", VHIVE_UPSTREAM_GIT_PULUMI: join(cache, "absent") },
        });
        expect(result.status).toBe(1);
        expect(result.stderr).toContain(`[tools] error: pulumi-language-python 3.248.0: VHIVE_UPSTREAM_GIT_PULUMI=${join(cache, "absent")} is not a directory`);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    });
  });

  // A copy of the script and the Node.js host's recipe, its default clone moved away: with the
  // proxy off and no clone named, the script must say what it tried and which setting would help.
  it.skipIf(spawnSync("sh", ["-c", "command -v go"]).status !== 0)("names the routes it tried and the setting for a clone when none is available", () => {
    const copy = mkdtempSync(join(tmpdir(), "vhive-tools-script-"));
    try {
      mkdirSync(join(copy, "recipes"));
      copyFileSync(SCRIPT, join(copy, "build.sh"));
      const recipe = readFileSync(`${DIR}recipes/pulumi-language-nodejs.sh`, "utf8").replace(
        /^tool_git_repo_default=.*$/m,
        `tool_git_repo_default=${join(copy, "no-clone")}`,
      );
      writeFileSync(join(copy, "recipes", "pulumi-language-nodejs.sh"), recipe);
      const env: NodeJS.ProcessEnv = { ...process.env, VHIVE_TOOLS_DIR: join(copy, "cache"), VHIVE_TOOLS_FROM: "build", GOPROXY: "off" };
      delete env.VHIVE_UPSTREAM_GIT_PULUMI;
      const result = spawnSync("bash", [join(copy, "build.sh"), "pulumi-language-nodejs"], { encoding: "utf8", env });
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split("\n").at(-1)).toBe(
        `[tools] error: pulumi-language-nodejs ${lockVersion("@pulumi/pulumi")}: none of the ways to obtain it is available here: the Go module proxy does not serve it, and no local clone of upstream is named (set VHIVE_UPSTREAM_GIT_PULUMI)`,
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  // A copy of the script with one recipe whose build fails: the failure must stop the script and
  // leave nothing in the cache that a later run would take for a built tool.
  it.skipIf(spawnSync("sh", ["-c", "command -v go"]).status !== 0)("stops at a failed build and caches nothing", () => {
    const copy = mkdtempSync(join(tmpdir(), "vhive-tools-script-"));
    const cache = join(copy, "cache");
    try {
      mkdirSync(join(copy, "recipes"));
      copyFileSync(SCRIPT, join(copy, "build.sh"));
      writeFileSync(join(copy, "recipes", "broken.sh"), 'tool_version=1.0.0\ntool_modules=()\ntool_build_dir=.\ntool_packages=("broken=./does-not-exist")\n');
      const result = spawnSync("bash", [join(copy, "build.sh"), "broken"], {
        encoding: "utf8",
        env: { ...process.env, VHIVE_TOOLS_DIR: cache, VHIVE_TOOLS_FROM: "auto" },
      });
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split("\n").at(-1)).toBe("[tools] error: broken 1.0.0: the build failed (see above)");
      expect(result.stderr).not.toContain("built broken");
      expect(readdirSync(cache).filter((f) => !f.startsWith(".") && !f.endsWith(".partial"))).toEqual([]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
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
      expect(result.stderr.trim().split("\n").at(-1)).toBe(
        `[tools] error: pulumi ${lockVersion("@pulumi/pulumi")}: building it needs Go (1.25 or later) on the PATH, and there is none`,
      );
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

  it("builds the language hosts (or finds them) and they report the pinned version", () => {
    for (const host of ["pulumi-language-nodejs", "pulumi-language-python"]) {
      const result = run("--bin-dir", host);
      expect(result.status, result.stderr).toBe(0);
      const bin = result.stdout.trim();
      expect(execFileSync(`${bin}/${host}`, ["-version"], { encoding: "utf8" }).trim()).toBe(`v${lockVersion("@pulumi/pulumi")}`);
      if (host === "pulumi-language-python")
        expect(readdirSync(bin).sort()).toEqual(["pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python"]);
    }
  }, 1_800_000);
});
