import type { K8sObject } from "./types.js";

// Pure edits of upstream release manifests, done on parsed objects (what vHive does with yq),
// so the result is reviewable in tests and applied in one step.

type Container = { name: string; env?: { name: string; value?: string }[]; [k: string]: unknown };

function find(objs: K8sObject[], kind: string, name: string, source: string): K8sObject {
  const hit = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!hit) throw new Error(`${source}: expected ${kind} ${name} in the release manifest, found none`);
  return hit;
}

function containersOf(o: K8sObject): Container[] {
  const spec = o.spec as { template?: { spec?: { containers?: Container[] } } } | undefined;
  return spec?.template?.spec?.containers ?? [];
}

function setEnv(c: Container, name: string, value: string): void {
  c.env ??= [];
  const env = c.env;
  const existing = env.find((e) => e.name === name);
  if (existing) {
    existing.value = value;
    delete (existing as { valueFrom?: unknown }).valueFrom;
  } else env.push({ name, value });
}

/**
 * Calico's manifest install: the IP pool is the cluster's pod CIDR, and each node's address is
 * the InternalIP kubelet registered (vHive's choice; first-found picks the wrong NIC on multi-homed hosts).
 */
export function withCalicoSettings(objs: K8sObject[], opts: { podCidr: string }): K8sObject[] {
  const out = structuredClone(objs);
  const node = find(out, "DaemonSet", "calico-node", "calico");
  const c = containersOf(node).find((x) => x.name === "calico-node");
  if (!c) throw new Error("calico: DaemonSet calico-node has no calico-node container");
  setEnv(c, "CALICO_IPV4POOL_CIDR", opts.podCidr);
  setEnv(c, "IP_AUTODETECTION_METHOD", "kubernetes-internal-ip");
  return out;
}

export interface KnativeServingSettings {
  /** Replaces the queue-proxy sidecar image (config-deployment and the caching Image). */
  queueProxyImage?: string;
  /** Entries merged into config-features (e.g. runtimeClassName, nodeSelector flags). */
  features?: Record<string, string>;
  /** Entries merged into config-network (e.g. ingress-class). */
  network?: Record<string, string>;
}

/** Knative Serving core with our settings written into its ConfigMaps before they are created. */
export function withKnativeServingSettings(objs: K8sObject[], s: KnativeServingSettings): K8sObject[] {
  const out = structuredClone(objs);
  const src = "knative-serving-core";
  const mergeData = (name: string, entries: Record<string, string> | undefined) => {
    if (!entries || Object.keys(entries).length === 0) return;
    const cm = find(out, "ConfigMap", name, src);
    cm.data = { ...((cm.data as Record<string, string> | undefined) ?? {}), ...entries };
  };
  if (s.queueProxyImage) {
    mergeData("config-deployment", { "queue-sidecar-image": s.queueProxyImage });
    // The caching Image makes nodes pre-pull the sidecar; keep it pointing at the same image.
    for (const o of out) {
      if (o.kind === "Image" && o.metadata.name === "queue-proxy") (o.spec as { image: string }).image = s.queueProxyImage;
    }
  }
  mergeData("config-features", s.features);
  mergeData("config-network", s.network);
  return out;
}

const WEBHOOK_KINDS = new Set(["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]);

/**
 * Splits a release into what must run first (everything, including the webhook's Deployment and
 * Service) and its admission webhook registrations. Registering the webhooks only after their
 * Service has ready endpoints closes the race where the API server calls a webhook that is not
 * serving yet ("failed calling webhook … no endpoints available").
 */
export function splitWebhookRegistrations(objs: K8sObject[]): { workloads: K8sObject[]; webhooks: K8sObject[] } {
  return {
    workloads: objs.filter((o) => !WEBHOOK_KINDS.has(o.kind)),
    webhooks: objs.filter((o) => WEBHOOK_KINDS.has(o.kind)),
  };
}

/** Services that admission webhooks in `webhooks` call, as "namespace/name". */
export function webhookServices(webhooks: K8sObject[]): string[] {
  const names = new Set<string>();
  for (const w of webhooks) {
    const hooks = (w as { webhooks?: { clientConfig?: { service?: { namespace: string; name: string } } }[] }).webhooks ?? [];
    for (const h of hooks) {
      const svc = h.clientConfig?.service;
      if (svc) names.add(`${svc.namespace}/${svc.name}`);
    }
  }
  return [...names].sort();
}
