import type { K8sObject } from "./types.js";

export const REGISTRY_NAMESPACE = "registry";
export const REGISTRY_NAME = "docker-registry";
/** Pinned Docker distribution registry image. */
export const DEFAULT_REGISTRY_IMAGE = "docker.io/library/registry:2.8.3";
export const DEFAULT_REGISTRY_NODE_PORT = 30500;
const REGISTRY_PORT = 5000;

export interface RegistryOptions {
  image?: string;
  nodePort?: number;
  /** Size limit of the image store (an emptyDir: the registry is a cache the user re-pushes to). */
  storageLimit?: string;
}

/**
 * In-cluster registry reachable on every node at `localhost:<nodePort>` (NodePort), so workers
 * pull locally built function images without TLS setup (containerd treats localhost as insecure-ok).
 */
export function registryObjects(opts: RegistryOptions = {}): K8sObject[] {
  const nodePort = opts.nodePort ?? DEFAULT_REGISTRY_NODE_PORT;
  if (!Number.isInteger(nodePort) || nodePort < 30000 || nodePort > 32767) {
    throw new Error(`registry.nodePort: ${nodePort} is outside the NodePort range 30000-32767`);
  }
  const labels = { app: REGISTRY_NAME };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: REGISTRY_NAMESPACE } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: REGISTRY_NAME, namespace: REGISTRY_NAMESPACE, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        strategy: { type: "Recreate" },
        template: {
          metadata: { labels },
          spec: {
            terminationGracePeriodSeconds: 10,
            containers: [
              {
                name: "registry",
                image: opts.image ?? DEFAULT_REGISTRY_IMAGE,
                ports: [{ name: "http", containerPort: REGISTRY_PORT }],
                readinessProbe: { httpGet: { path: "/v2/", port: REGISTRY_PORT } },
                volumeMounts: [{ name: "store", mountPath: "/var/lib/registry" }],
              },
            ],
            volumes: [{ name: "store", emptyDir: { sizeLimit: opts.storageLimit ?? "5Gi" } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: REGISTRY_NAME, namespace: REGISTRY_NAMESPACE, labels },
      spec: {
        type: "NodePort",
        selector: labels,
        ports: [{ name: "http", port: REGISTRY_PORT, targetPort: REGISTRY_PORT, nodePort }],
      },
    },
  ];
}
