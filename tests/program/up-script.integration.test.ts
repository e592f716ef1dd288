import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./mocked-program.js";

describe("scripts/up.sh", () => {
  it("is shellcheck clean", () => {
    const lint = spawnSync("shellcheck", ["-s", "bash", join(REPO, "scripts", "up.sh")], { encoding: "utf8" });
    expect(lint.stdout + lint.stderr).toBe("");
    expect(lint.status).toBe(0);
  });

  it("stops with one clear sentence when the Pulumi engine can be neither downloaded nor built", () => {
    // An empty tool cache, release downloads only, and every HTTPS request sent to a closed port.
    const tools = mkdtempSync(join(tmpdir(), "vhive-up-tools-"));
    try {
      const run = spawnSync("bash", [join(REPO, "scripts", "up.sh")], {
        encoding: "utf8",
        env: {
          ...process.env,
          VHIVE_STACK: "dev",
          VHIVE_TOOLS_DIR: tools,
          VHIVE_TOOLS_FROM: "release",
          https_proxy: "http://127.0.0.1:9",
          HTTPS_PROXY: "http://127.0.0.1:9",
        },
        timeout: 120_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain("[tools] pulumi 3.248.0: upstream's release is not reachable from here\n");
      expect(run.stderr.trim().split("\n").at(-1)).toBe("npm run up: the Pulumi engine could not be obtained (see the messages above).");
      expect(run.stdout).toBe("");
    } finally {
      rmSync(tools, { recursive: true, force: true });
    }
  });
});
