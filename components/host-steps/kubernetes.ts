// kubeadm, kubelet, kubectl and crictl from the pinned release files (Debian does not package
// Kubernetes), kubelet's unit enabled but not started (kubeadm starts it). Last: its step is the
// host's "ready", so it needs the steps nothing else needs (swap off, the kernel settings and
// containerd), which need every other step in turn. Node-runtime-only hosts go without it.
import { lines, writeFile } from "../scripts/shell.js";
import { KUBELET_KUBEADM_DROPIN, KUBELET_UNIT } from "../scripts/units.js";
import { CONTAINERD_SOCKET, criSocketFor } from "./cri-socket.js";
import { cachedArtifactPath, downloadArtifact } from "./download.js";
import { hostStep } from "./host-step.js";

const BINARIES = ["kubeadm", "kubelet", "kubectl"] as const;

export const kubernetesStep = hostStep({
  name: "kubernetes",
  after: ["swap-off", "sysctl", "containerd"],
  when: ({ config }) => config.kubernetes,
  build: ({ config, plan }) => {
    const crictlArchive = `${cachedArtifactPath(config, "crictl")}.tar.gz`;
    return {
      create: lines(
        `# Kubernetes is not packaged by Debian: it always comes from the pinned release files.`,
        ...BINARIES.map((bin) =>
          lines(downloadArtifact(config, bin, cachedArtifactPath(config, bin)), `install_binary "${cachedArtifactPath(config, bin)}" /usr/local/bin/${bin}`),
        ),
        downloadArtifact(config, "crictl", crictlArchive),
        `work="$(mktemp -d)"`,
        `trap 'rm -rf "$work"' EXIT`,
        `tar -xzf "${crictlArchive}" -C "$work"`,
        `install_binary "$work/crictl" /usr/local/bin/crictl`,
        `backup_once /etc/crictl.yaml`,
        writeFile("/etc/crictl.yaml", "0644", `runtime-endpoint: ${criSocketFor(config, plan)}\nimage-endpoint: ${CONTAINERD_SOCKET}\ntimeout: 10`),
        writeFile("/etc/systemd/system/kubelet.service", "0644", KUBELET_UNIT),
        writeFile("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", "0644", KUBELET_KUBEADM_DROPIN),
        `enable_unit_only kubelet.service`,
      ),
      delete: lines(
        `disable_unit kubelet.service`,
        `remove_path /etc/systemd/system/kubelet.service /etc/systemd/system/kubelet.service.d /etc/crictl.yaml /var/lib/kubelet`,
        `restore_backup /etc/crictl.yaml`,
        `remove_recorded_files kubernetes`,
        `remove_path ${BINARIES.map((b) => `"${cachedArtifactPath(config, b)}"`).join(" ")} "${crictlArchive}"`,
        `if has_systemd; then as_root systemctl daemon-reload; fi`,
      ),
    };
  },
});
