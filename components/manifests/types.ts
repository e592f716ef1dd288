// Shapes shared by every manifest builder. Builders return plain objects (no Pulumi types) so
// tests can validate them against Kubernetes' own schemas without a Pulumi engine.

/** Which sandbox runs function instances on the workers. Decides the Knative Service shape. */
export type SandboxKind = "firecracker" | "gvisor" | "containerd";

/** Ingress that Knative Serving routes through. */
export type IngressKind = "istio" | "kourier";

/** OpenYurt pool a node belongs to. */
export type PoolKind = "cloud" | "edge";

/** A Kubernetes object as a plain JSON-like value (what `kubectl apply -f` takes). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}
