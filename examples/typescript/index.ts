// Two playground hosts (local systemd-nspawn machines; root needed at `pulumi up`) running
// gVisor, containerd and the node runtime with its API, no Kubernetes: the setup of vHive's
// single-node cold-start studies. `@pulumi/vhive-cluster` is the SDK `pulumi package add` made.
import * as vhive from "@pulumi/vhive-cluster";

const hosts = new vhive.NodeRuntimeHosts("runtime", {
  target: vhive.RuntimeHostsTarget.Playground,
  playground: { hosts: 2, firstIndex: 71 },
  sandbox: vhive.Sandbox.Gvisor,
  snapshots: vhive.SnapshotMode.Vanilla,
  packages: { source: vhive.PackageSource.Debian },
});

export const nodes = hosts.nodeNames;
/** Each host's node runtime API (address:port), to start functions through. */
export const nodeRuntimeEndpoints = hosts.nodeRuntimeEndpoints;
