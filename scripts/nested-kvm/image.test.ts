// The nested-KVM machine's scripts and QEMU command line, without booting it (the boot itself is
// tests/sandbox/firecracker-nested.integration.test.ts).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { qemuArgs } from "#tests/fixtures/nested-kvm.js";

const DIR = fileURLToPath(new URL(".", import.meta.url));

describe("nested-KVM machine", () => {
  it("image.sh and the machine's init are shellcheck-clean", () => {
    const r = spawnSync("shellcheck", [`${DIR}image.sh`, `${DIR}guest-init.sh`], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("boots an emulated AMD CPU with SVM, the cached disk copy-on-write, and each share at its host path", () => {
    const args = qemuArgs("/cache/img", "/tmp/job1", ["/work/repo", "/opt/fc"], 4096, 2);
    expect(args.slice(args.indexOf("-cpu"), args.indexOf("-cpu") + 2)).toEqual(["-cpu", "EPYC,+svm"]);
    expect(args).toContain("file=/cache/img/rootfs.img,format=raw,if=virtio,snapshot=on");
    const append = args[args.indexOf("-append") + 1]!;
    expect(append).toContain("vhive.shares=s0:/work/repo,s1:/opt/fc");
    expect(args).toContain("local,path=/tmp/job1,mount_tag=job,security_model=none,multidevs=remap");
    expect(args).toContain("local,path=/opt/fc,mount_tag=s1,security_model=none,multidevs=remap");
  });

  it("refuses share paths that would break QEMU's option syntax or the kernel command line", () => {
    for (const bad of ["relative/dir", "/a,b", "/a b", "/a:b", "/a\nb"]) {
      expect(() => qemuArgs("/cache/img", "/tmp/job", [bad], 1024, 1)).toThrow(/nested-KVM share .* must be an absolute path/);
    }
  });
});
