import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../manifests/types.js";
import { metallbAddressPool, metallbL2Advertisement } from "../manifests/metallb.js";
import { gvisorRuntimeClass } from "../manifests/runtime-class.js";
import { registryObjects, DEFAULT_REGISTRY_NODE_PORT } from "../manifests/registry.js";
import { namespace } from "../manifests/namespace.js";
import { splitWebhookRegistrations, withCalicoSettings, withKnativeServingSettings } from "../manifests/upstream.js";
import type { ClusterAddonsArgs } from "./args.js";
import { HttpManifestFetcher } from "./fetch.js";
import { ReleaseFiles } from "./release-files.js";
import { addonArtifacts, resolveArtifacts } from "./releases.js";
import { knativeServingSettings, magicDnsDomain } from "./knative-settings.js";
import { withOuterDependsOn } from "./depends-on.js";

const ISTIO_NAMESPACE = "istio-system";
const INGRESS_SERVICE = { istio: "istio-system/istio-ingressgateway", kourier: "kourier-system/kourier" } as const;

/**
 * Everything that turns a bare kubeadm cluster into a vHive cluster: pod network, load balancer,
 * ingress, Knative (Serving, optionally Eventing), gVisor RuntimeClass, local registry and magic
 * DNS. Each stage depends on the previous one's readiness, as vHive's CI checks it:
 * Calico → nodes Ready → CoreDNS Available → MetalLB (controller, speaker) → Istio/Kourier
 * → Knative Serving (webhook endpoints ready before webhook registrations) → domain.
 * Readiness comes from Pulumi's await logic (Deployments available, DaemonSets rolled out,
 * Services with selectors having ready endpoints, LoadBalancer Services having an address)
 * plus explicit `pulumi.com/waitFor` conditions on Nodes and CoreDNS, which Pulumi does not create.
 */
export class ClusterAddons extends pulumi.ComponentResource {
  /** Knative's default domain (given, or "<ingress address>.sslip.io"). */
  readonly domain: pulumi.Output<string>;
  /** LoadBalancer address MetalLB gave the ingress gateway. */
  readonly ingressAddress: pulumi.Output<string>;
  /** Registry address from every node ("localhost:<nodePort>"), when a registry is deployed. */
  readonly registryEndpoint: pulumi.Output<string | undefined>;
  /** Resources that must exist before Knative Services are created (for `dependsOn`). */
  readonly knativeReady: pulumi.Resource[];

  constructor(name: string, args: ClusterAddonsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:addons:ClusterAddons", name, {}, opts);
    const ingress = args.ingress ?? "istio";
    const eventing = args.eventing ?? false;
    // Fails before any resource is registered on a malformed version or checksum.
    const artifacts = resolveArtifacts(addonArtifacts(args.versions, { ingress, eventing }), args.checksums, args.artifactMirror);
    const files = new ReleaseFiles(artifacts, {
      fetcher: args.fetcher ?? new HttpManifestFetcher(),
      ...(args.checksumLock ? { lock: args.checksumLock } : {}),
      ...(args.releaseCacheDir ? { cacheDir: args.releaseCacheDir } : {}),
      ...(args.artifactMirror ? { artifactMirror: args.artifactMirror } : {}),
    });
    const base: pulumi.CustomResourceOptions = { parent: this, provider: args.provider };
    const after = (deps: pulumi.Resource[]) => withOuterDependsOn(opts?.dependsOn, deps);
    const group = (id: string, objs: pulumi.Input<K8sObject[]>, dependsOn: pulumi.Resource[]) =>
      new k8s.yaml.v2.ConfigGroup(`${name}-${id}`, { objs }, { ...base, dependsOn: after(dependsOn) });
    /** A release whose admission webhooks are registered only once their Services serve. */
    const phased = (id: string, objs: pulumi.Output<K8sObject[]>, dependsOn: pulumi.Resource[]) => {
      const split = objs.apply(splitWebhookRegistrations);
      const workloads = group(id, split.workloads, dependsOn);
      const webhooks = group(`${id}-webhooks`, split.webhooks, [workloads]);
      return { workloads, webhooks };
    };

    // 1. Pod network. Nodes turn Ready only once a CNI is installed.
    const calico = group(
      "calico",
      files.objects("calico").apply((o) => withCalicoSettings(o, { podCidr: args.podCidr })),
      [],
    );

    // 2. Every node Ready, then CoreDNS available (it only schedules onto Ready nodes).
    const nodesReady = args.nodeNames.map(
      (node, i) =>
        new k8s.core.v1.NodePatch(
          `${name}-node-ready-${i}`,
          { metadata: { name: node, annotations: { "pulumi.com/waitFor": "condition=Ready" } } },
          { ...base, dependsOn: after([calico]) },
        ),
    );
    const coredns = new k8s.apps.v1.DeploymentPatch(
      `${name}-coredns-available`,
      {
        metadata: {
          name: "coredns",
          namespace: "kube-system",
          annotations: { "pulumi.com/waitFor": "condition=Available", "pulumi.com/patchForce": "true" },
        },
      },
      { ...base, dependsOn: after([calico, ...nodesReady]) },
    );
    const clusterUp: pulumi.Resource[] = [calico, coredns, ...nodesReady];

    // 3. gVisor RuntimeClass (needed by gvisor sandboxes; harmless otherwise, so only then).
    const runtimeClass = args.sandbox === "gvisor" ? [group("runtimeclass", [gvisorRuntimeClass()], clusterUp)] : [];

    // 4. MetalLB, then its pool and L2 advertisement (validated by MetalLB's webhook).
    const metallb = phased("metallb", files.objects("metallb"), clusterUp);
    const poolName = args.metallbPool.name ?? "vhive-pool";
    const metallbPool = group(
      "metallb-pool",
      [metallbAddressPool(poolName, args.metallbPool.addresses), metallbL2Advertisement(`${poolName}-l2`, poolName)],
      [metallb.webhooks],
    );

    // 5. Ingress: Istio from its Helm charts, or Kourier (installed with Knative below).
    const ingressReady: pulumi.Resource[] = [metallbPool];
    if (ingress === "istio") {
      const ns = group("istio-namespace", [namespace(ISTIO_NAMESPACE)], clusterUp);
      const chart = (id: string, key: string, values: Record<string, unknown>, deps: pulumi.Resource[]) =>
        new k8s.helm.v4.Chart(`${name}-${id}`, { chart: files.chartPath(key), namespace: ISTIO_NAMESPACE, values }, { ...base, dependsOn: after(deps) });
      const istioBase = chart("istio-base", "istio-base", { defaultRevision: "default" }, [ns]);
      const istiod = chart("istiod", "istiod", { global: { proxy: { autoInject: "disabled" } }, meshConfig: { enablePrometheusMerge: true } }, [istioBase]);
      const gateway = chart(
        "istio-ingressgateway",
        "istio-gateway",
        { name: "istio-ingressgateway", labels: { istio: "ingressgateway", app: "istio-ingressgateway" }, service: { type: "LoadBalancer" } },
        [istiod, metallbPool],
      );
      ingressReady.push(istioBase, istiod, gateway);
    }

    // 6. Knative Serving with our settings in its ConfigMaps; webhook race closed by phasing.
    const servingCrds = group("knative-serving-crds", files.objects("knative-serving-crds"), clusterUp);
    const settings = knativeServingSettings({ sandbox: args.sandbox, ingress, queueProxyImage: args.queueProxyImage });
    const serving = phased(
      "knative-serving",
      files.objects("knative-serving-core").apply((o) => withKnativeServingSettings(o, settings)),
      [servingCrds, ...ingressReady],
    );
    const netKey = ingress === "istio" ? "net-istio" : "net-kourier";
    const net = phased(netKey, files.objects(netKey), [serving.webhooks, ...ingressReady]);

    // 7. Domain: given, or magic DNS from the ingress LoadBalancer address.
    const [svcNs, svcName] = INGRESS_SERVICE[ingress].split("/") as [string, string];
    const ingressService = k8s.core.v1.Service.get(`${name}-ingress-service`, `${svcNs}/${svcName}`, {
      ...base,
      dependsOn: after([net.workloads, ...ingressReady]),
    });
    this.ingressAddress = ingressService.status.apply((s) => {
      const lb = s?.loadBalancer?.ingress?.[0];
      const address = lb?.ip ?? lb?.hostname;
      if (!address) throw new Error(`${svcNs}/${svcName}: no LoadBalancer address assigned (is metallbPool reachable?)`);
      return address;
    });
    this.domain = args.domain !== undefined ? pulumi.output(args.domain) : this.ingressAddress.apply(magicDnsDomain);
    const domainPatch = new k8s.core.v1.ConfigMapPatch(
      `${name}-config-domain`,
      {
        metadata: { name: "config-domain", namespace: "knative-serving", annotations: { "pulumi.com/patchForce": "true" } },
        data: this.domain.apply((d) => ({ [d]: "" })),
      },
      { ...base, dependsOn: after([serving.webhooks]) },
    );

    // 8. Eventing (optional): CRDs, core, in-memory channel, multi-tenant broker.
    const eventingReady: pulumi.Resource[] = [];
    if (eventing) {
      const crds = group("knative-eventing-crds", files.objects("knative-eventing-crds"), clusterUp);
      const core = phased("knative-eventing", files.objects("knative-eventing-core"), [crds]);
      const imc = phased("knative-imc", files.objects("knative-in-memory-channel"), [core.webhooks]);
      const broker = phased("knative-broker", files.objects("knative-mt-channel-broker"), [imc.webhooks]);
      eventingReady.push(core.webhooks, imc.webhooks, broker.webhooks);
    }

    // 9. Local registry.
    if (args.registry) {
      group("registry", registryObjects({ image: args.registry.image, nodePort: args.registry.nodePort }), clusterUp);
      this.registryEndpoint = pulumi.output(`localhost:${args.registry.nodePort ?? DEFAULT_REGISTRY_NODE_PORT}`);
    } else {
      this.registryEndpoint = pulumi.output(undefined);
    }

    this.knativeReady = [serving.webhooks, net.webhooks, domainPatch, ...runtimeClass, ...eventingReady];
    this.registerOutputs({
      domain: this.domain,
      ingressAddress: this.ingressAddress,
      registryEndpoint: this.registryEndpoint,
    });
  }
}
