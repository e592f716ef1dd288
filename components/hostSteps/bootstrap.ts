// The host bootstrap as named steps: what vHive's node setup does for the chosen sandbox, made
// idempotent (guards, drop-in files, persisted sysctls and modules) and undoable (each step's
// delete script). Pure: stack config in, scripts out.
import { artifactOrMissing, MissingChecksumError, type ArtifactName, type ResolvedArtifact } from "../config/artifacts.js";
import type { HostConfig, StackConfig } from "../config/schema.js";
import { containerdConfig } from "../scripts/containerdConfig.js";
import { hostScriptStep as step } from "./scriptStep.js";
import { lines, q, writeFile } from "../scripts/shell.js";
import type { Step } from "../scripts/step.js";
import { CONTAINERD_UNIT, KUBELET_KUBEADM_DROPIN, KUBELET_UNIT, STARGZ_UNIT } from "../scripts/units.js";

/** What a host is used for, which decides the steps it gets. */
export interface HostPlan {
  readonly name: string;
  /** Runs the sandbox (workers; the single kind node). */
  readonly runsSandbox: boolean;
}

export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1";
export const CONTAINERD_SOCKET = "unix:///run/containerd/containerd.sock";
export const NODE_RUNTIME_SOCKET = "unix:///etc/vhive-cri/vhive-cri.sock";

export const SYSCTLS: readonly (readonly [string, string])[] = [
  ["net.ipv4.ip_forward", "1"],
  ["net.bridge.bridge-nf-call-iptables", "1"],
  ["net.bridge.bridge-nf-call-ip6tables", "1"],
  ["fs.inotify.max_user_watches", "524288"],
  ["fs.inotify.max_user_instances", "512"],
];

const BASE_PACKAGES = ["curl", "ca-certificates", "tar", "gzip", "iptables", "iproute2", "conntrack", "socat", "ethtool", "kmod", "procps", "openssl"];

function artifact(config: StackConfig, name: ArtifactName): ResolvedArtifact | MissingChecksumError {
  return artifactOrMissing(name, config.versions, config.checksums, config.artifactMirror);
}

/** Downloads an artifact into the cache, or fails the step naming the missing checksum. */
export function fetch(config: StackConfig, name: ArtifactName, dest: string): string {
  const resolved = artifact(config, name);
  if (resolved instanceof MissingChecksumError) return `missing_checksum ${q(resolved.message)}`;
  return `fetch_verified ${q(resolved.url)} ${q(resolved.checksum)} "${dest}"`;
}

export function cached(config: StackConfig, name: ArtifactName): string {
  const version = config.versions;
  const v = {
    containerd: version.containerd,
    runc: version.runc,
    cniPlugins: version.cni,
    runsc: version.runsc,
    runscShim: version.runsc,
    crictl: version.crictl,
    kubeadm: version.kubernetes,
    kubelet: version.kubernetes,
    kubectl: version.kubernetes,
    firecracker: version.firecracker,
    guestKernel: version.guestKernel,
    stargz: version.stargz,
    kind: version.kind,
    node: version.node,
  }[name];
  return `$cache_dir/${name}-${v}`;
}

export function aptProxyStep(proxy: string): Step {
  // The config schema checks this text (components/config/urls.ts); checked again here because
  // this exact string becomes an apt.conf value, where a quote or newline adds settings.
  if (!/^https?:\/\/[A-Za-z0-9._~%:@+=,/-]+$/.test(proxy)) throw new Error("aptProxy: must be an http:// or https:// URL without quotes, spaces or control characters");
  const file = "/etc/apt/apt.conf.d/90vhive-proxy";
  return step("apt-proxy", writeFile(file, "0644", `Acquire::http::Proxy "${proxy}";`), `remove_path ${file}`);
}

export function autoUpgradesOffStep(): Step {
  const file = "/etc/apt/apt.conf.d/99vhive-no-auto-upgrades";
  const timers = "apt-daily.timer apt-daily-upgrade.timer unattended-upgrades.service";
  return step(
    "apt-auto-upgrades-off",
    lines(
      writeFile(file, "0644", 'APT::Periodic::Update-Package-Lists "0";\nAPT::Periodic::Unattended-Upgrade "0";'),
      `# Timers we disable are recorded so the delete script re-enables exactly those.`,
      `for unit in ${timers}; do`,
      `  if has_systemd && systemctl is-enabled --quiet "$unit" 2>/dev/null; then`,
      `    as_root systemctl disable --now --quiet "$unit"`,
      `    as_root install -d "$state_dir"`,
      `    echo "$unit" | as_root tee -a "$state_dir/disabled-units" >/dev/null`,
      `    changed=1`,
      `  fi`,
      `done`,
    ),
    lines(
      `remove_path ${file}`,
      `if as_root test -f "$state_dir/disabled-units"; then`,
      `  while IFS= read -r unit; do`,
      `    [ -n "$unit" ] && as_root systemctl enable --now --quiet "$unit"`,
      `  done < <(as_root cat "$state_dir/disabled-units")`,
      `  as_root rm -f "$state_dir/disabled-units"`,
      `  changed=1`,
      `fi`,
    ),
  );
}

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

/**
 * Every Debian package of the host in one apt transaction: apt's solver, dpkg and its triggers
 * run once per host, not once per step (each run costs about a second of CPU on its own).
 */
export function packagesStep(config: StackConfig, plan: HostPlan): Step {
  const debian = config.packages.source === "debian";
  return step(
    "packages",
    lines(
      // containerd's data is ours to remove on destroy only if containerd was not there before.
      debian && `if ! package_installed containerd; then as_root install -d "$state_dir"; as_root touch "$state_dir/containerd.owned"; fi`,
      `apt_install packages ${debianPackages(config, plan).join(" ")}`,
    ),
    // Deleted after every step that uses the packages: drop the lists stamp too.
    lines(`apt_remove_recorded packages ${config.packages.keepOnDestroy ? 1 : 0}`, `remove_path "$state_dir/apt-lists.updated"`),
  );
}

export function swapOffStep(): Step {
  const swapLine = String.raw`^[^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]`;
  return step(
    "swap-off",
    lines(
      `if [ -n "$(swapon --noheadings --show=NAME 2>/dev/null || true)" ]; then`,
      `  as_root swapoff -a`,
      `  changed=1`,
      `fi`,
      `# Comment swap entries out (marked, so delete can put them back) instead of deleting them.`,
      `if [ -f /etc/fstab ] && grep -Eq ${q(swapLine)} /etc/fstab; then`,
      `  as_root sed -i -E ${q(`s/(${swapLine}.*)$/#vhive-swap-off# \\1/`)} /etc/fstab`,
      `  changed=1`,
      `fi`,
    ),
    lines(
      `if [ -f /etc/fstab ] && grep -q '^#vhive-swap-off# ' /etc/fstab; then`,
      `  as_root sed -i 's/^#vhive-swap-off# //' /etc/fstab`,
      `  as_root swapon -a || true`,
      `  changed=1`,
      `fi`,
    ),
  );
}

export function kernelModulesStep(config: StackConfig, plan: HostPlan): Step {
  const modules = ["overlay", "br_netfilter", ...(config.sandbox === "firecracker" && plan.runsSandbox ? ["tun", "vhost_vsock"] : [])];
  const file = "/etc/modules-load.d/vhive.conf";
  return step(
    "kernel-modules",
    lines(
      writeFile(file, "0644", modules.join("\n")),
      `for module in ${modules.join(" ")}; do`,
      `  if ! module_present "$module"; then`,
      `    as_root modprobe "$module" || fail "cannot load kernel module $module on $(hostname)"`,
      `    changed=1`,
      `  fi`,
      `done`,
    ),
    // Modules stay loaded: something else on the host may use them by now.
    `remove_path ${file}`,
  );
}

export function sysctlStep(): Step {
  const file = "/etc/sysctl.d/90-vhive.conf";
  const apply = SYSCTLS.map(([key, value]) =>
    lines(
      `current="$(sysctl -n ${key} 2>/dev/null || echo unset)"`,
      `if [ "$current" != ${q(value)} ]; then`,
      `  if ! as_root grep -q '^${key}=' "$state_dir/sysctl.previous" 2>/dev/null; then`,
      `    as_root install -d "$state_dir"`,
      `    echo "${key}=$current" | as_root tee -a "$state_dir/sysctl.previous" >/dev/null`,
      `  fi`,
      `  as_root sysctl -q -w ${key}=${value} >/dev/null || fail "cannot set ${key} on $(hostname) (read-only /proc/sys?)"`,
      `  changed=1`,
      `fi`,
    ),
  );
  return step(
    "sysctl",
    lines(writeFile(file, "0644", SYSCTLS.map(([k, v]) => `${k} = ${v}`).join("\n")), ...apply),
    lines(
      `remove_path ${file}`,
      `# Put back the values the host had before we changed them.`,
      `if as_root test -f "$state_dir/sysctl.previous"; then`,
      `  while IFS='=' read -r key value; do`,
      `    if [ -n "$key" ] && [ "$value" != unset ]; then as_root sysctl -q -w "$key=$value" >/dev/null || true; fi`,
      `  done < <(as_root cat "$state_dir/sysctl.previous")`,
      `  as_root rm -f "$state_dir/sysctl.previous"`,
      `  changed=1`,
      `fi`,
    ),
  );
}

export function limitsStep(): Step {
  const file = "/etc/security/limits.d/90-vhive.conf";
  const limits = ["*", "root"].flatMap((who) => [`${who} soft nofile 1048576`, `${who} hard nofile 1048576`]);
  return step("limits", writeFile(file, "0644", limits.join("\n")), `remove_path ${file}`);
}

export function stargzStep(config: StackConfig): Step {
  const archive = `${cached(config, "stargz")}.tar.gz`;
  return step(
    "stargz",
    lines(
      fetch(config, "stargz", archive),
      `work="$(mktemp -d)"`,
      `trap 'rm -rf "$work"' EXIT`,
      `tar -xzf "${archive}" -C "$work"`,
      `for bin in containerd-stargz-grpc ctr-remote; do install_binary "$work/$bin" "/usr/local/bin/$bin"; done`,
      `before=$changed; changed=0`,
      writeFile("/etc/containerd-stargz-grpc/config.toml", "0644", "# stargz snapshotter defaults (vHive provisioner)"),
      writeFile("/etc/systemd/system/containerd-stargz-grpc.service", "0644", STARGZ_UNIT),
      `restart=$changed; [ "$before" -eq 1 ] && changed=1`,
      `enable_unit containerd-stargz-grpc.service "$restart"`,
    ),
    lines(
      `disable_unit containerd-stargz-grpc.service`,
      `remove_path /etc/systemd/system/containerd-stargz-grpc.service /etc/containerd-stargz-grpc /var/lib/containerd-stargz-grpc "${archive}"`,
      `remove_recorded_files stargz`,
      `if has_systemd; then as_root systemctl daemon-reload; fi`,
    ),
  );
}

/** gVisor from its release files (with Debian as the source, runsc comes with the packages step). */
export function runscStep(config: StackConfig): Step {
  return step(
    "runsc",
    lines(
      fetch(config, "runsc", cached(config, "runsc")),
      fetch(config, "runscShim", cached(config, "runscShim")),
      `install_binary "${cached(config, "runsc")}" /usr/local/bin/runsc`,
      `install_binary "${cached(config, "runscShim")}" /usr/local/bin/containerd-shim-runsc-v1`,
    ),
    lines(`remove_recorded_files runsc`, `remove_path "${cached(config, "runsc")}" "${cached(config, "runscShim")}"`),
  );
}

export function firecrackerStep(config: StackConfig): Step {
  const v = config.versions.firecracker;
  const archive = `${cached(config, "firecracker")}.tgz`;
  return step(
    "firecracker",
    lines(
      `[ -c /dev/kvm ] || fail "/dev/kvm is missing on $(hostname): Firecracker needs KVM (enable VT-x/AMD-V, or nested virtualisation on a cloud VM)"`,
      `as_root test -r /dev/kvm -a -w /dev/kvm || fail "/dev/kvm on $(hostname) is not readable and writable by root"`,
      fetch(config, "firecracker", archive),
      fetch(config, "guestKernel", "/var/lib/vhive/firecracker/vmlinux"),
      `record_file /var/lib/vhive/firecracker/vmlinux`,
      `work="$(mktemp -d)"`,
      `trap 'rm -rf "$work"' EXIT`,
      `tar -xzf "${archive}" -C "$work"`,
      `install_binary "$work/release-v${v}-x86_64/firecracker-v${v}-x86_64" /usr/local/bin/firecracker`,
      `install_binary "$work/release-v${v}-x86_64/jailer-v${v}-x86_64" /usr/local/bin/jailer`,
      `/usr/local/bin/firecracker --version >/dev/null || fail "the installed firecracker binary does not run"`,
    ),
    lines(`remove_recorded_files firecracker`, `remove_path "${archive}" /var/lib/vhive/firecracker`),
  );
}

export function containerdStep(config: StackConfig): Step {
  const debian = config.packages.source === "debian";
  const configText = containerdConfig({
    configVersion: debian ? 2 : 3,
    sandbox: config.sandbox,
    estargz: config.estargz,
    cniBinDir: debian ? "/usr/lib/cni" : "/opt/cni/bin",
    runscViaRuncShim: config.sandbox === "gvisor" && debian ? "/usr/bin/runsc" : undefined,
    pauseImage: PAUSE_IMAGE,
  });
  const install = debian
    ? `# containerd, runc and the CNI plugins came with the packages step.`
    : lines(
        `if ! command -v containerd >/dev/null; then as_root install -d "$state_dir"; as_root touch "$state_dir/containerd.owned"; fi`,
        fetch(config, "containerd", `${cached(config, "containerd")}.tar.gz`),
        fetch(config, "runc", cached(config, "runc")),
        fetch(config, "cniPlugins", `${cached(config, "cniPlugins")}.tgz`),
        `work="$(mktemp -d)"`,
        `trap 'rm -rf "$work"' EXIT`,
        `mkdir -p "$work/containerd" "$work/cni"`,
        `tar -xzf "${cached(config, "containerd")}.tar.gz" -C "$work/containerd"`,
        `for bin in "$work"/containerd/bin/*; do install_binary "$bin" "/usr/local/bin/$(basename "$bin")"; done`,
        `install_binary "${cached(config, "runc")}" /usr/local/sbin/runc`,
        `tar -xzf "${cached(config, "cniPlugins")}.tgz" -C "$work/cni"`,
        `for bin in "$work"/cni/*; do install_binary "$bin" "/opt/cni/bin/$(basename "$bin")"; done`,
      );
  return step(
    "containerd",
    lines(
      install,
      `before=$changed; changed=0`,
      `backup_once /etc/containerd/config.toml`,
      writeFile("/etc/containerd/config.toml", "0644", configText),
      !debian && writeFile("/etc/systemd/system/containerd.service", "0644", CONTAINERD_UNIT),
      `restart=$changed; [ "$before" -eq 1 ] && changed=1`,
      `enable_unit containerd.service "$restart"`,
      `wait_for 30 "containerd's socket" as_root test -S /run/containerd/containerd.sock`,
    ),
    lines(
      `disable_unit containerd.service`,
      `remove_path /etc/containerd/config.toml`,
      `restore_backup /etc/containerd/config.toml`,
      !debian && lines(`remove_path /etc/systemd/system/containerd.service`, `remove_recorded_files containerd`),
      `if as_root test -f "$state_dir/containerd.owned"; then`,
      `  # Also what containerd creates at first start: its opt plugin's tree and the CRI's CNI dir.`,
      `  remove_path /var/lib/containerd /run/containerd /etc/containerd /opt/containerd /etc/cni/net.d "$state_dir/containerd.owned"`,
      `  if as_root test -d /etc/cni && [ -z "$(as_root ls -A /etc/cni)" ]; then as_root rmdir /etc/cni; fi`,
      `fi`,
      !debian &&
        `remove_path "${cached(config, "containerd")}.tar.gz" "${cached(config, "runc")}" "${cached(config, "cniPlugins")}.tgz"`,
      `if has_systemd; then as_root systemctl daemon-reload; fi`,
    ),
  );
}

export function kubernetesStep(config: StackConfig, criSocket: string): Step {
  const crictlArchive = `${cached(config, "crictl")}.tar.gz`;
  return step(
    "kubernetes",
    lines(
      `# Kubernetes is not packaged by Debian: it always comes from the pinned release files.`,
      ...(["kubeadm", "kubelet", "kubectl"] as const).map((bin) =>
        lines(fetch(config, bin, cached(config, bin)), `install_binary "${cached(config, bin)}" /usr/local/bin/${bin}`),
      ),
      fetch(config, "crictl", crictlArchive),
      `work="$(mktemp -d)"`,
      `trap 'rm -rf "$work"' EXIT`,
      `tar -xzf "${crictlArchive}" -C "$work"`,
      `install_binary "$work/crictl" /usr/local/bin/crictl`,
      `backup_once /etc/crictl.yaml`,
      writeFile("/etc/crictl.yaml", "0644", `runtime-endpoint: ${criSocket}\nimage-endpoint: ${CONTAINERD_SOCKET}\ntimeout: 10`),
      writeFile("/etc/systemd/system/kubelet.service", "0644", KUBELET_UNIT),
      writeFile("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", "0644", KUBELET_KUBEADM_DROPIN),
      `enable_unit_only kubelet.service`,
    ),
    lines(
      `disable_unit kubelet.service`,
      `remove_path /etc/systemd/system/kubelet.service /etc/systemd/system/kubelet.service.d /etc/crictl.yaml /var/lib/kubelet`,
      `restore_backup /etc/crictl.yaml`,
      `remove_recorded_files kubernetes`,
      `remove_path ${["kubeadm", "kubelet", "kubectl"].map((b) => `"${cached(config, b as ArtifactName)}"`).join(" ")} "${crictlArchive}"`,
      `if has_systemd; then as_root systemctl daemon-reload; fi`,
    ),
  );
}

/** The CRI socket kubelet uses on a host: the node runtime's for firecracker sandboxes. */
export function criSocketFor(config: StackConfig, plan: HostPlan): string {
  return config.sandbox === "firecracker" && plan.runsSandbox ? NODE_RUNTIME_SOCKET : CONTAINERD_SOCKET;
}

/**
 * Every bootstrap step of one host, listed in an order that satisfies their `after` lists. What a
 * step needs, and why: packages once the proxy and the auto-upgrade settings are in place, and
 * every step that uses a package after it (modprobe and sysctl come from kmod and procps);
 * the bridge sysctls exist once br_netfilter is loaded; containerd starts once its runtimes are in
 * place (the kernel settings matter to what it runs: the node runtime and kubelet wait for them);
 * kubelet is enabled last, on a host with swap off. Swap and auto-upgrades run alongside the rest.
 */
export function hostBootstrapSteps(config: StackConfig, plan: HostPlan): Step[] {
  const steps: Step[] = [];
  const add = (s: Step, after: readonly (string | false)[]) => {
    const names = new Set(steps.map((x) => x.name));
    steps.push({ ...s, after: after.filter((a): a is string => a !== false && names.has(a)) });
  };
  // First on, last off: sudo and sshd read limits.d (pam_limits) at every session and fail one
  // whose file vanishes under them, so its delete must have the host to itself.
  add(limitsStep(), []);
  if (config.aptProxy) add(aptProxyStep(config.aptProxy), ["limits"]);
  add(autoUpgradesOffStep(), ["limits"]);
  add(packagesStep(config, plan), ["apt-proxy", "apt-auto-upgrades-off"]);
  add(swapOffStep(), ["limits"]);
  add(kernelModulesStep(config, plan), ["packages"]);
  add(sysctlStep(), ["kernel-modules"]);
  if (config.estargz) add(stargzStep(config), ["packages"]);
  if (config.sandbox === "gvisor" && plan.runsSandbox && config.packages.source !== "debian") add(runscStep(config), ["packages"]);
  if (config.sandbox === "firecracker" && plan.runsSandbox) add(firecrackerStep(config), ["packages"]);
  add(containerdStep(config), ["packages", "stargz", "runsc", "firecracker"]);
  const sinks = steps.filter((s) => !steps.some((o) => o.after?.includes(s.name))).map((s) => s.name);
  // Kubernetes last, after everything else: its step is the host's "ready". Node-runtime-only
  // hosts end with containerd and the kernel settings, which the node runtime waits for.
  if (config.kubernetes) add(kubernetesStep(config, criSocketFor(config, plan)), sinks);
  return steps;
}

/**
 * Plan for a configured host: workers run the sandbox; the control plane only system pods,
 * unless it is the only host (then it is the worker too).
 */
export function planForHost(host: HostConfig, hostCount = 2): HostPlan {
  return { name: host.name, runsSandbox: host.role === "worker" || hostCount === 1 };
}
