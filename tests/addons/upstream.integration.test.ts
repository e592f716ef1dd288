import { describe, expect, it } from "vitest";
import { parseManifest } from "#components/manifests/yaml.js";
import { splitWebhookRegistrations, webhookServices, withCalicoSettings, withKnativeServingSettings } from "#components/manifests/upstream.js";
import { knativeServingSettings, magicDnsDomain, VHIVE_FIRECRACKER_QUEUE_PROXY } from "#components/addons/knative-settings.js";
import { calicoYaml, metallbYaml, servingCoreYaml } from "../doubles/addons/release-fixtures.js";

const byName = (objs: { kind: string; metadata: { name: string } }[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name) as any;

describe("upstream manifest edits", () => {
  it("parses multi-document YAML, skipping empty documents, and names the source on errors", () => {
    expect(parseManifest("---\n" + calicoYaml + "\n---\n", "calico")).toHaveLength(3);
    expect(() => parseManifest("a: [", "https://x/bad.yaml")).toThrow(/^https:\/\/x\/bad.yaml: YAML document 0/);
    expect(() => parseManifest("just: data\n", "f.yaml")).toThrow("f.yaml: YAML document 0 is not a Kubernetes object");
  });

  it("Calico: pod CIDR and node address detection set on calico-node, input untouched", () => {
    const input = parseManifest(calicoYaml, "calico");
    const out = withCalicoSettings(input, { podCidr: "10.244.0.0/16" });
    const env = byName(out, "DaemonSet", "calico-node").spec.template.spec.containers[0].env;
    expect(env).toEqual([
      { name: "CALICO_IPV4POOL_IPIP", value: "Always" },
      { name: "CALICO_IPV4POOL_CIDR", value: "10.244.0.0/16" },
      { name: "IP_AUTODETECTION_METHOD", value: "kubernetes-internal-ip" },
    ]);
    expect(byName(input, "DaemonSet", "calico-node").spec.template.spec.containers[0].env).toHaveLength(1);
    expect(() => withCalicoSettings([], { podCidr: "10.0.0.0/16" })).toThrow("calico: expected DaemonSet calico-node in the release manifest, found none");
  });

  it("Knative for firecracker: vHive's queue-proxy in config-deployment and the caching Image", () => {
    const s = knativeServingSettings({ sandbox: "firecracker", ingress: "istio" });
    const out = withKnativeServingSettings(parseManifest(servingCoreYaml, "serving"), s);
    expect(byName(out, "ConfigMap", "config-deployment").data["queue-sidecar-image"]).toBe(VHIVE_FIRECRACKER_QUEUE_PROXY);
    expect(byName(out, "Image", "queue-proxy").spec.image).toBe(VHIVE_FIRECRACKER_QUEUE_PROXY);
    expect(byName(out, "ConfigMap", "config-network").data["ingress-class"]).toBe("istio.ingress.networking.knative.dev");
    expect(byName(out, "ConfigMap", "config-features").data["kubernetes.podspec-runtimeclassname"]).toBeUndefined();
  });

  it("Knative for gvisor: runtimeClassName flag on, stock queue-proxy; kourier ingress class", () => {
    const s = knativeServingSettings({ sandbox: "gvisor", ingress: "kourier" });
    const out = withKnativeServingSettings(parseManifest(servingCoreYaml, "serving"), s);
    expect(byName(out, "ConfigMap", "config-features").data).toMatchObject({
      "kubernetes.podspec-runtimeclassname": "enabled",
      "kubernetes.podspec-nodeselector": "enabled",
      _example: "...",
    });
    expect(byName(out, "ConfigMap", "config-deployment").data["queue-sidecar-image"]).toBeUndefined();
    expect(byName(out, "ConfigMap", "config-network").data["ingress-class"]).toBe("kourier.ingress.networking.knative.dev");
  });

  it("webhook registrations are split off, naming the Services they call", () => {
    const { workloads, webhooks } = splitWebhookRegistrations(parseManifest(servingCoreYaml, "serving"));
    expect(webhooks.map((w) => w.kind)).toEqual(["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]);
    expect(workloads.some((w) => w.kind.endsWith("WebhookConfiguration"))).toBe(false);
    expect(workloads.map((w) => `${w.kind}/${w.metadata.name}`)).toContain("Service/webhook");
    expect(webhookServices(webhooks)).toEqual(["knative-serving/webhook"]);
    expect(webhookServices(splitWebhookRegistrations(parseManifest(metallbYaml, "metallb")).webhooks)).toEqual(["metallb-system/metallb-webhook-service"]);
  });

  it("magic DNS is <IPv4>.sslip.io; anything else asks for an explicit domain", () => {
    expect(magicDnsDomain("192.0.2.240")).toBe("192.0.2.240.sslip.io");
    expect(() => magicDnsDomain("lb.example.net")).toThrow(/set domain explicitly/);
  });
});
