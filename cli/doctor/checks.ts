// Doctor's verdicts on one host's facts: pure functions, so every threshold is unit-tested.
import type { HostConfig, StackConfig } from "#components/config/schema.js";
import type { Facts } from "./facts.js";
import type { CheckResult } from "./types.js";

const GiB = 1024 ** 3;
/** Below this the images, snapshots and containerd's store do not fit. */
export const MIN_FREE_BYTES = 20 * GiB;
export const WARN_FREE_BYTES = 50 * GiB;
export const SKEW_WARN_S = 0.5;
export const SKEW_FAIL_S = 5;

/** Distributions the host steps are written for. */
const SUPPORTED_OS: Readonly<Record<string, readonly string[]>> = { debian: ["12"], ubuntu: ["22.04", "24.04"] };

function row(host: HostConfig, check: string, verdict: CheckResult["verdict"], detail: string, remedy?: string): CheckResult {
  return { host: host.name, check, verdict, detail, ...(remedy && verdict !== "pass" ? { remedy } : {}) };
}

export function sudoCheck(host: HostConfig, facts: Facts): CheckResult {
  if (facts.sudo === "root") return row(host, "sudo", "pass", "logged in as root");
  if (facts.sudo === "yes") return row(host, "sudo", "pass", `${host.user} has passwordless sudo`);
  return row(
    host,
    "sudo",
    "fail",
    `sudo asks ${host.user} for a password`,
    `on ${host.name}: echo '${host.user} ALL=(ALL) NOPASSWD:ALL' | sudo tee /etc/sudoers.d/90-vhive && sudo chmod 440 /etc/sudoers.d/90-vhive`,
  );
}

export function osCheck(host: HostConfig, facts: Facts, config: StackConfig): CheckResult[] {
  const id = facts.os_id ?? "unknown";
  const version = facts.os_version ?? "?";
  const supported = SUPPORTED_OS[id]?.includes(version) ?? false;
  const os = supported
    ? row(host, "os", "pass", facts.os_name ?? `${id} ${version}`)
    : row(
        host,
        "os",
        "warn",
        `${facts.os_name ?? id} is not a tested distribution`,
        "use Debian 12 or Ubuntu 22.04/24.04; other distributions may lack the packages the steps install",
      );
  const arch = facts.arch ?? "unknown";
  const archOk = arch === "x86_64" || (arch === "aarch64" && config.sandbox !== "firecracker");
  const archRow = archOk
    ? row(host, "arch", "pass", arch)
    : row(
        host,
        "arch",
        "fail",
        `${arch} is not supported${config.sandbox === "firecracker" ? " for Firecracker (x86_64 release files are pinned)" : ""}`,
        "use an x86_64 host",
      );
  return [os, archRow];
}

export function kvmCheck(host: HostConfig, facts: Facts, config: StackConfig): CheckResult | undefined {
  if (config.sandbox !== "firecracker" || host.role !== "worker") return undefined;
  if (facts.kvm === "yes" && facts.virt_flag) return row(host, "kvm", "pass", `/dev/kvm present, CPU has ${facts.virt_flag}`);
  if (facts.kvm === "yes")
    return row(
      host,
      "kvm",
      "warn",
      "/dev/kvm present but the CPU flags show no vmx/svm (nested virtualisation?)",
      "check that KVM works: firecracker fails at boot otherwise",
    );
  return row(
    host,
    "kvm",
    "fail",
    `no /dev/kvm${facts.virt_flag ? "" : " and no vmx/svm CPU flag"}`,
    "enable VT-x/AMD-V in the firmware (bare metal) or nested virtualisation (cloud VM), then load kvm_intel or kvm_amd",
  );
}

export function diskTypeCheck(host: HostConfig, facts: Facts): CheckResult {
  const r = facts.root_rotational;
  if (r === "0") return row(host, "root disk", "pass", `SSD/NVMe (${facts.root_source})`);
  if (r === "1")
    return row(
      host,
      "root disk",
      "warn",
      `rotational disk (${facts.root_source})`,
      "snapshot restores and image pulls are much slower on spinning disks: put /var/lib on an SSD",
    );
  return row(
    host,
    "root disk",
    "warn",
    `cannot tell whether ${facts.root_source || "/"} is an SSD${facts.in_container && facts.in_container !== "none" ? ` (inside a ${facts.in_container} container)` : ""}`,
    "check the disk type by hand (lsblk -d -o NAME,ROTA)",
  );
}

export function freeDiskCheck(host: HostConfig, facts: Facts): CheckResult {
  const free = Number(facts.disk_free_bytes);
  if (!Number.isFinite(free)) return row(host, "free disk", "warn", "could not read free space on /", "check df -h /");
  const text = `${(free / GiB).toFixed(1)} GiB free on /`;
  if (free < MIN_FREE_BYTES) return row(host, "free disk", "fail", text, `free at least ${MIN_FREE_BYTES / GiB} GiB on / (images, snapshots, containerd)`);
  if (free < WARN_FREE_BYTES) return row(host, "free disk", "warn", text, `${WARN_FREE_BYTES / GiB} GiB or more is comfortable for snapshots`);
  return row(host, "free disk", "pass", text);
}

export function swapCheck(host: HostConfig, facts: Facts): CheckResult {
  const kb = Number(facts.swap_kb ?? "0");
  if (kb === 0) return row(host, "swap", "pass", "no swap");
  return row(
    host,
    "swap",
    "warn",
    `${(kb / 1024).toFixed(0)} MiB swap on`,
    "kubelet refuses to run with swap: pulumi up turns it off (swap-off step); or run swapoff -a and comment it out of /etc/fstab",
  );
}

/** Skew of the host's clock against ours; `localMid` is our clock halfway through the round trip. */
export function clockCheck(host: HostConfig, facts: Facts, localMid: number, halfRtt: number): CheckResult {
  const remote = Number(facts.time);
  if (!Number.isFinite(remote)) return row(host, "clock", "warn", "could not read the host's clock", "check date on the host");
  const skew = remote - localMid;
  const text = `${skew >= 0 ? "+" : ""}${skew.toFixed(3)} s against this machine (±${halfRtt.toFixed(3)} s)`;
  const abs = Math.max(0, Math.abs(skew) - halfRtt);
  if (abs > SKEW_FAIL_S) return row(host, "clock", "fail", text, "enable NTP (timedatectl set-ntp true); certificates and join tokens fail with skewed clocks");
  if (abs > SKEW_WARN_S) return row(host, "clock", "warn", text, "enable NTP (timedatectl set-ntp true)");
  return row(host, "clock", "pass", text);
}

export const FIRECRACKER_FILES = ["/usr/local/bin/firecracker", "/usr/local/bin/jailer", "/var/lib/vhive/firecracker/vmlinux"];

export function firecrackerCheck(host: HostConfig, facts: Facts, config: StackConfig): CheckResult | undefined {
  if (config.sandbox !== "firecracker" || host.role !== "worker") return undefined;
  const missing = FIRECRACKER_FILES.filter((f) => facts[`file:${f}`] !== "yes");
  if (missing.length === FIRECRACKER_FILES.length)
    return row(host, "firecracker", "warn", "not installed yet", "pulumi up installs the pinned Firecracker, jailer and guest kernel");
  if (missing.length > 0)
    return row(
      host,
      "firecracker",
      "fail",
      `partly installed, missing ${missing.join(", ")}`,
      "re-run pulumi up (the firecracker step reinstalls what is missing)",
    );
  if (!facts.firecracker_version)
    return row(host, "firecracker", "fail", "installed but /usr/local/bin/firecracker does not run", "re-run pulumi up; check the binary's architecture");
  const pinned = config.versions.firecracker;
  if (!facts.firecracker_version.includes(pinned))
    return row(host, "firecracker", "warn", `${facts.firecracker_version} installed, stack pins ${pinned}`, "pulumi up replaces it with the pinned release");
  return row(host, "firecracker", "pass", `${facts.firecracker_version}, jailer and guest kernel present`);
}

/** Every per-host verdict from its facts. */
export function hostChecks(host: HostConfig, facts: Facts, config: StackConfig, clock: { localMid: number; halfRtt: number }): CheckResult[] {
  return [
    sudoCheck(host, facts),
    ...osCheck(host, facts, config),
    kvmCheck(host, facts, config),
    diskTypeCheck(host, facts),
    freeDiskCheck(host, facts),
    swapCheck(host, facts),
    clockCheck(host, facts, clock.localMid, clock.halfRtt),
    firecrackerCheck(host, facts, config),
  ].filter((r): r is CheckResult => r !== undefined);
}
