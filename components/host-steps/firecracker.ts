// Firecracker, its jailer and the guest kernel, on hosts that run Firecracker sandboxes; checks
// /dev/kvm first, since nothing works without it.
import { lines } from "../scripts/shell.js";
import { cachedArtifactPath, downloadArtifact } from "./download.js";
import { hostStep } from "./host-step.js";

export const firecrackerStep = hostStep({
  name: "firecracker",
  after: ["packages"],
  when: ({ config, plan }) => config.sandbox === "firecracker" && plan.runsSandbox,
  build: ({ config }) => {
    const v = config.versions.firecracker;
    const archive = `${cachedArtifactPath(config, "firecracker")}.tgz`;
    return {
      create: lines(
        `[ -c /dev/kvm ] || fail "/dev/kvm is missing on $(hostname): Firecracker needs KVM (enable VT-x/AMD-V, or nested virtualisation on a cloud VM)"`,
        `as_root test -r /dev/kvm -a -w /dev/kvm || fail "/dev/kvm on $(hostname) is not readable and writable by root"`,
        downloadArtifact(config, "firecracker", archive),
        downloadArtifact(config, "guestKernel", "/var/lib/vhive/firecracker/vmlinux"),
        `record_file /var/lib/vhive/firecracker/vmlinux`,
        `work="$(mktemp -d)"`,
        `trap 'rm -rf "$work"' EXIT`,
        `tar -xzf "${archive}" -C "$work"`,
        `install_binary "$work/release-v${v}-x86_64/firecracker-v${v}-x86_64" /usr/local/bin/firecracker`,
        `install_binary "$work/release-v${v}-x86_64/jailer-v${v}-x86_64" /usr/local/bin/jailer`,
        `/usr/local/bin/firecracker --version >/dev/null || fail "the installed firecracker binary does not run"`,
      ),
      delete: lines(`remove_recorded_files firecracker`, `remove_path "${archive}" /var/lib/vhive/firecracker`),
    };
  },
});
