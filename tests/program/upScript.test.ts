import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./harness.js";

describe("scripts/up.sh", () => {
  it("is shellcheck clean", () => {
    const lint = spawnSync("shellcheck", ["-s", "bash", join(REPO, "scripts", "up.sh")], { encoding: "utf8" });
    expect(lint.stdout + lint.stderr).toBe("");
    expect(lint.status).toBe(0);
  });

  it("fails with one clear sentence when the Pulumi CLI cannot be obtained", () => {
    // An empty PULUMI_HOME: no CLI cached from before, so the launcher must download one.
    const home = mkdtempSync(join(tmpdir(), "vhive-h1-pulumi-home-"));
    try {
      const run = spawnSync("bash", [join(REPO, "scripts", "up.sh")], {
        encoding: "utf8",
        env: {
          ...process.env,
          PULUMI_HOME: home,
          NODE_OPTIONS: `--import=${join(REPO, "tests", "program", "support", "noNetworkFetch.mjs")}`,
        },
        timeout: 60_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(
        "npm run up: The Pulumi CLI could not be obtained: the pulumi npm package downloads it on first use and that download failed from this machine, so install the Pulumi CLI another way (or allow the download) and run npm run up again.\n",
      );
      expect(run.stdout).toBe("");
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
