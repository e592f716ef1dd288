import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

export interface MinioArgs {
  /** Provider built from the control plane's admin kubeconfig. */
  provider: k8s.Provider;
  /** Node whose local disk holds the data (the PV's node affinity). */
  nodeName: pulumi.Input<string>;
  /** Absolute directory on that node (created by the `minioDataDirStep` host step, which removes it on destroy unless retainData). */
  hostPath: string;
  /** Access key (user); a Pulumi secret. */
  accessKey: pulumi.Input<string>;
  /** Secret key (password, at least 8 characters); a Pulumi secret. */
  secretKey: pulumi.Input<string>;
  /** Namespace (default "default", where vHive's workloads look for it). */
  namespace?: string;
  /** Volume size (default "20Gi"). */
  storageSize?: string;
  /** Pinned MinIO image (default the built-in release tag). */
  image?: string;
  /** S3 port of the Service (default 9000). */
  port?: number;
}
