// systemd units for the daemons we install from release files. Distribution packages bring
// their own units; these are only written for the `release` package source.

export const CONTAINERD_UNIT = `[Unit]
Description=containerd container runtime (vHive provisioner)
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`;

export const STARGZ_UNIT = `[Unit]
Description=stargz snapshotter for lazy image pulls (vHive provisioner)
PartOf=containerd.service
Before=containerd.service

[Service]
Type=notify
ExecStart=/usr/local/bin/containerd-stargz-grpc --log-level=info --config=/etc/containerd-stargz-grpc/config.toml
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
`;

/** The kubelet unit; kubeadm supplies flags through the drop-in below. */
export const KUBELET_UNIT = `[Unit]
Description=kubelet (vHive provisioner)
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/local/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

export const KUBELET_KUBEADM_DROPIN = `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

export interface NodeRuntimeUnitInput {
  readonly installDir: string;
  readonly nodeBinary: string;
  readonly sandbox: string;
  readonly snapshots: string;
  /** Port of `serve`'s metrics server, which also answers /healthz. */
  readonly healthPort: number;
  /** The CRI socket kubelet uses, when it is the node runtime's (firecracker workers). */
  readonly criSocket?: string;
  /** Serve the gRPC API on this TCP port of every address (node-runtime-only hosts). */
  readonly apiPort?: number;
  /** gVisor sandboxes each in a network namespace of their own (needs runsc 20240801 or later). */
  readonly gvisorNetwork?: "netns";
}

/** Where the node runtime keeps snapshots and working sets, and its API socket directory. */
export const NODE_RUNTIME_DATA_DIR = "/var/lib/vhive-node/runtime";
export const NODE_RUNTIME_STATE_DIRS = ["/var/lib/vhive-node", "/run/vhive-node"] as const;

/** The `node-runtime serve` command line (its flags are checked against serve's own parser). */
export function nodeRuntimeServeArgs(input: NodeRuntimeUnitInput): string[] {
  return [
    "serve",
    "--sandbox",
    input.sandbox,
    "--snapshot-mode",
    input.snapshots,
    "--metrics-port",
    String(input.healthPort),
    "--data-dir",
    NODE_RUNTIME_DATA_DIR,
    ...(input.criSocket ? ["--cri-socket", input.criSocket.replace(/^unix:\/\//, "")] : []),
    ...(input.gvisorNetwork ? ["--gvisor-network", input.gvisorNetwork] : []),
    ...(input.apiPort ? ["--port", String(input.apiPort), "--host", "0.0.0.0"] : []),
  ];
}

/**
 * A path for a unit setting such as `WorkingDirectory=`, which systemd takes verbatim (no
 * quoting, `%` specifiers expanded): only characters that mean nothing there are allowed,
 * so a newline can never add a line (`ExecStartPre=…`) to the unit.
 */
export function unitPath(field: string, value: string): string {
  if (!/^\/[A-Za-z0-9._/+-]*$/.test(value)) throw new Error(`${field}: not usable in a systemd unit (only letters, digits and . _ / + - are allowed)`);
  return value;
}

/**
 * One word of an `ExecStart=` command line: systemd splits on whitespace, honours double
 * quotes and backslash escapes, and expands `%` specifiers and `$` variables, so anything
 * beyond a plain word is double-quoted with those escaped. A line break can never be written.
 */
export function unitArg(value: string): string {
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error("a systemd ExecStart argument cannot contain control characters or line breaks");
  if (/^[A-Za-z0-9._/:=,+@-]+$/.test(value)) return value;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

/** The node runtime as a service: `node-runtime serve` from the shipped bundle. */
export function nodeRuntimeUnit(input: NodeRuntimeUnitInput): string {
  const execStart = [unitPath("nodeBinary", input.nodeBinary), "node-runtime/cli/main.js", ...nodeRuntimeServeArgs(input)].map(unitArg).join(" ");
  return `[Unit]
Description=vHive node runtime (sandboxes, snapshots, CRI)
After=network-online.target containerd.service
Wants=network-online.target

[Service]
WorkingDirectory=${unitPath("nodeRuntime.installDir", input.installDir)}
ExecStart=${execStart}
Restart=always
RestartSec=2
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
`;
}
