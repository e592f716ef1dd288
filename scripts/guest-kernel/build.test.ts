// The guest-kernel build script: shellcheck-clean, a configuration that keeps what a Firecracker
// guest cannot boot without, and clear errors before any work starts.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const DIR = fileURLToPath(new URL(".", import.meta.url));
const SCRIPT = `${DIR}build.sh`;
const FRAGMENT = readFileSync(`${DIR}microvm-x86_64.config`, "utf8");

function option(name: string): string | undefined {
  return FRAGMENT.split("\n")
    .find((l) => l.startsWith(`${name}=`))
    ?.slice(name.length + 1);
}

describe("scripts/guest-kernel/build.sh", () => {
  it("is shellcheck-clean", () => {
    const r = spawnSync("shellcheck", [SCRIPT], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("builds in what Firecracker's virtio-mmio devices and serial console need, with no modules or initramfs", () => {
    for (const name of [
      "CONFIG_VIRTIO_MMIO",
      "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES",
      "CONFIG_VIRTIO_BLK",
      "CONFIG_VIRTIO_NET",
      "CONFIG_SERIAL_8250_CONSOLE",
      "CONFIG_EXT4_FS",
      "CONFIG_KVM_GUEST",
      "CONFIG_DEVTMPFS",
      "CONFIG_OVERLAY_FS",
    ]) {
      expect(option(name), name).toBe("y");
    }
    expect(option("CONFIG_MODULES")).toBeUndefined();
    expect(option("CONFIG_PCI")).toBe("n");
  });

  it("refuses a source package name that is not linux-source-<version>, before doing anything", () => {
    const r = spawnSync("bash", [SCRIPT], { encoding: "utf8", env: { ...process.env, LINUX_SOURCE_PACKAGE: "linux-source; rm -rf /" } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("LINUX_SOURCE_PACKAGE must look like linux-source-6.1");
  });

  it("says which Debian package to install when the source is missing", () => {
    const r = spawnSync("bash", [SCRIPT], { encoding: "utf8", env: { ...process.env, LINUX_SOURCE_PACKAGE: "linux-source-0.99" } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Debian's linux-source-0.99 is not installed");
  });
});
