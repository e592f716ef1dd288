// The yurthub scripts run as the stack's SSH user, who may be an ordinary user with sudo (the
// openyurt stack's `user: vhive`): every privileged command goes through as_root, and the
// bootstrap token reaches its file on stdin, never in a command line.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { yurthubJoinScript, yurthubLeaveScript } from "./yurthub.js";
import { mergeEndpointsJson } from "../openyurt/openyurt.js";

const TOKEN = "abcdef.0123456789abcdef";
const join_ = yurthubJoinScript({
  image: "openyurt/yurthub:v1.7.0",
  serverAddr: "https://192.0.2.10:6443",
  poolName: "edge",
  kind: "edge",
  bootstrapToken: TOKEN,
});
const leave = yurthubLeaveScript();

/** Runs a script as a non-root user would: `id -u` says 1000, and every other command is logged. */
function runAsUser(script: string): { log: string; sudoArgs: string } {
  const dir = mkdtempSync(join(tmpdir(), "yurthub-sudo-"));
  try {
    const log = join(dir, "log");
    const stub = (name: string, body: string) => {
      writeFileSync(join(dir, name), `#!/bin/bash\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    };
    stub("id", "echo 1000");
    // sudo records what it was asked to run, then runs nothing privileged: the commands below are stubs.
    stub("sudo", `echo "sudo $*" >>${log}; shift 2; "$@"`);
    for (const cmd of ["install", "systemctl", "rm", "mv", "chmod", "cmp", "curl"]) stub(cmd, `echo "${cmd} $*" >>${log}`);
    stub("mktemp", `echo ${dir}/tmpfile`);
    stub("tee", `cat >/dev/null; echo "tee $*" >>${log}`);
    stub("test", `echo "test $*" >>${log}; exit 1`);
    execFileSync("bash", ["-c", script], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: "utf8" });
    const text = existsSync(log) ? readFileSync(log, "utf8") : "";
    return {
      log: text,
      sudoArgs: text
        .split("\n")
        .filter((l) => l.startsWith("sudo "))
        .join("\n"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("yurthub scripts for a non-root SSH user", () => {
  it("runs install -d, file writes and systemctl through sudo", () => {
    const { log, sudoArgs } = runAsUser(join_);
    expect(sudoArgs).toContain(
      "sudo -n -- install -d -m 0755 /var/lib/yurthub /var/lib/openyurt /etc/kubernetes/manifests /etc/systemd/system/kubelet.service.d",
    );
    expect(sudoArgs).toContain("sudo -n -- systemctl daemon-reload");
    expect(sudoArgs).toContain("sudo -n -- systemctl restart kubelet");
    expect(sudoArgs).toMatch(/sudo -n -- mv -f \S+ \/var\/lib\/yurthub\/bootstrap-hub.conf/);
    // Every install, systemctl, mv and rm the script ran went through sudo.
    const direct = log.split("\n").filter((l) => /^(install|systemctl|mv|rm|tee|chmod) /.test(l));
    const viaSudo = log.split("\n").filter((l) => /^sudo -n -- (install|systemctl|mv|rm|tee|chmod) /.test(l));
    expect(direct.length).toBe(viaSudo.length);
    expect(log).not.toContain(TOKEN);
  });

  it("removes yurthub's files, the bootstrap token's among them, through sudo", () => {
    const { sudoArgs } = runAsUser(leave);
    expect(sudoArgs).toContain("sudo -n -- rm -f /etc/kubernetes/manifests/yurthub.yaml /var/lib/openyurt/kubelet.conf /var/lib/yurthub/bootstrap-hub.conf");
    expect(sudoArgs).toContain("sudo -n -- rm -rf /var/lib/yurthub /var/lib/openyurt");
  });
});

describe("OpenYurt endpoints", () => {
  it("keeps the stack's functions and adds the demo functions of both pools", () => {
    const own = JSON.stringify([{ hostname: "fib.default.example.org" }]);
    const cloud = JSON.stringify([{ hostname: "helloworld-cloud.default.example.org" }]);
    const edge = JSON.stringify([{ hostname: "helloworld-edge.default.example.org" }, { hostname: "fib.default.example.org" }]);
    expect(JSON.parse(mergeEndpointsJson([own, cloud, edge]))).toEqual([
      { hostname: "fib.default.example.org" },
      { hostname: "helloworld-cloud.default.example.org" },
      { hostname: "helloworld-edge.default.example.org" },
    ]);
    expect(() => mergeEndpointsJson(["{}"])).toThrow("endpointsJson: expected a JSON array of endpoints");
  });
});
