// The stack configuration: one zod schema for every setting of a stack file. Field-level rules
// live here; rules that relate several fields (one control plane, CIDR overlaps, pools) are in
// cross-checks.ts so they still run, and report, when some other field is malformed.
import { z } from "zod";
import { ADDON_ARTIFACTS, DEFAULT_VERSIONS, HOST_ARTIFACTS, type AddonArtifactName, type HostArtifactName, type VersionKey } from "./artifacts.js";
import { isIpv4, parseCidr, parsePool } from "./ipv4.js";
import { installPathProblem } from "./paths.js";
import { plainUrlProblem } from "./urls.js";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;
const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,3}( .*)?$/;
const CHECKSUM = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
const VERSION = /^[0-9]+(\.[0-9]+)*([-+][0-9A-Za-z.-]+)?$/;

/**
 * A DNS name, not something an address parser would take as an IPv4 address: the last label
 * must start with a letter (no top-level domain is numeric), so `999.999.999.999`, `192.0.2`,
 * `3221226058` and `0xc0000201` are refused rather than handed to a resolver that may read
 * them as addresses.
 */
export function isHostName(text: string): boolean {
  return HOSTNAME.test(text) && /^[A-Za-z]/.test(text.slice(text.lastIndexOf(".") + 1));
}

const dnsLabel = z.string().regex(DNS_LABEL, { error: "must be a lowercase DNS label (a-z, 0-9 and '-', at most 63 characters)" });

const ipv4 = z.string().refine(isIpv4, { error: "must be an IPv4 address like 192.0.2.10" });

const cidr = z.string().refine((v) => parseCidr(v) !== undefined, { error: "must be an IPv4 CIDR like 10.0.0.0/16 (network address, no host bits)" });

/** An http(s) URL checked as the exact text written to the hosts (see urls.ts). */
const httpUrl = z.string().superRefine((v, ctx) => {
  const problem = plainUrlProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

/** An install or data directory (see paths.ts). */
const installPath = z.string().superRefine((v, ctx) => {
  const problem = installPathProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

/** Config key names in the project's namespace, as `pulumi config set` accepts them. */
const CONFIG_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;

/** Text that is key material or a secret value pasted where a key name or a path belongs. */
export function looksLikeSecretValue(text: string): boolean {
  return /PRIVATE KEY|[\r\n]/.test(text) || /^(ssh-(rsa|dss|ed25519) |ecdsa-sha2-|sk-ssh-)/.test(text) || (text.length > 100 && !text.includes("/"));
}

const configKeyName = z.string().superRefine((v, ctx) => {
  if (v === "") ctx.addIssue({ code: "custom", message: "must name a config key" });
  else if (looksLikeSecretValue(v))
    ctx.addIssue({
      code: "custom",
      message: "must name a config key, not hold the secret itself (value not shown): pulumi config set --secret <key> < <file>, then { secret: <key> }",
    });
  else if (!CONFIG_KEY.test(v)) ctx.addIssue({ code: "custom", message: "must name a config key (letters, digits, '_', '.', '-'; value not shown)" });
});

/** A secret read from another config key (set with `pulumi config set --secret <key>`). */
const secretRef = z.strictObject({ secret: configKeyName });

const keyFilePath = z.string().superRefine((v, ctx) => {
  if (v === "") ctx.addIssue({ code: "custom", message: "must be a path" });
  else if (looksLikeSecretValue(v)) ctx.addIssue({ code: "custom", message: "must be the path of a private key file, not the key itself (value not shown)" });
  else if (/[\u0000-\u001f\u007f]/.test(v)) ctx.addIssue({ code: "custom", message: "must be a path without control characters (value not shown)" });
});

/**
 * How the SSH private key is obtained: the local ssh-agent, a secret config key, or a file on
 * the machine running Pulumi. Never the key itself: stack files are committed.
 */
export const SshKeySchema = z.union([z.literal("agent"), secretRef, z.strictObject({ file: keyFilePath })], {
  error: 'must be "agent", { secret: <config key> } or { file: <path to private key> } (value not shown)',
});

export const HostSchema = z.strictObject({
  name: dnsLabel,
  address: z.string().refine((v) => isIpv4(v) || isHostName(v), {
    error: "must be an IPv4 address (four numbers 0-255, no leading zeros) or a host name",
  }),
  port: z.number().int().min(1, { error: "must be 1-65535" }).max(65535, { error: "must be 1-65535" }).default(22),
  user: z.string().min(1, { error: "must not be empty" }).default("root"),
  sshKey: SshKeySchema,
  hostKey: z.string().regex(HOST_KEY, { error: 'must be a public key line like "ssh-ed25519 AAAA…" (as ssh-keyscan prints it, without the host)' }).optional(),
  allowUnknownHostKey: z.boolean().default(false),
  nodeIp: ipv4.optional(),
  role: z.enum(["control-plane", "worker"]),
  pool: z.enum(["cloud", "edge"]).optional(),
});
export type HostConfig = z.output<typeof HostSchema>;

const versionString = z.string().regex(VERSION, { error: "must be a version like 1.2.3 (no leading v)" });

export const VersionsSchema = z.strictObject(
  Object.fromEntries((Object.keys(DEFAULT_VERSIONS) as VersionKey[]).map((key) => [key, versionString.default(DEFAULT_VERSIONS[key])])) as Record<
    VersionKey,
    z.ZodDefault<z.ZodString>
  >,
);

const checksum = z.string().regex(CHECKSUM, { error: 'must be "sha256:<64 hex digits>" or "sha512:<128 hex digits>"' });
const sha256 = z
  .string()
  .regex(/^(sha256:)?[0-9a-f]{64}$/, { error: 'must be "sha256:<64 hex digits>" (sha256 is what the in-cluster release files are checked with)' })
  .transform((v) => v.replace(/^sha256:/, ""));

// The checksum settings, one per downloaded file, come from the artifact table. Re-exported for
// the modules that read them with the rest of the schema.
export { ADDON_ARTIFACTS, HOST_ARTIFACTS } from "./artifacts.js";

/** One map for every downloaded file's checksum, so every message says `checksums.<file>`. */
export const ChecksumsSchema = z.strictObject({
  ...(Object.fromEntries(HOST_ARTIFACTS.map((key) => [key, checksum.optional()])) as Record<HostArtifactName, z.ZodOptional<typeof checksum>>),
  ...(Object.fromEntries(ADDON_ARTIFACTS.map((key) => [key, sha256.optional()])) as Record<AddonArtifactName, z.ZodOptional<typeof sha256>>),
});

export const NetworkSchema = z.strictObject({
  podCidr: cidr.default("10.168.0.0/16"),
  serviceCidr: cidr.default("10.96.0.0/12"),
  /** The subnet the nodes' IPs are on; MetalLB's pool must lie inside it. */
  hostCidr: cidr.optional(),
  metallbPool: z
    .string()
    .refine((v) => parsePool(v) !== undefined, { error: 'must be "first-last" (e.g. 192.0.2.240-192.0.2.250) or a CIDR' })
    .optional(),
});

export const KindSchema = z.strictObject({
  clusterName: dnsLabel.default("vhive"),
  /** vHive's dev image; the tag floats upstream, so pin a digest here for reproducible runs. */
  devImage: z.string().min(1).default("vhiveease/vhive_dev_env:latest"),
  /** Loopback port the API server is published on. */
  apiServerPort: z.number().int().min(1024, { error: "must be 1024-65535" }).max(65535, { error: "must be 1024-65535" }).default(16443),
});

export const MinioSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Host (node) whose disk holds the data. */
  node: z.string().optional(),
  path: installPath.default("/var/lib/vhive-minio"),
  /** Keep the data directory (and the objects in it) when the stack is destroyed. */
  retainData: z.boolean().default(false),
  accessKey: secretRef.optional(),
  secretKey: secretRef.optional(),
  storageSize: z
    .string()
    .regex(/^[1-9][0-9]{0,5}(Mi|Gi|Ti)$/, { error: 'must be a size above zero like "20Gi" (Mi, Gi or Ti)' })
    .default("20Gi"),
  image: z.string().optional(),
});

export const OpenYurtSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Pinned OpenYurt release; omitted = the in-cluster component's built-in pin. */
  version: versionString.optional(),
});

/** Ports the stack's own components listen on, on every node (the health port must not clash). */
export const RESERVED_PORTS: ReadonlyMap<number, string> = new Map([
  [22, "SSH"],
  [179, "Calico BGP"],
  [2379, "etcd"],
  [2380, "etcd peers"],
  [4789, "VXLAN"],
  [5473, "Calico Typha"],
  [6443, "the Kubernetes API server"],
  [9099, "Calico's health endpoint"],
  [10248, "kubelet's health endpoint"],
  [10249, "kube-proxy's metrics"],
  [10250, "the kubelet API"],
  [10255, "kubelet's read-only port"],
  [10256, "kube-proxy's health endpoint"],
  [10257, "kube-controller-manager"],
  [10259, "kube-scheduler"],
  [10261, "yurthub"],
  [10267, "yurthub"],
  [50051, "function instances (vHive's guest port)"],
]);

/** A port the node runtime listens on: unprivileged, not one the cluster uses, not a NodePort. */
function nodeRuntimePort(defaultPort: number) {
  return z
    .number()
    .int()
    .min(1024, { error: "must be 1024-65535", abort: true })
    .max(65535, { error: "must be 1024-65535", abort: true })
    .refine((port) => !RESERVED_PORTS.has(port), {
      error: (issue) => `${String(issue.input)} is used by ${RESERVED_PORTS.get(issue.input as number) ?? "the cluster"}: pick a free port (default 10990)`,
    })
    .refine((port) => port < 30000 || port > 32767, { error: "must not be in Kubernetes' NodePort range 30000-32767" })
    .default(defaultPort);
}

export const NodeRuntimeSchema = z
  .strictObject({
    /** Port of the node runtime's health endpoint on every worker (loopback). */
    healthPort: nodeRuntimePort(10990),
    /**
     * Port of the node runtime's gRPC API on the host's address, served when the stack runs without
     * Kubernetes (`kubernetes: false`), where experiment tools drive the runtime directly.
     */
    apiPort: nodeRuntimePort(10991),
    installDir: installPath.default("/opt/vhive-node-runtime"),
  })
  .refine((r) => r.apiPort !== r.healthPort, { error: "apiPort and healthPort must differ", path: ["apiPort"] });

/** Local hosts the playground stack creates on the machine running Pulumi (root, systemd-nspawn). */
export const PlaygroundSchema = z.strictObject({
  /** How many hosts: systemd-nspawn machines on a private bridge with an apt proxy. */
  hosts: z.number().int().min(1).max(8).default(2),
  /** Index of the first host: hosts are named vht-<index>, at 10.231.0.<100 + index>. */
  firstIndex: z.number().int().min(1).max(140).default(61),
});

export const StackConfigSchema = z.strictObject({
  /** kind: the local dev cluster; hosts: machines over SSH; playground: local hosts made for you. */
  target: z.enum(["kind", "hosts", "playground"]).default("kind"),
  playground: PlaygroundSchema.prefault({}),
  /**
   * false: node-runtime-only hosts (target hosts): each host gets the sandbox runtimes and the node
   * runtime service with its API on the network, and no Kubernetes (vHive's single-node studies).
   */
  kubernetes: z.boolean().default(true),
  kind: KindSchema.prefault({}),
  hosts: z.array(HostSchema).default([]),
  sandbox: z.enum(["firecracker", "gvisor", "containerd"]).default("firecracker"),
  snapshots: z.enum(["off", "vanilla", "reap"]).default("off"),
  packages: z
    .strictObject({
      /** release: pinned upstream files with checksums; debian: the distribution's packages. */
      source: z.enum(["release", "debian"]).default("release"),
      /** Keep the packages we installed when the stack is destroyed. */
      keepOnDestroy: z.boolean().default(false),
    })
    .prefault({}),
  versions: VersionsSchema.prefault({}),
  checksums: ChecksumsSchema.prefault({}),
  network: NetworkSchema.prefault({}),
  ingress: z.enum(["istio", "kourier"]).default("istio"),
  eventing: z.boolean().default(false),
  registry: z.boolean().default(true),
  /** Knative domain; omitted = magic DNS (sslip.io on the ingress address). */
  domain: z.string().regex(HOSTNAME, { error: "must be a DNS name" }).optional(),
  estargz: z.boolean().default(false),
  minio: MinioSchema.prefault({}),
  openyurt: OpenYurtSchema.prefault({}),
  /** Knative functions to deploy (names from the functions catalog). */
  functions: z.array(dnsLabel).default([]),
  /** URL prefix replacing upstream download hosts: <mirror>/<host>/<path>. */
  artifactMirror: httpUrl.optional(),
  /** HTTP proxy apt uses on every host (an /etc/apt/apt.conf.d drop-in). */
  aptProxy: httpUrl.optional(),
  nodeRuntime: NodeRuntimeSchema.prefault({}),
});

export type StackConfig = z.output<typeof StackConfigSchema>;
export type Sandbox = StackConfig["sandbox"];
export type SnapshotMode = StackConfig["snapshots"];
