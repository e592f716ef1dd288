// Every Debian package of the host in one apt transaction: apt's solver, dpkg and its triggers
// run once per host, not once per step (each run costs about a second of CPU on its own).
import type { StackConfig } from "../config/schema.js";
import { lines } from "../scripts/shell.js";
import type { HostPlan } from "./host-plan.js";
import { hostStep } from "./host-step.js";

const BASE_PACKAGES = ["curl", "ca-certificates", "tar", "gzip", "iptables", "iproute2", "conntrack", "socat", "ethtool", "kmod", "procps", "openssl"];

/**
 * The Debian packages a host's steps use: the tools every step relies on; on a host that runs gVisor
 * or Firecracker sandboxes, a C compiler with a static libc (the node runtime builds gVisor's
 * in-sandbox relay and Firecracker's guest init there, for that host); and with Debian as the
 * package source, the sandbox's runtime, containerd and (where the node runtime runs) nodejs, with
 * its headers where REAP's addon is built.
 */
export function debianPackages(config: StackConfig, plan: HostPlan): string[] {
  const debian = config.packages.source === "debian";
  return [
    ...BASE_PACKAGES,
    ...(plan.runsSandbox && config.sandbox !== "containerd" ? ["gcc", "libc6-dev"] : []),
    ...(debian && config.sandbox === "gvisor" && plan.runsSandbox ? ["runsc"] : []),
    ...(debian ? ["containerd", "runc", "containernetworking-plugins"] : []),
    ...(debian && plan.runsSandbox ? ["nodejs"] : []),
    // node's headers, for the REAP addon the node runtime step builds.
    ...(debian && plan.runsSandbox && config.sandbox === "firecracker" && config.snapshots === "reap" ? ["libnode-dev"] : []),
  ];
}

/** Once the proxy and the auto-upgrade settings are in place; every step that uses a package comes after it. */
export const packagesStep = hostStep({
  name: "packages",
  after: ["apt-proxy", "apt-auto-upgrades-off"],
  when: () => true,
  build: ({ config, plan }) => {
    const debian = config.packages.source === "debian";
    return {
      create: lines(
        // containerd's data is ours to remove on destroy only if containerd was not there before.
        debian && `if ! package_installed containerd; then as_root install -d "$state_dir"; as_root touch "$state_dir/containerd.owned"; fi`,
        `apt_install packages ${debianPackages(config, plan).join(" ")}`,
      ),
      // Deleted after every step that uses the packages: drop the lists stamp too.
      delete: lines(`apt_remove_recorded packages ${config.packages.keepOnDestroy ? 1 : 0}`, `remove_path "$state_dir/apt-lists.updated"`),
    };
  },
});
