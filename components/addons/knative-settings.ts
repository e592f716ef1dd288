import type { IngressKind, SandboxKind } from "../manifests/types.js";
import type { KnativeServingSettings } from "../manifests/upstream.js";

/** vHive's queue-proxy for Knative 1.21, patched to work with Firecracker sandboxes. */
export const VHIVE_FIRECRACKER_QUEUE_PROXY = "ghcr.io/vhive-serverless/queue-39be6f1d08a095bd076a71d288d295b6:1.21-firecracker";

const INGRESS_CLASS: Record<IngressKind, string> = {
  istio: "istio.ingress.networking.knative.dev",
  kourier: "kourier.ingress.networking.knative.dev",
};

/** What we change in Knative Serving's ConfigMaps for this sandbox and ingress. */
export function knativeServingSettings(o: { sandbox: SandboxKind; ingress: IngressKind; queueProxyImage?: string }): KnativeServingSettings {
  const features: Record<string, string> = {
    // OpenYurt pins demo functions to pools by node selector.
    "kubernetes.podspec-nodeselector": "enabled",
  };
  if (o.sandbox === "gvisor") features["kubernetes.podspec-runtimeclassname"] = "enabled";
  const queueProxyImage = o.queueProxyImage ?? (o.sandbox === "firecracker" ? VHIVE_FIRECRACKER_QUEUE_PROXY : undefined);
  return {
    ...(queueProxyImage ? { queueProxyImage } : {}),
    features,
    network: { "ingress-class": INGRESS_CLASS[o.ingress] },
  };
}

/** Magic DNS: sslip.io resolves "<a.b.c.d>.sslip.io" (and any subdomain) to a.b.c.d. */
export function magicDnsDomain(address: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    throw new Error(`magic DNS needs an IPv4 ingress address, got "${address}"; set domain explicitly`);
  }
  return `${address}.sslip.io`;
}
