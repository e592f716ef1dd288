import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  DEFAULT_MINIO_IMAGE,
  minioCredentialsSecret,
  minioDeployment,
  minioEndpoint,
  minioPersistentVolume,
  minioPersistentVolumeClaim,
  minioService,
  minioStorageClass,
  type MinioLayout,
} from "../manifests/minio.js";
import type { MinioArgs } from "./args.js";
import { withOuterDependsOn } from "../addons/depends-on.js";

/** Builder objects are plain JSON in the Kubernetes API shape, which is what the SDK args describe. */
const as = <T>(o: unknown): T => o as T;

/**
 * The seed's S3 service: MinIO on one node's local disk (StorageClass, PV pinned to the node,
 * PVC, Deployment, Service), its root credentials held in a Secret built from secret inputs.
 */
export class Minio extends pulumi.ComponentResource {
  /** In-cluster S3 endpoint, "http://minio-service.<ns>.svc.cluster.local:<port>". */
  readonly endpoint: pulumi.Output<string>;
  /** Access key and secret key, always Pulumi secrets. */
  readonly accessKey: pulumi.Output<string>;
  readonly secretKey: pulumi.Output<string>;
  /** Name of the Secret holding MINIO_ROOT_USER / MINIO_ROOT_PASSWORD (for workloads to mount). */
  readonly credentialsSecretName: pulumi.Output<string>;

  constructor(name: string, args: MinioArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:storage:Minio", name, {}, opts);
    const base: pulumi.CustomResourceOptions = { parent: this, provider: args.provider, dependsOn: withOuterDependsOn(opts?.dependsOn, []) };
    const after = (deps: pulumi.Resource[]) => withOuterDependsOn(opts?.dependsOn, deps);
    const layoutFor = (nodeName: string): MinioLayout => ({
      namespace: args.namespace ?? "default",
      nodeName,
      hostPath: args.hostPath,
      storageSize: args.storageSize ?? "20Gi",
      image: args.image ?? DEFAULT_MINIO_IMAGE,
      port: args.port ?? 9000,
    });
    // Check the plain fields now, so bad input fails before anything is registered.
    const staticLayout = layoutFor("pending-node-name");
    minioService(staticLayout);

    this.accessKey = pulumi.secret(args.accessKey);
    this.secretKey = pulumi.secret(args.secretKey);
    const checkedSecretKey = this.secretKey.apply((s) => {
      if (s.length < 8) throw new Error("minio.secretKey: MinIO requires at least 8 characters");
      return s;
    });
    const secretObj = minioCredentialsSecret(staticLayout.namespace, this.accessKey, pulumi.secret(checkedSecretKey));

    const storageClass = new k8s.storage.v1.StorageClass(`${name}-storageclass`, as<k8s.storage.v1.StorageClassArgs>(minioStorageClass()), base);
    const pv = new k8s.core.v1.PersistentVolume(
      `${name}-pv`,
      {
        metadata: as<k8s.core.v1.PersistentVolumeArgs>(minioPersistentVolume(staticLayout)).metadata,
        // Only the node affinity depends on the (possibly unknown yet) node name.
        spec: as<k8s.core.v1.PersistentVolumeArgs["spec"]>(pulumi.output(args.nodeName).apply((n) => minioPersistentVolume(layoutFor(n)).spec)),
      },
      { ...base, dependsOn: after([storageClass]) },
    );
    const pvc = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-pvc`,
      {
        ...as<k8s.core.v1.PersistentVolumeClaimArgs>(minioPersistentVolumeClaim(staticLayout)),
        // A local claim binds only when the pod is scheduled; don't wait for Bound here.
        metadata: { ...minioPersistentVolumeClaim(staticLayout).metadata, annotations: { "pulumi.com/skipAwait": "true" } },
      },
      { ...base, dependsOn: after([pv]) },
    );
    const secret = new k8s.core.v1.Secret(`${name}-credentials`, secretObj, { ...base, additionalSecretOutputs: ["stringData", "data"] });
    const deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, as<k8s.apps.v1.DeploymentArgs>(minioDeployment(staticLayout)), {
      ...base,
      dependsOn: after([pvc, secret]),
    });
    const service = new k8s.core.v1.Service(`${name}-service`, as<k8s.core.v1.ServiceArgs>(minioService(staticLayout)), {
      ...base,
      dependsOn: after([deployment]),
    });
    this.credentialsSecretName = secret.metadata.name;
    this.endpoint = service.metadata.name.apply(() => minioEndpoint(staticLayout));
    this.registerOutputs({
      endpoint: this.endpoint,
      accessKey: this.accessKey,
      secretKey: this.secretKey,
      credentialsSecretName: this.credentialsSecretName,
    });
  }
}
