import { describe, expect, it } from "vitest";
import { parseStackConfig } from "#components/config/validate.js";
import { clockCheck, diskTypeCheck, firecrackerCheck, freeDiskCheck, hostChecks, kvmCheck, osCheck, sudoCheck, swapCheck } from "./checks.js";
import { parseFacts } from "./facts.js";
import { portVerdict, portsNeeded, probeScript } from "./ports.js";
import { exitCode, formatTable } from "./table.js";
import { parseStackFile } from "./load-stack.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIDPcs1H+PfK+99roSwsrzhZVYWrFlSC1Pp8SQjtYnjq";
const config = (sandbox: string) =>
  parseStackConfig({
    target: "hosts",
    sandbox,
    network: { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" },
    hosts: [
      { name: "cp", address: "192.0.2.10", sshKey: "agent", hostKey: KEY, role: "control-plane" },
      { name: "w1", address: "192.0.2.11", sshKey: "agent", hostKey: KEY, role: "worker" },
    ],
  });
const fc = config("firecracker");
const [cp, w1] = fc.hosts as [(typeof fc.hosts)[0], (typeof fc.hosts)[0]];
const GiB = 1024 ** 3;

describe("doctor verdicts", () => {
  it("parses facts", () => {
    expect(parseFacts("a=1\nos_name=Debian GNU/Linux 12 (bookworm)\nnoise\nfile:/x=yes\n")).toEqual({
      a: "1",
      os_name: "Debian GNU/Linux 12 (bookworm)",
      "file:/x": "yes",
    });
  });

  it("sudo: root and passwordless pass, a password prompt fails with the sudoers remedy", () => {
    expect(sudoCheck(w1, { sudo: "root" }).verdict).toBe("pass");
    expect(sudoCheck(w1, { sudo: "yes" }).verdict).toBe("pass");
    expect(sudoCheck(w1, { sudo: "no" })).toMatchObject({ verdict: "fail", remedy: expect.stringContaining("NOPASSWD") });
  });

  it("OS and arch", () => {
    expect(osCheck(w1, { os_id: "debian", os_version: "12", arch: "x86_64" }, fc).map((r) => r.verdict)).toEqual(["pass", "pass"]);
    expect(osCheck(w1, { os_id: "fedora", os_version: "40", arch: "x86_64" }, fc).map((r) => r.verdict)).toEqual(["warn", "pass"]);
    expect(osCheck(w1, { os_id: "debian", os_version: "12", arch: "aarch64" }, fc)[1]!.verdict).toBe("fail");
    expect(osCheck(w1, { os_id: "debian", os_version: "12", arch: "aarch64" }, config("gvisor"))[1]!.verdict).toBe("pass");
  });

  it("KVM only matters on firecracker workers", () => {
    expect(kvmCheck(w1, { kvm: "yes", virt_flag: "vmx" }, fc)?.verdict).toBe("pass");
    expect(kvmCheck(w1, { kvm: "yes", virt_flag: "" }, fc)?.verdict).toBe("warn");
    expect(kvmCheck(w1, { kvm: "no", virt_flag: "" }, fc)).toMatchObject({ verdict: "fail", detail: "no /dev/kvm and no vmx/svm CPU flag" });
    expect(kvmCheck(cp, { kvm: "no" }, fc)).toBeUndefined();
    expect(kvmCheck(w1, { kvm: "no" }, config("gvisor"))).toBeUndefined();
  });

  it("disk type, free space and swap thresholds", () => {
    expect(diskTypeCheck(w1, { root_rotational: "0", root_source: "/dev/nvme0n1p2" }).verdict).toBe("pass");
    expect(diskTypeCheck(w1, { root_rotational: "1", root_source: "/dev/sda1" }).verdict).toBe("warn");
    expect(diskTypeCheck(w1, { root_rotational: "unknown", root_source: "overlay" }).verdict).toBe("warn");
    expect(freeDiskCheck(w1, { disk_free_bytes: String(10 * GiB) }).verdict).toBe("fail");
    expect(freeDiskCheck(w1, { disk_free_bytes: String(30 * GiB) }).verdict).toBe("warn");
    expect(freeDiskCheck(w1, { disk_free_bytes: String(80 * GiB) }).verdict).toBe("pass");
    expect(swapCheck(w1, { swap_kb: "0" }).verdict).toBe("pass");
    expect(swapCheck(w1, { swap_kb: "2097152" })).toMatchObject({ verdict: "warn", detail: "2048 MiB swap on" });
  });

  it("clock skew beyond the round-trip uncertainty", () => {
    expect(clockCheck(w1, { time: "1000.2" }, 1000, 0.05).verdict).toBe("pass");
    expect(clockCheck(w1, { time: "1002" }, 1000, 0.05).verdict).toBe("warn");
    expect(clockCheck(w1, { time: "900" }, 1000, 0.05)).toMatchObject({ verdict: "fail", detail: "-100.000 s against this machine (±0.050 s)" });
    expect(clockCheck(w1, { time: "1000.9" }, 1000, 0.5).verdict).toBe("pass");
  });

  it("firecracker files: none, some, all", () => {
    const files = (v: string) => ({ "file:/usr/local/bin/firecracker": v, "file:/usr/local/bin/jailer": v, "file:/var/lib/vhive/firecracker/vmlinux": v });
    expect(firecrackerCheck(w1, files("no"), fc)?.verdict).toBe("warn");
    expect(firecrackerCheck(w1, { ...files("yes"), "file:/usr/local/bin/jailer": "no" }, fc)).toMatchObject({
      verdict: "fail",
      detail: "partly installed, missing /usr/local/bin/jailer",
    });
    expect(firecrackerCheck(w1, { ...files("yes"), firecracker_version: `Firecracker v${fc.versions.firecracker}` }, fc)?.verdict).toBe("pass");
    expect(firecrackerCheck(w1, { ...files("yes"), firecracker_version: "Firecracker v1.0.0" }, fc)?.verdict).toBe("warn");
    expect(firecrackerCheck(cp, files("no"), fc)).toBeUndefined();
  });

  it("ports: control plane needs 6443 too; refused counts as reachable, silence fails", () => {
    expect(portsNeeded(cp).map((p) => p.port)).toEqual([6443, 10250, 179]);
    expect(portsNeeded(w1).map((p) => p.port)).toEqual([10250, 179]);
    const need = portsNeeded(cp)[0]!;
    expect(portVerdict(w1, cp, need, "refused").verdict).toBe("pass");
    expect(portVerdict(w1, cp, need, "open").verdict).toBe("pass");
    expect(portVerdict(w1, cp, need, "blocked")).toMatchObject({ verdict: "fail", remedy: "allow TCP 6443 from w1 to cp in the firewall / security group" });
    expect(probeScript("192.0.2.10", 6443)).toContain("/dev/tcp/192.0.2.10/6443");
  });

  it("table, remedies and exit code", () => {
    const rows = hostChecks(
      w1,
      {
        sudo: "no",
        os_id: "debian",
        os_version: "12",
        arch: "x86_64",
        kvm: "no",
        time: "5",
        disk_free_bytes: String(80 * GiB),
        swap_kb: "0",
        root_rotational: "0",
        root_source: "/dev/vda",
      },
      fc,
      { localMid: 5, halfRtt: 0.01 },
    );
    const text = formatTable(rows);
    expect(text).toMatch(/^HOST +CHECK +RESULT +DETAIL/);
    expect(text).toMatch(/^w1 +sudo +FAIL +sudo asks root for a password$/m);
    expect(text).toMatch(/What to do:\n {2}w1 \/ sudo: /);
    expect(text).toMatch(/\d+ pass, 1 warn, 2 fail$/);
    expect(exitCode(rows)).toBe(1);
    expect(exitCode(rows.filter((r) => r.verdict !== "fail"))).toBe(0);
  });

  it("reads a stack file as Pulumi hands config to the program, noting encrypted values", () => {
    const file = parseStackFile("config:\n  vhive:sandbox: gvisor\n  vhive:hosts:\n    - name: a\n  vhive:token:\n    secure: AAEA\n");
    expect(file.all).toEqual({ "vhive:sandbox": "gvisor", "vhive:hosts": '[{"name":"a"}]', "vhive:token": "" });
    expect([...file.encrypted]).toEqual(["token"]);
  });
});
