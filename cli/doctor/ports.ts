// The ports the cluster needs between hosts, and a probe from one host to another over its
// SSH session: a refused connection still proves the path is open (nothing listens yet before
// `pulumi up`); a timeout means a firewall drops it.
import type { HostConfig } from "#components/config/schema.js";
import type { CheckResult, Remote } from "./types.js";

export interface PortNeed {
  readonly port: number;
  readonly what: string;
}

/** TCP ports every other host must reach on `target`. */
export function portsNeeded(target: HostConfig): PortNeed[] {
  const common = [
    { port: 10250, what: "kubelet API" },
    { port: 179, what: "Calico BGP" },
  ];
  return target.role === "control-plane" ? [{ port: 6443, what: "Kubernetes API server" }, ...common] : common;
}

export function probeScript(address: string, port: number, timeoutS = 3): string {
  return (
    `if err="$(timeout ${timeoutS} bash -c 'exec 3<>/dev/tcp/${address}/${port}' 2>&1 >/dev/null)"; then echo open; ` +
    `else case "$err" in *refused*) echo refused ;; *) echo blocked ;; esac; fi`
  );
}

export function portVerdict(from: HostConfig, to: HostConfig, need: PortNeed, outcome: string): CheckResult {
  const check = `port ${need.port} → ${to.name}`;
  const base = { host: from.name, check };
  if (outcome === "open") return { ...base, verdict: "pass", detail: `${need.what}: reachable, something listens` };
  if (outcome === "refused") return { ...base, verdict: "pass", detail: `${need.what}: reachable (nothing listens yet)` };
  return {
    ...base,
    verdict: "fail",
    detail: `${need.what}: no answer from ${to.address}:${need.port} (dropped or unroutable)`,
    remedy: `allow TCP ${need.port} from ${from.name} to ${to.name} in the firewall / security group`,
  };
}

export async function probePorts(from: HostConfig, remote: Remote, others: readonly HostConfig[]): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const to of others) {
    if (to.name === from.name) continue;
    const address = to.nodeIp ?? to.address;
    for (const need of portsNeeded(to)) {
      const r = await remote(probeScript(address, need.port));
      results.push(portVerdict(from, to, need, r.stdout.trim()));
    }
  }
  return results;
}
