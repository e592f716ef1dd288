// containerd with its config for the chosen sandbox, started once its runtimes are in place
// (stargz, runsc, Firecracker); from the release files with runc and the CNI plugins, or as
// configured Debian packages.
import { containerdConfig } from "../scripts/containerd-config.js";
import { lines, writeFile } from "../scripts/shell.js";
import { CONTAINERD_UNIT } from "../scripts/units.js";
import { cachedArtifactPath, downloadArtifact } from "./download.js";
import { hostStep } from "./host-step.js";

export const PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1";

export const containerdStep = hostStep({
  name: "containerd",
  after: ["packages", "stargz", "runsc", "firecracker"],
  when: () => true,
  build: ({ config }) => {
    const debian = config.packages.source === "debian";
    const configText = containerdConfig({
      configVersion: debian ? 2 : 3,
      sandbox: config.sandbox,
      estargz: config.estargz,
      cniBinDir: debian ? "/usr/lib/cni" : "/opt/cni/bin",
      runscViaRuncShim: config.sandbox === "gvisor" && debian ? "/usr/bin/runsc" : undefined,
      pauseImage: PAUSE_IMAGE,
    });
    const containerd = cachedArtifactPath(config, "containerd");
    const runc = cachedArtifactPath(config, "runc");
    const cniPlugins = cachedArtifactPath(config, "cniPlugins");
    const install = debian
      ? `# containerd, runc and the CNI plugins came with the packages step.`
      : lines(
          `if ! command -v containerd >/dev/null; then as_root install -d "$state_dir"; as_root touch "$state_dir/containerd.owned"; fi`,
          downloadArtifact(config, "containerd", `${containerd}.tar.gz`),
          downloadArtifact(config, "runc", runc),
          downloadArtifact(config, "cniPlugins", `${cniPlugins}.tgz`),
          `work="$(mktemp -d)"`,
          `trap 'rm -rf "$work"' EXIT`,
          `mkdir -p "$work/containerd" "$work/cni"`,
          `tar -xzf "${containerd}.tar.gz" -C "$work/containerd"`,
          `for bin in "$work"/containerd/bin/*; do install_binary "$bin" "/usr/local/bin/$(basename "$bin")"; done`,
          `install_binary "${runc}" /usr/local/sbin/runc`,
          `tar -xzf "${cniPlugins}.tgz" -C "$work/cni"`,
          `for bin in "$work"/cni/*; do install_binary "$bin" "/opt/cni/bin/$(basename "$bin")"; done`,
        );
    return {
      create: lines(
        install,
        `before=$changed; changed=0`,
        `backup_once /etc/containerd/config.toml`,
        writeFile("/etc/containerd/config.toml", "0644", configText),
        !debian && writeFile("/etc/systemd/system/containerd.service", "0644", CONTAINERD_UNIT),
        `restart=$changed; [ "$before" -eq 1 ] && changed=1`,
        `enable_unit containerd.service "$restart"`,
        `wait_for 30 "containerd's socket" as_root test -S /run/containerd/containerd.sock`,
      ),
      delete: lines(
        `disable_unit containerd.service`,
        `remove_path /etc/containerd/config.toml`,
        `restore_backup /etc/containerd/config.toml`,
        !debian && lines(`remove_path /etc/systemd/system/containerd.service`, `remove_recorded_files containerd`),
        `if as_root test -f "$state_dir/containerd.owned"; then`,
        `  # Also what containerd creates at first start: its opt plugin's tree and the CRI's CNI dir.`,
        `  remove_path /var/lib/containerd /run/containerd /etc/containerd /opt/containerd /etc/cni/net.d "$state_dir/containerd.owned"`,
        `  if as_root test -d /etc/cni && [ -z "$(as_root ls -A /etc/cni)" ]; then as_root rmdir /etc/cni; fi`,
        `fi`,
        !debian && `remove_path "${containerd}.tar.gz" "${runc}" "${cniPlugins}.tgz"`,
        `if has_systemd; then as_root systemctl daemon-reload; fi`,
      ),
    };
  },
});
