import type { K8sObject, PoolKind } from "./types.js";

/** Node label that places a node in a NodePool (OpenYurt's projectinfo nodePoolLabelKey). */
export const NODEPOOL_LABEL = "apps.openyurt.io/nodepool";
/** Node label telling OpenYurt whether a node is an edge ("true") or cloud ("false") node. */
export const EDGE_WORKER_LABEL = "openyurt.io/is-edge-worker";
/**
 * Node annotation enabling autonomy (OpenYurt >= 1.6): pods on a node that lost its cloud link are
 * not evicted for this long; "0" means never.
 */
export const AUTONOMY_DURATION_ANNOTATION = "node.openyurt.io/autonomy-duration";

/** A NodePool (apps.openyurt.io/v1beta2, the storage version since OpenYurt 1.5). */
export function nodePool(name: string, kind: PoolKind): K8sObject {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    throw new Error(`openyurt.poolNames.${kind}: "${name}" must be a lowercase DNS name`);
  }
  return {
    apiVersion: "apps.openyurt.io/v1beta2",
    kind: "NodePool",
    metadata: { name },
    spec: {
      type: kind === "edge" ? "Edge" : "Cloud",
      // Edge nodes often sit behind NAT without pod-to-pod L2/L3 reachability across the pool.
      interConnectivity: kind === "cloud",
      labels: { [EDGE_WORKER_LABEL]: kind === "edge" ? "true" : "false" },
    },
  };
}

/** Labels and annotations one node needs to join its pool (and, on the edge, to be autonomous). */
export function nodePoolMembership(
  poolName: string,
  kind: PoolKind,
): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  return {
    labels: { [NODEPOOL_LABEL]: poolName, [EDGE_WORKER_LABEL]: kind === "edge" ? "true" : "false" },
    annotations: kind === "edge" ? { [AUTONOMY_DURATION_ANNOTATION]: "0" } : {},
  };
}

export interface YurthubPodOptions {
  image: string;
  /** API server URL yurthub forwards to, "https://host:6443". */
  serverAddr: string;
  poolName: string;
  kind: PoolKind;
}

export const YURTHUB_BOOTSTRAP_FILE = "/var/lib/yurthub/bootstrap-hub.conf";
/** Where yurthub serves the API for local clients (kubelet, kube-proxy, pods on hostNetwork). */
export const YURTHUB_PROXY_URL = "http://127.0.0.1:10261";

/**
 * yurthub as a static pod (kube-system/yurt-hub), the shape the yurthub chart's YurtStaticSet
 * keeps up to date once the first manifest exists on the node.
 */
export function yurthubStaticPod(o: YurthubPodOptions): K8sObject {
  if (!/^https:\/\/[^\s/]+(:\d+)?$/.test(o.serverAddr)) {
    throw new Error(`openyurt.apiServerUrl: "${o.serverAddr}" must look like https://host:6443`);
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "yurt-hub", namespace: "kube-system", labels: { "k8s-app": "yurt-hub" } },
    spec: {
      hostNetwork: true,
      priorityClassName: "system-node-critical",
      priority: 2000001000,
      volumes: [
        { name: "hub-dir", hostPath: { path: "/var/lib/yurthub", type: "DirectoryOrCreate" } },
        { name: "kubernetes", hostPath: { path: "/etc/kubernetes", type: "Directory" } },
      ],
      containers: [
        {
          name: "yurt-hub",
          image: o.image,
          imagePullPolicy: "IfNotPresent",
          command: [
            "yurthub",
            "--v=2",
            "--bind-address=127.0.0.1",
            `--server-addr=${o.serverAddr}`,
            "--node-name=$(NODE_NAME)",
            `--bootstrap-file=${YURTHUB_BOOTSTRAP_FILE}`,
            `--working-mode=${o.kind === "edge" ? "edge" : "cloud"}`,
            "--namespace=kube-system",
            `--nodepool-name=${o.poolName}`,
          ],
          env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
          volumeMounts: [
            { name: "hub-dir", mountPath: "/var/lib/yurthub" },
            { name: "kubernetes", mountPath: "/etc/kubernetes" },
          ],
          livenessProbe: {
            httpGet: { host: "127.0.0.1", path: "/v1/healthz", port: 10267 },
            initialDelaySeconds: 120,
            periodSeconds: 10,
            failureThreshold: 3,
          },
          resources: { requests: { cpu: "150m", memory: "150Mi" }, limits: { memory: "300Mi" } },
          securityContext: { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
        },
      ],
    },
  };
}
