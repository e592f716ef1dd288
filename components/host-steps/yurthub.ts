import { stringify } from "yaml";
import { YURTHUB_BOOTSTRAP_FILE, YURTHUB_PROXY_URL, yurthubStaticPod, type YurthubPodOptions } from "../manifests/openyurt.js";

// Host-side steps of turning a joined kubeadm node into an OpenYurt node (what `yurtadm join`
// does after kubeadm): yurthub as a static pod, and kubelet talking to the API through it.
// Pure builders: the program runs them over SSH as command resources (create / delete).

export const YURTHUB_MANIFEST = "/etc/kubernetes/manifests/yurthub.yaml";
export const KUBELET_VIA_YURTHUB_CONF = "/var/lib/openyurt/kubelet.conf";
export const KUBELET_DROPIN = "/etc/systemd/system/kubelet.service.d/20-openyurt.conf";

export interface YurthubJoinOptions extends YurthubPodOptions {
  /** Kubernetes bootstrap token "abcdef.0123456789abcdef" (secret; the script must stay secret). */
  bootstrapToken: string;
}

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/** Quotes a heredoc body safely: the delimiter must not occur alone on a line. */
function heredoc(path: string, mode: string, body: string, tag: string): string {
  if (body.split("\n").includes(tag)) throw new Error(`internal: heredoc tag ${tag} occurs in ${path}`);
  return [`install_file ${path} ${mode} <<'${tag}'`, body.replace(/\n$/, ""), tag].join("\n");
}

function bootstrapKubeconfig(serverAddr: string, token: string): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "cluster", cluster: { server: serverAddr, "certificate-authority": "/etc/kubernetes/pki/ca.crt" } }],
    users: [{ name: "token-bootstrap-client", user: { token } }],
    contexts: [{ name: "bootstrap", context: { cluster: "cluster", user: "token-bootstrap-client" } }],
    "current-context": "bootstrap",
  });
}

function kubeletViaYurthub(): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "yurthub", cluster: { server: YURTHUB_PROXY_URL } }],
    contexts: [{ name: "yurthub", context: { cluster: "yurthub", namespace: "default", user: "default-auth" } }],
    "current-context": "yurthub",
  });
}

/** Idempotent: files are replaced only when their content differs, kubelet restarted only then. */
export function yurthubJoinScript(o: YurthubJoinOptions): string {
  if (!TOKEN.test(o.bootstrapToken)) throw new Error("openyurt.bootstrapToken: must look like abcdef.0123456789abcdef");
  const pod = stringify(yurthubStaticPod(o));
  const dropin = ["[Service]", `Environment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=${KUBELET_VIA_YURTHUB_CONF}"`, ""].join("\n");
  return [
    "#!/usr/bin/env bash",
    "set -euo pipefail",
    "changed=0",
    "# as_root CMD…: the SSH user may be an ordinary user with passwordless sudo (as in the",
    "# host steps' helpers); each command is elevated on its own, so nothing secret reaches argv.",
    'as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n -- "$@"; fi; }',
    "# install_file PATH MODE < content: replaces PATH only when the content differs.",
    "install_file() {",
    '  local path="$1" mode="$2" tmp',
    "  # Hidden temp name: kubelet ignores dot files in its static pod directory.",
    '  tmp="$(as_root mktemp "$(dirname "$path")/.$(basename "$path").XXXXXX")"',
    '  as_root chmod "$mode" "$tmp"',
    '  as_root tee "$tmp" >/dev/null',
    '  if as_root test -f "$path" && as_root cmp -s "$tmp" "$path"; then as_root rm -f "$tmp"; else as_root mv -f "$tmp" "$path"; changed=1; fi',
    "}",
    "as_root install -d -m 0755 /var/lib/yurthub /var/lib/openyurt /etc/kubernetes/manifests /etc/systemd/system/kubelet.service.d",
    heredoc(YURTHUB_BOOTSTRAP_FILE, "0600", bootstrapKubeconfig(o.serverAddr, o.bootstrapToken), "VHIVE_BOOTSTRAP_EOF"),
    heredoc(YURTHUB_MANIFEST, "0644", pod, "VHIVE_POD_EOF"),
    "# yurthub must serve before kubelet is pointed at it, or the node drops off the cluster.",
    "for _ in $(seq 1 90); do",
    "  if curl -fsS --max-time 2 http://127.0.0.1:10267/v1/healthz >/dev/null 2>&1; then break; fi",
    "  sleep 2",
    "done",
    "curl -fsS --max-time 2 http://127.0.0.1:10267/v1/healthz >/dev/null || { echo 'yurthub did not become healthy' >&2; exit 1; }",
    heredoc(KUBELET_VIA_YURTHUB_CONF, "0600", kubeletViaYurthub(), "VHIVE_KUBELET_EOF"),
    heredoc(KUBELET_DROPIN, "0644", dropin, "VHIVE_DROPIN_EOF"),
    'if [ "$changed" -eq 1 ]; then',
    "  as_root systemctl daemon-reload",
    "  as_root systemctl restart kubelet",
    "fi",
    "",
  ].join("\n");
}

/** Undoes yurthubJoinScript: kubelet back on its kubeadm kubeconfig, yurthub and its state removed. */
export function yurthubLeaveScript(): string {
  return [
    "#!/usr/bin/env bash",
    "set -euo pipefail",
    'as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n -- "$@"; fi; }',
    `if as_root test -f ${KUBELET_DROPIN}; then`,
    `  as_root rm -f ${KUBELET_DROPIN}`,
    "  as_root systemctl daemon-reload",
    "  as_root systemctl restart kubelet",
    "fi",
    `as_root rm -f ${YURTHUB_MANIFEST} ${KUBELET_VIA_YURTHUB_CONF} ${YURTHUB_BOOTSTRAP_FILE}`,
    "as_root rm -rf /var/lib/yurthub /var/lib/openyurt",
    "",
  ].join("\n");
}
