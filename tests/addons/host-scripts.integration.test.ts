import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { yurthubJoinScript, yurthubLeaveScript } from "#components/host-steps/index.js";
import { skipReason } from "../requirements.js";

// A syntactically valid but made-up bootstrap token (never used against a cluster).
const joinOpts = {
  image: "openyurt/yurthub:v1.7.0",
  serverAddr: "https://192.0.2.10:6443",
  poolName: "edge",
  kind: "edge" as const,
  bootstrapToken: "abcdef.0123456789abcdef",
};

const scripts = {
  "yurthub-join-edge": yurthubJoinScript(joinOpts),
  "yurthub-join-cloud": yurthubJoinScript({ ...joinOpts, poolName: "cloud", kind: "cloud" }),
  "yurthub-leave": yurthubLeaveScript(),
};

// scripts/ci-deps/addons.txt lists shellcheck for CI.
const noShellcheck = skipReason("host-scripts.test shellcheck cases", { commands: ["shellcheck"] }) !== undefined;

describe("OpenYurt host scripts", () => {
  for (const [name, text] of Object.entries(scripts)) {
    it(`${name}: snapshot`, async () => {
      await expect(text).toMatchFileSnapshot(`./__snapshots__/${name}.sh`);
    });
    it(`${name}: bash -n`, () => {
      expect(() => execFileSync("bash", ["-n"], { input: text })).not.toThrow();
    });
    it.skipIf(noShellcheck)(`${name}: shellcheck clean`, () => {
      const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: text, encoding: "utf8" });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    });
  }

  it("edge and cloud differ in yurthub's working mode and pool", () => {
    expect(scripts["yurthub-join-edge"]).toContain("--working-mode=edge");
    expect(scripts["yurthub-join-edge"]).toContain("--nodepool-name=edge");
    expect(scripts["yurthub-join-cloud"]).toContain("--working-mode=cloud");
  });

  it("points kubelet at yurthub only after yurthub is healthy, and restarts it only on change", () => {
    const s = scripts["yurthub-join-edge"];
    expect(s.indexOf("v1/healthz")).toBeLessThan(s.indexOf("KUBELET_KUBECONFIG_ARGS"));
    expect(s).toMatch(/if \[ "\$changed" -eq 1 \]; then\n {2}as_root systemctl daemon-reload\n {2}as_root systemctl restart kubelet/);
  });

  it("refuses a malformed bootstrap token without echoing it", () => {
    expect(() => yurthubJoinScript({ ...joinOpts, bootstrapToken: "not-a-token" })).toThrow("openyurt.bootstrapToken: must look like abcdef.0123456789abcdef");
  });

  it("install_file really replaces only changed files (run against a temp dir)", () => {
    // Extract the helper and exercise it: second identical write must leave changed=0.
    const lines = scripts["yurthub-join-edge"].split("\n");
    const helper = lines.slice(lines.indexOf("changed=0"), lines.indexOf("}") + 1).join("\n");
    expect(helper).toMatch(/^changed=0\n[\s\S]*install_file\(\) \{[\s\S]*\}$/);
    const dir = execFileSync("mktemp", ["-d", "/tmp/h2-addons-XXXXXX"], { encoding: "utf8" }).trim();
    try {
      const run = (body: string) =>
        execFileSync("bash", ["-c", `set -euo pipefail\n${helper}\ninstall_file ${dir}/f 0600 <<'E'\n${body}\nE\necho "$changed"`], {
          encoding: "utf8",
        }).trim();
      expect(run("one")).toBe("1");
      expect(run("one")).toBe("0");
      expect(run("two")).toBe("1");
      expect(execFileSync("stat", ["-c", "%a", `${dir}/f`], { encoding: "utf8" }).trim()).toBe("600");
    } finally {
      execFileSync("rm", ["-rf", dir]);
    }
  });
});
