// doctor against real test hosts: a healthy stack passes (with the warnings these hosts earn),
// and each broken case fails with the host, the check and a remedy, and exit code 1.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downHosts, hostNetExec, rekeyHost, setSudoPassword, startHost, stopHost, unavailableReason, upHosts, type TestHost } from "#tests/hosts/test-hosts.js";
import { rawStackFor } from "#tests/provisioner-real/real-provisioner.js";

const HOSTS = [31, 32];
const skip = unavailableReason();
if (skip) console.log(`doctor host tests skipped: ${skip}`);

/** The stack file the real-host provisioner tests use for these hosts, as doctor reads it. */
function stackYaml(hosts: readonly TestHost[], sandbox: string): string {
  return stringify({ config: Object.fromEntries(Object.entries(rawStackFor(hosts, { sandbox })).map(([key, value]) => [`vhive:${key}`, value])) });
}

describe.skipIf(skip !== undefined)("doctor on test hosts", () => {
  let hosts: TestHost[] = [];
  let dir = "";

  function doctor(view: readonly TestHost[], sandbox = "gvisor"): Promise<{ code: number; out: string }> {
    const file = join(dir, `Pulumi.t${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stackYaml(view, sandbox));
    return new Promise((resolve) => {
      execFile("npx", ["tsx", "cli/doctor.ts", file], { encoding: "utf8", timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, out: stdout + stderr }),
      );
    });
  }
  const line = (out: string, host: string, check: string) =>
    out.split("\n").find((l) => l.startsWith(host) && l.includes(` ${check} `)) ?? `(no ${check} row for ${host})`;

  beforeAll(async () => {
    hosts = await upHosts(HOSTS);
    dir = mkdtempSync(join(tmpdir(), "vht-doctor-"));
  }, 600_000);
  afterAll(async () => {
    await downHosts(HOSTS);
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes a healthy gvisor stack: ssh, sudo, OS, ports between hosts; warns what it cannot tell", async () => {
    const { code, out } = await doctor(hosts);
    console.log(out);
    expect(code).toBe(0);
    expect(line(out, "vht-31", "ssh")).toMatch(/pass .*matches the pinned key/);
    expect(line(out, "vht-32", "sudo")).toMatch(/pass .*passwordless sudo/);
    expect(line(out, "vht-31", "os")).toMatch(/pass +Debian GNU\/Linux 12/);
    expect(line(out, "vht-32", "port 6443 → vht-31")).toMatch(/pass .*reachable/);
    expect(line(out, "vht-31", "port 10250 → vht-32")).toMatch(/pass .*reachable/);
    // Containers have no block device of their own: doctor says it cannot tell, not "SSD".
    expect(line(out, "vht-31", "root disk")).toMatch(/WARN .*cannot tell .*nspawn/);
    expect(out).toMatch(/\d+ pass, \d+ warn, 0 fail/);
  }, 180_000);

  it("fails firecracker without /dev/kvm, and says the binaries are not installed yet", async () => {
    const { code, out } = await doctor(hosts, "firecracker");
    expect(code).toBe(1);
    expect(line(out, "vht-32", "kvm")).toMatch(/FAIL .*no \/dev\/kvm/);
    expect(out).toMatch(/vht-32 \/ kvm: enable VT-x\/AMD-V/);
    expect(line(out, "vht-32", "firecracker")).toMatch(/WARN .*not installed yet/);
    // The control plane runs no sandbox: no kvm row for it.
    expect(out).not.toMatch(/^vht-31 +kvm/m);
  }, 180_000);

  it("fails sudo that wants a password, with the sudoers line to add", async () => {
    setSudoPassword(32, true);
    try {
      const { code, out } = await doctor(hosts);
      expect(code).toBe(1);
      expect(line(out, "vht-32", "sudo")).toMatch(/FAIL .*asks vhive for a password/);
      expect(out).toMatch(/vht-32 \/ sudo: .*NOPASSWD/);
    } finally {
      setSudoPassword(32, false);
    }
  }, 180_000);

  it("fails a port the firewall drops between hosts", async () => {
    hostNetExec(32, "iptables -w -I INPUT -p tcp --dport 10250 -j DROP");
    try {
      const { code, out } = await doctor(hosts);
      expect(code).toBe(1);
      expect(line(out, "vht-31", "port 10250 → vht-32")).toMatch(/FAIL .*no answer from 10\.231\.0\.132:10250/);
      expect(out).toMatch(/vht-31 \/ port 10250 → vht-32: allow TCP 10250 from vht-31 to vht-32/);
    } finally {
      hostNetExec(32, "iptables -w -D INPUT -p tcp --dport 10250 -j DROP");
    }
  }, 180_000);

  it("fails a changed host key and a host that is down, naming each host", async () => {
    const old = hosts[1]!;
    hosts[1] = await rekeyHost(32);
    let result = await doctor([hosts[0]!, old]);
    expect(result.code).toBe(1);
    expect(line(result.out, "vht-32", "ssh")).toMatch(/FAIL +host key is SHA256:\S+, pinned is SHA256:/);
    await stopHost(32);
    try {
      result = await doctor(hosts);
      expect(result.code).toBe(1);
      expect(line(result.out, "vht-32", "ssh")).toMatch(/FAIL +cannot connect to vhive@10\.231\.0\.132:22/);
      // From the host that is up, the one that is down does not answer on the cluster's ports.
      expect(line(result.out, "vht-31", "port 10250 → vht-32")).toMatch(/FAIL .*no answer/);
    } finally {
      hosts[1] = await startHost(32);
    }
  }, 180_000);
});
