import type { K8sObject } from "./types.js";
import { installPathProblem } from "../config/paths.js";

/** Pinned MinIO server release. */
export const DEFAULT_MINIO_IMAGE = "docker.io/minio/minio:RELEASE.2025-09-07T16-13-09Z";
export const MINIO_STORAGE_CLASS = "local-storage";
export const MINIO_SERVICE = "minio-service";
export const MINIO_CREDENTIALS_SECRET = "minio-credentials";
const MINIO_LABELS = { app: "minio" };

export interface MinioLayout {
  namespace: string;
  nodeName: string;
  hostPath: string;
  storageSize: string;
  image: string;
  port: number;
}

export function checkMinioLayout(l: MinioLayout): void {
  if (!l.hostPath.startsWith("/")) throw new Error(`minio.hostPath: "${l.hostPath}" must be an absolute path`);
  // A system directory here would become MinIO's (and, on destroy, be removed).
  const pathProblem = installPathProblem(l.hostPath);
  if (pathProblem !== undefined) throw new Error(`minio.hostPath: ${pathProblem}`);
  if (l.nodeName.trim() === "") throw new Error("minio.nodeName: must name a node");
  if (!/^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.test(l.storageSize)) {
    throw new Error(`minio.storageSize: "${l.storageSize}" is not a Kubernetes quantity (e.g. 20Gi)`);
  }
  if (!/[1-9]/.test(l.storageSize)) throw new Error(`minio.storageSize: "${l.storageSize}" must be above zero`);
  if (!Number.isInteger(l.port) || l.port < 1 || l.port > 65535) throw new Error(`minio.port: ${l.port} is not a TCP port`);
}

/** Local volumes are bound when the pod is scheduled, so the claim waits for its consumer. */
export function minioStorageClass(): K8sObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: MINIO_STORAGE_CLASS },
    provisioner: "kubernetes.io/no-provisioner",
    volumeBindingMode: "WaitForFirstConsumer",
    reclaimPolicy: "Retain",
  };
}

/**
 * The data volume: a directory on one node, pinned there by node affinity. The directory must exist
 * (the `minio-data` step makes it, root-only): the kubelet creating a missing one would hide that step
 * failing, and make it 0755.
 */
export function minioPersistentVolume(l: MinioLayout): K8sObject {
  checkMinioLayout(l);
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "minio-pv", labels: { ...MINIO_LABELS } },
    spec: {
      capacity: { storage: l.storageSize },
      volumeMode: "Filesystem",
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: MINIO_STORAGE_CLASS,
      hostPath: { path: l.hostPath, type: "Directory" },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [l.nodeName] }] }],
        },
      },
    },
  };
}

export function minioPersistentVolumeClaim(l: MinioLayout): K8sObject {
  checkMinioLayout(l);
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "minio-pv-claim", namespace: l.namespace, labels: { ...MINIO_LABELS } },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: MINIO_STORAGE_CLASS,
      volumeName: "minio-pv",
      resources: { requests: { storage: l.storageSize } },
    },
  };
}

/**
 * The credentials Secret. Generic in the value type so the component can pass Pulumi secret
 * inputs straight through (they never become plain strings in the program).
 */
export function minioCredentialsSecret<V>(namespace: string, accessKey: V, secretKey: V) {
  return {
    apiVersion: "v1" as const,
    kind: "Secret" as const,
    metadata: { name: MINIO_CREDENTIALS_SECRET, namespace, labels: { ...MINIO_LABELS } },
    type: "Opaque",
    stringData: { MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey },
  };
}

export function minioDeployment(l: MinioLayout): K8sObject {
  checkMinioLayout(l);
  const fromSecret = (key: string) => ({ secretKeyRef: { name: MINIO_CREDENTIALS_SECRET, key } });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "minio-deployment", namespace: l.namespace, labels: { ...MINIO_LABELS } },
    spec: {
      selector: { matchLabels: { ...MINIO_LABELS } },
      // One writer per local volume: never run old and new pods together.
      strategy: { type: "Recreate" },
      template: {
        metadata: { labels: { ...MINIO_LABELS } },
        spec: {
          volumes: [{ name: "storage", persistentVolumeClaim: { claimName: "minio-pv-claim" } }],
          containers: [
            {
              name: "minio",
              image: l.image,
              args: ["server", "/storage", "--address", `:${l.port}`],
              env: [
                { name: "MINIO_ROOT_USER", valueFrom: fromSecret("MINIO_ROOT_USER") },
                { name: "MINIO_ROOT_PASSWORD", valueFrom: fromSecret("MINIO_ROOT_PASSWORD") },
              ],
              ports: [{ name: "s3", containerPort: l.port }],
              readinessProbe: { httpGet: { path: "/minio/health/ready", port: l.port } },
              livenessProbe: { httpGet: { path: "/minio/health/live", port: l.port } },
              volumeMounts: [{ name: "storage", mountPath: "/storage" }],
            },
          ],
        },
      },
    },
  };
}

/** ClusterIP Service; the address is left to the cluster (the seed hard-coded one). */
export function minioService(l: MinioLayout): K8sObject {
  checkMinioLayout(l);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: MINIO_SERVICE, namespace: l.namespace, labels: { ...MINIO_LABELS } },
    spec: {
      selector: { ...MINIO_LABELS },
      ports: [{ name: "s3", port: l.port, targetPort: l.port, protocol: "TCP" }],
    },
  };
}

/** In-cluster S3 endpoint URL of the Service. */
export function minioEndpoint(l: Pick<MinioLayout, "namespace" | "port">): string {
  return `http://${MINIO_SERVICE}.${l.namespace}.svc.cluster.local:${l.port}`;
}
