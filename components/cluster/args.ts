// The arguments of VhiveCluster and NodeRuntimeHosts: plain interfaces that mirror the stack file's
// settings field for field (so a problem is reported under the same name either way), with the
// secrets as Pulumi Inputs instead of config key references. Serialisable for a cross-language
// component: no unions (choices are `as const` enums), no callbacks, no classes. Fields that decide
// which resources exist (targets, hosts, switches) are plain values; omitted fields take the stack
// file's defaults (docs/configuration.md).
import type * as pulumi from "@pulumi/pulumi";

/** Where a VhiveCluster's Kubernetes runs. */
export const ClusterTarget = {
  /** A single-node kind cluster from vHive's dev image on the machine running Pulumi (needs Docker). */
  Kind: "kind",
  /** Machines reached over SSH. */
  Hosts: "hosts",
} as const;
export type ClusterTarget = (typeof ClusterTarget)[keyof typeof ClusterTarget];

/** Where NodeRuntimeHosts' hosts come from. */
export const RuntimeHostsTarget = {
  /** Machines reached over SSH. */
  Hosts: "hosts",
  /** Local systemd-nspawn machines made by the component itself (root on the machine running Pulumi). */
  Playground: "playground",
} as const;
export type RuntimeHostsTarget = (typeof RuntimeHostsTarget)[keyof typeof RuntimeHostsTarget];

/** The sandbox functions run in. */
export const Sandbox = { Firecracker: "firecracker", Gvisor: "gvisor", Containerd: "containerd" } as const;
export type Sandbox = (typeof Sandbox)[keyof typeof Sandbox];

/** Snapshot cold starts: none, vanilla snapshots, or REAP (record and prefetch the working set). */
export const SnapshotMode = { Off: "off", Vanilla: "vanilla", Reap: "reap" } as const;
export type SnapshotMode = (typeof SnapshotMode)[keyof typeof SnapshotMode];

export const HostRole = { ControlPlane: "control-plane", Worker: "worker" } as const;
export type HostRole = (typeof HostRole)[keyof typeof HostRole];

/** OpenYurt node pool of a host. */
export const NodePool = { Cloud: "cloud", Edge: "edge" } as const;
export type NodePool = (typeof NodePool)[keyof typeof NodePool];

export const Ingress = { Istio: "istio", Kourier: "kourier" } as const;
export type Ingress = (typeof Ingress)[keyof typeof Ingress];

/** release: pinned upstream files with checksums; debian: the distribution's packages. */
export const PackageSource = { Release: "release", Debian: "debian" } as const;
export type PackageSource = (typeof PackageSource)[keyof typeof PackageSource];

/** How the component authenticates to a host: exactly one of the three. */
export interface SshKey {
  /** The private key itself; pass a secret (e.g. `config.requireSecret(...)`). */
  privateKey?: pulumi.Input<string>;
  /** Path of a private key file on the machine running Pulumi (read as a secret). */
  file?: string;
  /** Use the local ssh-agent (SSH_AUTH_SOCK). */
  agent?: boolean;
}

export interface Host {
  /** Node name: a lowercase DNS label. */
  name: string;
  /** IPv4 address or host name SSH reaches. */
  address: string;
  port?: number;
  user?: string;
  sshKey: SshKey;
  /** The host's public key line ("ssh-ed25519 AAAA…"), pinned. */
  hostKey?: string;
  /** Accept whatever host key the host presents (for throwaway machines only). */
  allowUnknownHostKey?: boolean;
  /** The IP the node advertises, when it differs from `address`. */
  nodeIp?: string;
  /** Required in a VhiveCluster (exactly one control plane); NodeRuntimeHosts' hosts are workers. */
  role?: HostRole;
  pool?: NodePool;
}

export interface KindSettings {
  clusterName?: string;
  /** vHive's dev image; pin a digest for reproducible runs. */
  devImage?: string;
  /** Loopback port the API server is published on. */
  apiServerPort?: number;
}

export interface PlaygroundSettings {
  /** How many local hosts (1-8). */
  hosts?: number;
  /** Index of the first host: hosts are vht-<index> at 10.231.0.<100 + index>. */
  firstIndex?: number;
}

export interface PackageSettings {
  source?: PackageSource;
  /** Keep the packages installed when the stack is destroyed. */
  keepOnDestroy?: boolean;
}

export interface NetworkSettings {
  podCidr?: string;
  serviceCidr?: string;
  /** The subnet the nodes' IPs are on (required with target "hosts"). */
  hostCidr?: string;
  /** MetalLB's address pool, "first-last" or a CIDR inside hostCidr. */
  metallbPool?: string;
}

export interface MinioSettings {
  enabled?: boolean;
  /** Node whose disk holds the data. */
  node?: string;
  path?: string;
  /** Keep the data directory when the stack is destroyed. */
  retainData?: boolean;
  /** Pass secrets. */
  accessKey?: pulumi.Input<string>;
  secretKey?: pulumi.Input<string>;
  /** e.g. "20Gi". */
  storageSize?: string;
  image?: string;
}

export interface OpenYurtSettings {
  enabled?: boolean;
  version?: string;
}

export interface NodeRuntimeSettings {
  /** Port of the node runtime's health endpoint (loopback). */
  healthPort?: number;
  /** Port of the node runtime's gRPC API on the host's address (NodeRuntimeHosts). */
  apiPort?: number;
  installDir?: string;
}

/** What both components share: the hosts' software and where checksums are recorded. */
interface CommonArgs {
  hosts?: Host[];
  sandbox?: Sandbox;
  snapshots?: SnapshotMode;
  packages?: PackageSettings;
  /** Version per component (keys as in docs/configuration.md, e.g. containerd, kubernetes). */
  versions?: { [component: string]: string };
  /** Checksum per downloaded file ("sha256:…"), for versions other than the defaults. */
  checksums?: { [file: string]: string };
  network?: NetworkSettings;
  estargz?: boolean;
  /** URL prefix replacing upstream download hosts: <mirror>/<host>/<path>. */
  artifactMirror?: string;
  /** HTTP proxy apt uses on every host. */
  aptProxy?: string;
  nodeRuntime?: NodeRuntimeSettings;
  /**
   * The checksum lock: where checksums resolved at `pulumi up` are recorded and later verified
   * (commit it). Default: checksums.lock.json in the program's directory.
   */
  checksumLockFile?: string;
}

export interface VhiveClusterArgs extends CommonArgs {
  /** Default "kind". */
  target?: ClusterTarget;
  kind?: KindSettings;
  ingress?: Ingress;
  eventing?: boolean;
  registry?: boolean;
  /** Knative domain; omitted = magic DNS on the ingress address. */
  domain?: string;
  minio?: MinioSettings;
  openyurt?: OpenYurtSettings;
  /** Knative functions to deploy, by name from the functions catalog. */
  functions?: string[];
}

export interface NodeRuntimeHostsArgs extends CommonArgs {
  /** Default "hosts". */
  target?: RuntimeHostsTarget;
  playground?: PlaygroundSettings;
}
