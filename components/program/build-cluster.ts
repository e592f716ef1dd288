// The whole program: validated stack config in, cluster out. Hosts are bootstrapped in
// parallel; the control plane initialises once its host is ready; workers join in parallel
// from its outputs (after their node runtime is up); the in-cluster components are applied
// through a provider built from the admin kubeconfig once every node has joined.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HostCommand, type ConnectionArgs } from "../provider/index.js";
import { ADDON_ARTIFACTS, type HostConfig, type StackConfig } from "../config/schema.js";
import type { ChecksumLock } from "../config/checksum-lock.js";
import { criSocketFor, planForHost, inContainer, bootstrapTokenStep } from "../host-steps/index.js";
import { sshConnection, type SecretLookup } from "../nodes/connection.js";
import { HostBootstrap } from "../nodes/host-bootstrap.js";
import { NodeRuntime } from "../nodes/node-runtime.js";
import { ControlPlane } from "../cluster/control-plane.js";
import { Workers } from "../cluster/workers.js";
import { KindDevEnv } from "../kind/kind-dev-env.js";
import { ClusterAddons, type ManifestFetcher } from "../addons/index.js";
import { Functions } from "../functions/index.js";
import { Minio } from "../minio/index.js";
import { minioDataDirStep } from "../host-steps/index.js";
import { localStep, remoteStep } from "../nodes/step-commands.js";
import { OpenYurt } from "../openyurt/index.js";
import { PLAYGROUND_APT_PROXY, PlaygroundHosts, type HostLine } from "../playground/playground-hosts.js";

/** The checksums of in-cluster release files, in the form the addons take them. */
function addonChecksums(config: StackConfig): Record<string, string> {
  return Object.fromEntries(ADDON_ARTIFACTS.flatMap((key) => (config.checksums[key] ? [[key, config.checksums[key]]] : [])));
}

export interface BuildClusterInput {
  readonly config: StackConfig;
  /** Reads a secret config value (`pulumi.Config.requireSecret`). */
  readonly secret: SecretLookup;
  /** Repository root, for the node runtime bundle. */
  readonly repoRoot: string;
  /** How in-cluster release files are obtained (default: HTTPS, checksum-verified). */
  readonly manifestFetcher?: ManifestFetcher;
  /** Where checksums resolved at `pulumi up` are recorded; without it only pinned release files can be used. */
  readonly checksumLock?: ChecksumLock;
  /** The component every resource belongs to (VhiveCluster, NodeRuntimeHosts); none: the stack's own. */
  readonly parent?: pulumi.Resource;
  /**
   * The Kubernetes provider the in-cluster components use, made by the caller (VhiveCluster hands
   * its users the same one) from `kubeconfig` and waiting for `joined`; by default one is made here.
   */
  readonly provider?: k8s.Provider;
}

/**
 * Options of a resource this program declares directly: under the component when there is one,
 * aliased to where it was when the program declared it at the stack's top level, so stacks made
 * before the components existed keep their hosts (the engine carries the alias to its children).
 */
function childOf(input: BuildClusterInput): { parent?: pulumi.Resource; aliases?: pulumi.Alias[] } {
  return input.parent ? { parent: input.parent, aliases: [{ parent: pulumi.rootStackResource }] } : {};
}

export interface ClusterOutputs {
  readonly kubeconfig?: pulumi.Output<string>;
  readonly apiServerUrl?: pulumi.Output<string>;
  readonly nodeNames: string[];
  readonly bootstrapToken?: pulumi.Output<string>;
  /** Each node runtime's gRPC API, `address:port` by host name (node-runtime-only hosts). */
  readonly nodeRuntimeEndpoints?: pulumi.Output<Record<string, string>>;
  /** The playground's hosts as its hosts script reported them (no secrets: a key file's path). */
  readonly playgroundHosts?: pulumi.Output<HostLine[]>;
  readonly ingressDomain?: pulumi.Output<string>;
  readonly minioEndpoint?: pulumi.Output<string>;
  readonly minioAccessKey?: pulumi.Output<string>;
  readonly minioSecretKey?: pulumi.Output<string>;
  readonly endpointsJson?: pulumi.Output<string>;
  /** Every node joined: what a Kubernetes provider for this cluster waits for. */
  readonly joined?: pulumi.Resource[];
}

interface ClusterCore {
  kubeconfig: pulumi.Output<string>;
  apiServerUrl: pulumi.Output<string>;
  token: pulumi.Output<string>;
  nodeNames: string[];
  /** Every node joined (for in-cluster work). */
  joined: pulumi.Resource[];
  /** Node name per host name, with pool and SSH connection (empty for kind). */
  hosts: { host: HostConfig; connection: pulumi.Input<ConnectionArgs> }[];
}

function buildKind(input: BuildClusterInput): ClusterCore {
  const env = new KindDevEnv("dev", { config: input.config, repoRoot: input.repoRoot }, childOf(input));
  return {
    kubeconfig: env.kubeconfig,
    apiServerUrl: pulumi.output(`https://127.0.0.1:${input.config.kind.apiServerPort}`),
    token: env.token,
    nodeNames: [env.nodeName],
    joined: [env.ready],
    hosts: [],
  };
}

function buildHosts(input: BuildClusterInput): ClusterCore {
  const { config } = input;
  const hosts = config.hosts.map((host, index) => ({ host, connection: sshConnection(host, index, input.secret) }));
  const plan = (host: HostConfig) => planForHost(host, config.hosts.length);
  const bootstrap = new HostBootstrap(
    "hosts",
    {
      config,
      hosts: hosts.map((h) => ({ plan: plan(h.host), connection: h.connection })),
    },
    childOf(input),
  );
  const cp = hosts.find((h) => h.host.role === "control-plane")!;
  const cpIp = cp.host.nodeIp ?? cp.host.address;
  const workers = hosts.filter((h) => h.host.role === "worker");
  // Every host that runs sandboxes gets the node runtime (a lone control plane does).
  const runtime = new NodeRuntime(
    "node-runtime",
    {
      config,
      repoRoot: input.repoRoot,
      workers: hosts
        .filter((h) => plan(h.host).runsSandbox)
        .map((w) => ({
          name: w.host.name,
          connection: w.connection,
          criSocket: criSocketFor(config, plan(w.host)),
          // The runtime needs containerd, the sandbox binaries and the kernel settings, not kubelet:
          // it installs while the Kubernetes binaries download; kubelet (join) waits for both.
          after: bootstrap.sandboxReady[w.host.name]!,
        })),
    },
    childOf(input),
  );
  const controlPlane = new ControlPlane(
    "control-plane",
    {
      init: {
        nodeName: cp.host.name,
        nodeIp: cpIp,
        certSans: [cp.host.address],
        kubernetesVersion: config.versions.kubernetes,
        podCidr: config.network.podCidr,
        serviceCidr: config.network.serviceCidr,
        criSocket: criSocketFor(config, plan(cp.host)),
        singleNode: workers.length === 0,
        failSwapOn: true,
      },
      address: cp.host.address,
      connection: cp.connection,
      after: [bootstrap.ready[cp.host.name]!, ...(runtime.ready[cp.host.name] ? [runtime.ready[cp.host.name]!] : [])],
    },
    childOf(input),
  );
  // The bootstrap token expires (kubeadm init gives it a TTL): a step per worker makes it valid
  // again on the control plane right before that worker joins, so a worker added later joins too.
  const tokenValid = (worker: string) =>
    remoteStep(
      cp.host.name,
      controlPlane.token.apply((token) => bootstrapTokenStep(token, worker)),
      { connection: cp.connection, dependsOn: [controlPlane.init], ...childOf(input) },
      `bootstrap-token-for-${worker}`,
    );
  const joins = new Workers(
    "workers",
    {
      controlPlane,
      controlPlaneIp: cpIp,
      workers: workers.map((w) => ({
        name: w.host.name,
        nodeIp: w.host.nodeIp ?? w.host.address,
        criSocket: criSocketFor(config, plan(w.host)),
        connection: w.connection,
        after: [bootstrap.ready[w.host.name]!, runtime.ready[w.host.name]!, tokenValid(w.host.name)],
      })),
    },
    childOf(input),
  );
  return {
    kubeconfig: controlPlane.kubeconfig,
    apiServerUrl: controlPlane.apiServerUrl,
    token: controlPlane.token,
    nodeNames: hosts.map((h) => h.host.name),
    joined: [controlPlane.init, ...Object.values(joins.joins)],
    hosts,
  };
}

interface RuntimeHost {
  readonly name: string;
  /** Where the node runtime's API is reached (the host's node IP). */
  readonly address: pulumi.Input<string>;
  readonly connection: pulumi.Input<ConnectionArgs>;
}

/**
 * Node-runtime-only hosts (`kubernetes: false`): every host gets the sandbox runtimes and the node
 * runtime service with its API on the network; no Kubernetes.
 */
function buildRuntimeHosts(input: BuildClusterInput, config: StackConfig, hosts: readonly RuntimeHost[]): ClusterOutputs {
  const repoRoot = input.repoRoot;
  const plan = (name: string) => ({ name, runsSandbox: true });
  const bootstrap = new HostBootstrap(
    "hosts",
    {
      config,
      hosts: hosts.map((h) => ({ plan: plan(h.name), connection: h.connection })),
    },
    childOf(input),
  );
  const runtime = new NodeRuntime(
    "node-runtime",
    {
      config,
      repoRoot,
      apiPort: config.nodeRuntime.apiPort,
      workers: hosts.map((h) => ({
        name: h.name,
        connection: h.connection,
        criSocket: criSocketFor(config, plan(h.name)),
        after: bootstrap.sandboxReady[h.name]!,
      })),
    },
    childOf(input),
  );
  const endpoints = pulumi
    .all(hosts.map((h) => pulumi.output(h.address).apply((address) => [h.name, `${address}:${config.nodeRuntime.apiPort}`] as const)))
    .apply((pairs) => Object.fromEntries(pairs));
  // Known once every runtime answered its health check.
  const ready = pulumi.all(Object.values(runtime.ready).map((r) => r.stdout));
  return { nodeNames: hosts.map((h) => h.name), nodeRuntimeEndpoints: pulumi.all([ready, endpoints]).apply(([, e]) => e) };
}

function buildNodeRuntimeHosts(input: BuildClusterInput): ClusterOutputs {
  const { config } = input;
  return buildRuntimeHosts(
    input,
    config,
    config.hosts.map((host, index) => ({ name: host.name, address: host.nodeIp ?? host.address, connection: sshConnection(host, index, input.secret) })),
  );
}

/** The playground: local hosts made by the stack itself, then node-runtime-only provisioning. */
function buildPlayground(input: BuildClusterInput): ClusterOutputs {
  const { config } = input;
  const machines = new PlaygroundHosts("playground", { count: config.playground.hosts, firstIndex: config.playground.firstIndex }, childOf(input));
  // Every host step waits for the machines (their connection comes from them).
  const outputs = buildRuntimeHosts(input, { ...config, aptProxy: config.aptProxy ?? PLAYGROUND_APT_PROXY }, machines.hosts);
  return { ...outputs, playgroundHosts: pulumi.all(machines.hosts.map((h) => h.info)) };
}

export function buildCluster(input: BuildClusterInput): ClusterOutputs {
  const { config } = input;
  if (config.target === "playground") return buildPlayground(input);
  if (!config.kubernetes) return buildNodeRuntimeHosts(input);
  const core = config.target === "kind" ? buildKind(input) : buildHosts(input);
  const provider =
    input.provider ?? new k8s.Provider("cluster", { kubeconfig: core.kubeconfig, enableServerSideApply: true }, { dependsOn: core.joined, ...childOf(input) });

  const pool = config.network.metallbPool ?? "172.17.255.200-172.17.255.250";
  const addons = new ClusterAddons(
    "addons",
    {
      provider,
      sandbox: config.sandbox,
      versions: { calico: config.versions.calico, metallb: config.versions.metallb, istio: config.versions.istio, knative: config.versions.knative },
      checksums: addonChecksums(config),
      podCidr: config.network.podCidr,
      metallbPool: { addresses: [pool] },
      nodeNames: core.nodeNames,
      ingress: config.ingress,
      eventing: config.eventing,
      ...(config.registry ? { registry: {} } : {}),
      ...(config.domain ? { domain: config.domain } : {}),
      ...(config.artifactMirror ? { artifactMirror: config.artifactMirror } : {}),
      ...(input.manifestFetcher ? { fetcher: input.manifestFetcher } : {}),
      ...(input.checksumLock ? { checksumLock: input.checksumLock } : {}),
    },
    { dependsOn: core.joined, ...childOf(input) },
  );

  let outputs: ClusterOutputs = {
    kubeconfig: core.kubeconfig,
    apiServerUrl: core.apiServerUrl,
    nodeNames: core.nodeNames,
    bootstrapToken: core.token,
    ingressDomain: addons.domain,
    joined: core.joined,
  };

  let functionsEndpoints: pulumi.Output<string> | undefined;
  if (config.functions.length > 0) {
    const functions = new Functions(
      "functions",
      { provider, sandbox: config.sandbox, functions: config.functions, domain: addons.domain },
      { dependsOn: [addons, ...addons.knativeReady], ...childOf(input) },
    );
    functionsEndpoints = functions.endpointsJson;
    outputs = { ...outputs, endpointsJson: functions.endpointsJson };
  }

  if (config.minio.enabled) {
    // The data directory is made (and removed at destroy) by a step on MinIO's node.
    const minioNode = config.minio.node ?? core.nodeNames[0]!;
    const minioHost = core.hosts.find((h) => h.host.name === minioNode);
    const dataDirStep = minioDataDirStep(config.minio.path, config.minio.retainData);
    // On its host over SSH; with kind, inside the dev container that is the node.
    const dataDir = minioHost
      ? [remoteStep(minioNode, dataDirStep, { connection: minioHost.connection, dependsOn: core.joined, ...childOf(input) }, "minio-data")]
      : [localStep(config.kind.clusterName, inContainer(config, dataDirStep), { dependsOn: core.joined, ...childOf(input) }, "minio-data")];
    const minio = new Minio(
      "minio",
      {
        provider,
        nodeName: config.minio.node ?? core.nodeNames[0]!,
        hostPath: config.minio.path,
        accessKey: input.secret(config.minio.accessKey!.secret),
        secretKey: input.secret(config.minio.secretKey!.secret),
        storageSize: config.minio.storageSize,
        ...(config.minio.image ? { image: config.minio.image } : {}),
      },
      { dependsOn: [...core.joined, ...dataDir], ...childOf(input) },
    );
    outputs = { ...outputs, minioEndpoint: minio.endpoint, minioAccessKey: minio.accessKey, minioSecretKey: minio.secretKey };
  }

  if (config.openyurt.enabled) {
    const yurt = new OpenYurt(
      "openyurt",
      {
        provider,
        sandbox: config.sandbox,
        nodes: core.hosts.map((h) => ({ name: h.host.name, pool: h.host.pool ?? "cloud" })),
        ...(config.openyurt.version ? { version: config.openyurt.version } : {}),
        checksums: addonChecksums(config),
        apiServerUrl: core.apiServerUrl,
        bootstrapToken: core.token,
        domain: addons.domain,
        // The stack's own functions stay in endpoints.json beside OpenYurt's demo functions.
        ...(functionsEndpoints ? { functionsEndpointsJson: functionsEndpoints } : {}),
        ...(config.artifactMirror ? { artifactMirror: config.artifactMirror } : {}),
        ...(input.manifestFetcher ? { fetcher: input.manifestFetcher } : {}),
        ...(input.checksumLock ? { checksumLock: input.checksumLock } : {}),
      },
      { dependsOn: [...core.joined, addons, ...addons.knativeReady], ...childOf(input) },
    );
    // yurthub is a static pod on every node: a host-side step, run once OpenYurt is up.
    for (const h of core.hosts) {
      const step = yurt.hostSteps.apply((steps) => steps.find((s) => s.node === h.host.name));
      new HostCommand(
        `${h.host.name}-yurthub`,
        {
          connection: h.connection,
          hostName: h.host.name,
          create: step.apply((s) => s?.create ?? "true"),
          delete: step.apply((s) => s?.delete ?? "true"),
        },
        // Not a child of `yurt` as well: a resource that depends on a component waits for all of its
        // children, so as one of them it would wait for itself (the real engine's preview hung).
        { dependsOn: [yurt], ...childOf(input) },
      );
    }
    outputs = { ...outputs, endpointsJson: yurt.endpointsJson };
  }
  return outputs;
}
