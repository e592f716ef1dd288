// A host's state as far as the provisioner can touch it: its file tree (paths, types, modes and
// content hashes of regular files), installed packages, and systemd units with their states.
// Taken from outside the host (nsenter), so it sees what is really there, not what SSH reports.
import { SYSCTLS } from "#components/host-steps/index.js";
import { hostExec, hostNetExec } from "../hosts/test-hosts.js";

/** The provisioner's sysctls that belong to a host's network namespace (the rest are this machine's). */
const HOST_SYSCTLS = SYSCTLS.map(([key]) => key).filter((key) => key.startsWith("net."));

/**
 * Paths that change by a machine's normal operation, not by what the provisioner leaves behind:
 * apt's index and caches, logs, dpkg's own database (packages are compared separately), and
 * systemd's runtime bookkeeping.
 */
export const NOT_OURS = [
  "/var/lib/apt/lists",
  "/var/cache",
  "/var/log",
  "/var/lib/dpkg",
  "/var/lib/systemd",
  "/var/lib/apt/extended_states",
  "/etc/ld.so.cache",
  "/tmp",
  "/var/tmp",
];

const ROOTS = ["/etc", "/usr", "/opt", "/var", "/srv", "/root", "/home"];

export interface HostSnapshot {
  readonly files: string[];
  readonly packages: string[];
  readonly units: string[];
  /** The host's own (network-namespace) sysctls the provisioner sets, with their values. */
  readonly sysctls: string[];
  /** Firewall rules (iptables-save, nft) and links of the host's network namespace. */
  readonly netfilter: string[];
  readonly links: string[];
}

function lines(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .sort();
}

export function snapshot(index: number): HostSnapshot {
  const prune = NOT_OURS.map((p) => `-path ${p}`).join(" -o ");
  const find = `find ${ROOTS.join(" ")} -xdev \\( ${prune} \\) -prune -o`;
  const files = hostExec(
    index,
    `${find} -printf '%p %y %m\\n'; ${find} -type f -print0 | xargs -0 -r sha256sum | awk '{print $2, "sha256", substr($1, 1, 16)}'`,
  );
  const packages = hostExec(index, `dpkg-query -W -f '\${binary:Package} \${Version} \${db:Status-Abbrev}\\n'`);
  // Unit files and the state of every loaded unit that exists on disk (a not-found unit is only
  // a name systemd still remembers), without per-login sessions and their runtime mounts.
  const units = hostExec(
    index,
    `systemctl list-unit-files --no-legend --no-pager | awk '{print "file", $1, $2}'; ` +
      `systemctl list-units --type=service,socket,timer,mount --all --no-legend --no-pager --plain | awk '$2 != "not-found" {print "unit", $1, $3, $4}' | grep -Ev ' (user@|user-runtime-dir@|session-|run-user-)'`,
  );
  const sysctls = hostExec(index, `for k in ${HOST_SYSCTLS.join(" ")}; do printf '%s=%s\\n' "$k" "$(sysctl -n "$k" 2>/dev/null || echo absent)"; done`);
  // Counters change with traffic: only the rules themselves are compared.
  const netfilter = hostNetExec(index, "iptables-save 2>/dev/null | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; nft list ruleset 2>/dev/null || true");
  const links = hostNetExec(index, "ip -o link show | sed 's/^[0-9]*: //; s/ state [A-Z]*//; s/qlen [0-9]*//' | awk '{print $1, $2}'");
  return { files: lines(files), packages: lines(packages), units: lines(units), sysctls: lines(sysctls), netfilter: lines(netfilter), links: lines(links) };
}

export interface SnapshotDiff {
  readonly added: string[];
  readonly removed: string[];
}

function diffLists(before: readonly string[], after: readonly string[]): SnapshotDiff {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((x) => !b.has(x)), removed: before.filter((x) => !a.has(x)) };
}

export function diffSnapshots(before: HostSnapshot, after: HostSnapshot): Record<keyof HostSnapshot, SnapshotDiff> {
  const keys = Object.keys(before) as (keyof HostSnapshot)[];
  return Object.fromEntries(keys.map((k) => [k, diffLists(before[k], after[k])])) as Record<keyof HostSnapshot, SnapshotDiff>;
}
