"""A vHive cluster in a kind container on this machine (needs Docker at `pulumi up`): Kubernetes
with Knative, Firecracker sandboxes with snapshots and the helloworld function.
`pulumi_vhive_cluster` is the SDK `pulumi package add` made."""

import pulumi
import pulumi_vhive_cluster as vhive

cluster = vhive.VhiveCluster(
    "dev",
    target=vhive.ClusterTarget.KIND,
    kind={"cluster_name": "vhive-example", "api_server_port": 16444},
    sandbox=vhive.Sandbox.FIRECRACKER,
    snapshots=vhive.SnapshotMode.VANILLA,
    functions=["helloworld"],
)

pulumi.export("nodes", cluster.node_names)
pulumi.export("ingressDomain", cluster.ingress_domain)
# A secret: `pulumi stack output kubeconfig --show-secrets` gives it to kubectl or a Kubernetes provider.
pulumi.export("kubeconfig", cluster.kubeconfig)
