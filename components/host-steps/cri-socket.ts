// The CRI sockets kubelet and crictl talk to: containerd's, or the node runtime's where it serves
// the CRI itself (Firecracker sandboxes).
import type { StackConfig } from "../config/schema.js";
import type { HostPlan } from "./host-plan.js";

export const CONTAINERD_SOCKET = "unix:///run/containerd/containerd.sock";
export const NODE_RUNTIME_SOCKET = "unix:///etc/vhive-cri/vhive-cri.sock";

/** The CRI socket kubelet uses on a host: the node runtime's for firecracker sandboxes. */
export function criSocketFor(config: StackConfig, plan: HostPlan): string {
  return config.sandbox === "firecracker" && plan.runsSandbox ? NODE_RUNTIME_SOCKET : CONTAINERD_SOCKET;
}
