import { isIP } from "node:net";
import { runCommand } from "#node-runtime/images/run-command.js";
import type { PodNetwork } from "./cri-messages.js";

// Where a pod's function relay listens, so that the queue-proxy reaches it from the pod's own
// network namespace and no one else needs to. A pod on a CNI network reaches the node at the
// address the node itself uses towards the pod (on a bridge network: the bridge's address, the
// pod's gateway); the kernel's route to the pod names it. hostNetwork pods share the node's
// loopback.

export interface RelayBinding {
  host: string;
  /** Peers let through; undefined lets any peer that can reach `host` through. */
  allowedPeers: string[] | undefined;
}

export async function relayBindingFor(pod: string, network: PodNetwork, hostNetworkHost: string): Promise<RelayBinding> {
  if (network.hostNetwork) return { host: hostNetworkHost, allowedPeers: undefined };
  const podIp = network.ips[0];
  if (podIp === undefined) {
    throw new Error(`pod sandbox ${pod} has no IP (PodSandboxStatus network.ip is empty): the queue-proxy could not reach its function`);
  }
  for (const ip of network.ips) {
    if (isIP(ip) === 0) throw new Error(`pod sandbox ${pod}: network.ip ${JSON.stringify(ip)} is not an IP address`);
  }
  return { host: await sourceAddressTowards(podIp), allowedPeers: network.ips };
}

/** The local address the kernel uses to reach `ip` (`ip route get`'s prefsrc). */
async function sourceAddressTowards(ip: string): Promise<string> {
  const { stdout } = await runCommand("ip", ["-j", "route", "get", ip]);
  const routes = JSON.parse(stdout) as { prefsrc?: string }[];
  const src = routes[0]?.prefsrc;
  if (src === undefined || isIP(src) === 0) throw new Error(`no local source address on the route to pod IP ${ip} (ip route get: ${stdout.trim()})`);
  return src;
}
