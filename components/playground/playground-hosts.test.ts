import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { HOSTS_SCRIPT, hostsScript, playgroundIndexes } from "./playground-hosts.js";

describe("the playground's hosts", () => {
  it("are numbered from the first index", () => {
    expect(playgroundIndexes(3, 61)).toEqual([61, 62, 63]);
  });

  it("are made and removed by hosts.sh, as root, with shellcheck-clean scripts", () => {
    for (const verb of ["up", "down"] as const) {
      const script = hostsScript(verb, [61, 62]);
      expect(script).toContain(`bash '${HOSTS_SCRIPT}' ${verb} 61 62`);
      const lint = spawnSync("shellcheck", ["-s", "bash", "-"], { input: script, encoding: "utf8" });
      expect(lint.stdout).toBe("");
    }
  });

  it.skipIf(process.getuid?.() !== 0)("refuse to start without root, saying why (checked by dropping root)", () => {
    const run = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-c", hostsScript("up", [61])], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("the playground's hosts need root on this machine (systemd-nspawn, network namespaces)\n");
  });
});
