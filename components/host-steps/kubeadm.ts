// kubeadm configuration files (v1beta4) and the init / join / reset scripts. The bootstrap token
// is an argument: callers pass the secret's plain value inside a Pulumi apply, so the resulting
// script stays a secret.
import { stringify } from "yaml";
import { lines, q, writeFile } from "../scripts/shell.js";
import { hostScriptStep } from "./script-step.js";
import type { Step } from "../scripts/step.js";

export interface ControlPlaneInput {
  readonly nodeName: string;
  readonly nodeIp: string;
  /** Extra names/addresses the API server certificate must cover (SSH address, loopback). */
  readonly certSans: readonly string[];
  readonly kubernetesVersion: string;
  readonly podCidr: string;
  readonly serviceCidr: string;
  readonly criSocket: string;
  readonly token: string;
  /** Single-node clusters (kind dev env) schedule workloads on the control plane. */
  readonly singleNode: boolean;
  /** kind containers share the host's swap setting, so kubelet must tolerate swap there. */
  readonly failSwapOn: boolean;
}

export const API_SERVER_PORT = 6443;

/** Lifetime of the kubeadm bootstrap token workers (and yurthub) join with: kubeadm's default. */
export const BOOTSTRAP_TOKEN_TTL = "24h0m0s";

export function kubeadmInitConfig(input: ControlPlaneInput): string {
  const init = {
    apiVersion: "kubeadm.k8s.io/v1beta4",
    kind: "InitConfiguration",
    bootstrapTokens: [
      {
        token: input.token,
        description: "vHive provisioner: workers join with this token",
        // Bounded, so a copy left on a host or in a log stops being a key to the cluster
        // (0s would never expire). A day covers a bring-up and its re-runs; a worker added
        // later needs the token re-created on the control plane first (docs/configuration.md).
        ttl: BOOTSTRAP_TOKEN_TTL,
        usages: ["signing", "authentication"],
        groups: ["system:bootstrappers:kubeadm:default-node-token"],
      },
    ],
    localAPIEndpoint: { advertiseAddress: input.nodeIp, bindPort: API_SERVER_PORT },
    nodeRegistration: {
      name: input.nodeName,
      criSocket: input.criSocket,
      kubeletExtraArgs: [{ name: "node-ip", value: input.nodeIp }],
      ...(input.singleNode ? { taints: [] } : {}),
    },
  };
  const cluster = {
    apiVersion: "kubeadm.k8s.io/v1beta4",
    kind: "ClusterConfiguration",
    clusterName: "vhive",
    kubernetesVersion: `v${input.kubernetesVersion}`,
    controlPlaneEndpoint: `${input.nodeIp}:${API_SERVER_PORT}`,
    apiServer: { certSANs: [...new Set([input.nodeIp, ...input.certSans, "127.0.0.1", "localhost"])] },
    networking: { podSubnet: input.podCidr, serviceSubnet: input.serviceCidr },
  };
  const kubelet = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    cgroupDriver: "systemd",
    failSwapOn: input.failSwapOn,
  };
  return [init, cluster, kubelet].map((doc) => stringify(doc)).join("---\n");
}

export interface JoinInput {
  readonly nodeName: string;
  readonly nodeIp: string;
  readonly controlPlaneIp: string;
  readonly token: string;
  readonly caCertHash: string;
  readonly criSocket: string;
}

export function kubeadmJoinConfig(input: JoinInput): string {
  return stringify({
    apiVersion: "kubeadm.k8s.io/v1beta4",
    kind: "JoinConfiguration",
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: `${input.controlPlaneIp}:${API_SERVER_PORT}`,
        token: input.token,
        caCertHashes: [input.caCertHash],
      },
    },
    nodeRegistration: {
      name: input.nodeName,
      criSocket: input.criSocket,
      kubeletExtraArgs: [{ name: "node-ip", value: input.nodeIp }],
    },
  });
}

const ADMIN = "/etc/kubernetes/admin.conf";

/** Undo of init and join: kubeadm reset plus what it leaves behind (CNI config, links, rules). */
function resetBody(criSocket: string, configFile: string): string {
  return lines(
    `if command -v kubeadm >/dev/null && as_root test -e /etc/kubernetes/kubelet.conf -o -e ${ADMIN} -o -d /var/lib/etcd; then`,
    `  as_root kubeadm reset -f --cri-socket ${q(criSocket)} >/dev/null 2>&1 || as_root kubeadm reset -f >/dev/null`,
    `  changed=1`,
    `fi`,
    `remove_path ${q(configFile)} /etc/kubernetes /var/lib/etcd /etc/cni/net.d`,
    `for link in vxlan.calico cni0 kube-ipvs0; do`,
    `  if ip link show "$link" >/dev/null 2>&1; then as_root ip link delete "$link" || true; changed=1; fi`,
    `done`,
    `# kube-proxy's and Calico's iptables rules outlive kubeadm reset.`,
    `if command -v iptables-save >/dev/null && as_root iptables-save | grep -qE 'KUBE-|cali-'; then`,
    `  as_root iptables-save | grep -vE 'KUBE-|cali-' | as_root iptables-restore`,
    `  changed=1`,
    `fi`,
  );
}

export const CA_HASH_PREFIX = "vhive-output caCertHash=";
export const KUBECONFIG_PREFIX = "vhive-output kubeconfig=";

/**
 * `kubeadm init` on the control plane. Besides the status line it prints the CA public key
 * hash (workers pin it when joining) and the admin kubeconfig, base64 — the command's stdout
 * must therefore be kept secret.
 */
export function kubeadmInitStep(input: ControlPlaneInput): Step {
  const configFile = "/etc/vhive/kubeadm-init.yaml";
  const taint = "node-role.kubernetes.io/control-plane";
  return hostScriptStep(
    "kubeadm-init",
    lines(
      writeFile(configFile, "0600", kubeadmInitConfig(input)),
      `if ! as_root test -f ${ADMIN}; then`,
      `  as_root kubeadm init --config ${configFile} >/dev/null`,
      `  changed=1`,
      `fi`,
      `kubectl_admin() { as_root kubectl --kubeconfig ${ADMIN} "$@"; }`,
      `wait_for 180 "the API server on $(hostname)" kubectl_admin get --raw=/readyz`,
      input.singleNode &&
        lines(
          `if kubectl_admin get node ${q(input.nodeName)} -o jsonpath='{.spec.taints[*].key}' | grep -q ${q(taint)}; then`,
          `  kubectl_admin taint node ${q(input.nodeName)} ${q(`${taint}:NoSchedule-`)} >/dev/null`,
          `  changed=1`,
          `fi`,
        ),
      `hash="$(as_root openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)"`,
      `echo "${CA_HASH_PREFIX}sha256:$hash"`,
      `echo "${KUBECONFIG_PREFIX}$(as_root base64 -w0 ${ADMIN})"`,
    ),
    resetBody(input.criSocket, configFile),
  );
}

export function kubeadmJoinStep(input: JoinInput): Step {
  const configFile = "/etc/vhive/kubeadm-join.yaml";
  return hostScriptStep(
    "kubeadm-join",
    lines(
      writeFile(configFile, "0600", kubeadmJoinConfig(input)),
      `if ! as_root test -f /etc/kubernetes/kubelet.conf; then`,
      `  as_root kubeadm join --config ${configFile} >/dev/null`,
      `  changed=1`,
      `fi`,
      `wait_for 120 "the kubelet on $(hostname)" systemctl is-active --quiet kubelet.service`,
    ),
    resetBody(input.criSocket, configFile),
  );
}

/** Reads `vhive-output <key>=<value>` lines from a step's stdout. */
export function stepOutput(stdout: string | undefined, prefix: string): string | undefined {
  const line = (stdout ?? "").split("\n").find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length).trim();
}
