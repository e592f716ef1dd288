// VhiveCluster: a vHive-style serverless cluster as one component (Kubernetes on kind or on hosts
// over SSH, functions in Firecracker, gVisor or containerd sandboxes, snapshots, Knative and the
// add-ons, functions, MinIO, OpenYurt), in the spirit of pulumi-eks' `eks.Cluster`: the admin
// kubeconfig as a secret, a ready Kubernetes provider, the node names and endpoints.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { VhiveClusterArgs } from "./args.js";
import { withDependsOnInside } from "./outer-depends-on.js";
import { outputOf, prepareBuild } from "./prepare-build.js";

/** The Kubernetes provider of each cluster; kept off the class so it is no output of the cross-language component. */
const providers = new WeakMap<VhiveCluster, k8s.Provider>();

/** A vHive-style serverless cluster: Kubernetes, Knative, the sandbox runtimes and the node runtime. */
export class VhiveCluster extends pulumi.ComponentResource {
  /** The admin kubeconfig (secret): give it to a Kubernetes provider in any language. */
  readonly kubeconfig: pulumi.Output<string>;
  readonly apiServerUrl: pulumi.Output<string>;
  /** Every node of the cluster, by name. */
  readonly nodeNames: pulumi.Output<string[]>;
  /** The kubeadm bootstrap token (secret). */
  readonly bootstrapToken: pulumi.Output<string>;
  /** The Knative domain functions are served under. */
  readonly ingressDomain: pulumi.Output<string>;
  /** The deployed functions' endpoints as vHive's endpoints.json (when functions or OpenYurt are deployed). */
  readonly endpointsJson: pulumi.Output<string | undefined>;
  /** MinIO's in-cluster endpoint and credentials (secrets), when minio.enabled. */
  readonly minioEndpoint: pulumi.Output<string | undefined>;
  readonly minioAccessKey: pulumi.Output<string | undefined>;
  readonly minioSecretKey: pulumi.Output<string | undefined>;

  constructor(name: string, args: VhiveClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    // The package's name (components/package): `vhive` is the provider of the host steps.
    super("vhive-cluster:index:VhiveCluster", name, {}, withDependsOnInside(opts));
    const build = prepareBuild("VhiveCluster", args);
    // The provider exists at once (so programs can use it right away) and takes the kubeconfig
    // once the cluster declared it; it waits for every node to join. Named and aliased as the
    // stack program's provider was.
    let resolveReady!: (value: { kubeconfig: pulumi.Output<string>; joined: pulumi.Resource[] }) => void;
    let rejectReady!: (error: unknown) => void;
    const ready = new Promise<{ kubeconfig: pulumi.Output<string>; joined: pulumi.Resource[] }>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    const provider = new k8s.Provider(
      "cluster",
      { kubeconfig: pulumi.output(ready.then((r) => r.kubeconfig)), enableServerSideApply: true },
      {
        parent: this,
        aliases: [{ parent: pulumi.rootStackResource }],
        dependsOn: ready.then((r): pulumi.Input<pulumi.Resource>[] => r.joined) as pulumi.Input<pulumi.Input<pulumi.Resource>[]>,
      },
    );
    providers.set(this, provider);
    const built = build.declare(this, provider);
    built.then((b) => resolveReady({ kubeconfig: b.kubeconfig!, joined: b.joined ?? [] }), rejectReady);

    this.kubeconfig = pulumi.secret(outputOf(built, (b) => b.kubeconfig)) as pulumi.Output<string>;
    this.apiServerUrl = outputOf(built, (b) => b.apiServerUrl) as pulumi.Output<string>;
    this.nodeNames = outputOf(built, (b) => b.nodeNames) as pulumi.Output<string[]>;
    this.bootstrapToken = pulumi.secret(outputOf(built, (b) => b.bootstrapToken)) as pulumi.Output<string>;
    this.ingressDomain = outputOf(built, (b) => b.ingressDomain) as pulumi.Output<string>;
    this.endpointsJson = outputOf(built, (b) => b.endpointsJson);
    this.minioEndpoint = outputOf(built, (b) => b.minioEndpoint);
    this.minioAccessKey = pulumi.secret(outputOf(built, (b) => b.minioAccessKey));
    this.minioSecretKey = pulumi.secret(outputOf(built, (b) => b.minioSecretKey));
    this.registerOutputs({
      kubeconfig: this.kubeconfig,
      apiServerUrl: this.apiServerUrl,
      nodeNames: this.nodeNames,
      bootstrapToken: this.bootstrapToken,
      ingressDomain: this.ingressDomain,
      endpointsJson: this.endpointsJson,
      minioEndpoint: this.minioEndpoint,
      minioAccessKey: this.minioAccessKey,
      minioSecretKey: this.minioSecretKey,
    });
  }

  /**
   * A Kubernetes provider for this cluster, ready once every node joined (TypeScript programs; in
   * other languages make one from `kubeconfig`).
   */
  get provider(): k8s.Provider {
    return providers.get(this)!;
  }
}
