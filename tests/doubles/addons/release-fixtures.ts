// Stand-ins for upstream release manifests (Calico's calico.yaml, MetalLB's metallb-native.yaml,
// Knative's serving-core.yaml …): tests have no network, so these reproduce only the objects and
// fields our transforms and phasing touch, in the upstream shape (names, namespaces, kinds).
import { stringify } from "yaml";
import { createHash } from "node:crypto";
import type { ManifestFetcher } from "#components/addons/fetch.js";

export const calicoYaml = [
  { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "calico-config", namespace: "kube-system" }, data: { veth_mtu: "0" } },
  {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "calico-node", namespace: "kube-system" },
    spec: {
      selector: { matchLabels: { "k8s-app": "calico-node" } },
      template: {
        metadata: { labels: { "k8s-app": "calico-node" } },
        spec: {
          containers: [{ name: "calico-node", image: "docker.io/calico/node:v3.31.5", env: [{ name: "CALICO_IPV4POOL_IPIP", value: "Always" }] }],
        },
      },
    },
  },
  { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "calico-kube-controllers", namespace: "kube-system" }, spec: {} },
]
  .map((o) => stringify(o))
  .join("---\n");

const webhookCfg = (kind: string, name: string, svcNs: string, svc: string) => ({
  apiVersion: "admissionregistration.k8s.io/v1",
  kind,
  metadata: { name },
  webhooks: [{ name, clientConfig: { service: { name: svc, namespace: svcNs } } }],
});

export const servingCoreYaml = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "knative-serving" } },
  {
    apiVersion: "caching.internal.knative.dev/v1alpha1",
    kind: "Image",
    metadata: { name: "queue-proxy", namespace: "knative-serving" },
    spec: { image: "gcr.io/knative-releases/queue@sha256:1" },
  },
  { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "config-deployment", namespace: "knative-serving" }, data: { _example: "..." } },
  { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "config-features", namespace: "knative-serving" }, data: { _example: "..." } },
  { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "config-network", namespace: "knative-serving" }, data: { _example: "..." } },
  { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "webhook", namespace: "knative-serving" }, spec: {} },
  { apiVersion: "v1", kind: "Service", metadata: { name: "webhook", namespace: "knative-serving" }, spec: { selector: { app: "webhook" } } },
  webhookCfg("ValidatingWebhookConfiguration", "config.webhook.serving.knative.dev", "knative-serving", "webhook"),
  webhookCfg("MutatingWebhookConfiguration", "webhook.serving.knative.dev", "knative-serving", "webhook"),
]
  .map((o) => stringify(o))
  .join("---\n");

export const metallbYaml = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "metallb-system" } },
  { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "controller", namespace: "metallb-system" }, spec: {} },
  { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "speaker", namespace: "metallb-system" }, spec: {} },
  webhookCfg("ValidatingWebhookConfiguration", "metallb-webhook-configuration", "metallb-system", "metallb-webhook-service"),
]
  .map((o) => stringify(o))
  .join("---\n");

export const genericYaml = (name: string) => stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "default" } });

export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Stands in for the HTTPS download: serves fixed bodies by URL and records what was asked. */
export class FixtureFetcher implements ManifestFetcher {
  readonly requested: string[] = [];
  constructor(private readonly bodies: (url: string) => string | Uint8Array) {}
  async fetch(url: string): Promise<Uint8Array> {
    this.requested.push(url);
    const b = this.bodies(url);
    return typeof b === "string" ? new TextEncoder().encode(b) : b;
  }
}
