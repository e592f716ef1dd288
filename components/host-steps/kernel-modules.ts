// The kernel modules containerd's networking needs (and Firecracker's taps and vsock), loaded now
// and at boot. After the packages: modprobe comes from kmod.
import { lines, writeFile } from "../scripts/shell.js";
import { hostStep } from "./host-step.js";

const FILE = "/etc/modules-load.d/vhive.conf";

export const kernelModulesStep = hostStep({
  name: "kernel-modules",
  after: ["packages"],
  when: () => true,
  build: ({ config, plan }) => {
    const modules = ["overlay", "br_netfilter", ...(config.sandbox === "firecracker" && plan.runsSandbox ? ["tun", "vhost_vsock"] : [])];
    return {
      create: lines(
        writeFile(FILE, "0644", modules.join("\n")),
        `for module in ${modules.join(" ")}; do`,
        `  if ! module_present "$module"; then`,
        `    as_root modprobe "$module" || fail "cannot load kernel module $module on $(hostname)"`,
        `    changed=1`,
        `  fi`,
        `done`,
      ),
      // Modules stay loaded: something else on the host may use them by now.
      delete: `remove_path ${FILE}`,
    };
  },
});
