// NodeRuntimeHosts: the node runtime without Kubernetes (vHive's single-node studies): every host,
// reached over SSH or made locally as the playground's systemd-nspawn machines, gets the sandbox
// runtimes and the node runtime service with its gRPC API on the network.
import * as pulumi from "@pulumi/pulumi";
import type { HostLine } from "../playground/playground-hosts.js";
import type { NodeRuntimeHostsArgs } from "./args.js";
import { withDependsOnInside } from "./outer-depends-on.js";
import { outputOf, prepareBuild } from "./prepare-build.js";

/** Hosts that run the node runtime and its API, no Kubernetes. */
export class NodeRuntimeHosts extends pulumi.ComponentResource {
  /** Every host, by name. */
  readonly nodeNames: pulumi.Output<string[]>;
  /** Each node runtime's gRPC API, `address:port` by host name; known once every runtime answered its health check. */
  readonly nodeRuntimeEndpoints: pulumi.Output<{ [host: string]: string }>;
  /** Where the node runtime (and its CLI) is installed on every host. */
  readonly nodeRuntimeInstallDir: pulumi.Output<string>;
  /** The playground's hosts as they were made (address, SSH user and port, key file, host key), with target "playground". */
  readonly playgroundHosts: pulumi.Output<HostLine[] | undefined>;

  constructor(name: string, args: NodeRuntimeHostsArgs, opts?: pulumi.ComponentResourceOptions) {
    // The package's name (components/package): `vhive` is the provider of the host steps.
    super("vhive-cluster:index:NodeRuntimeHosts", name, {}, withDependsOnInside(opts));
    const build = prepareBuild("NodeRuntimeHosts", args);
    const built = build.declare(this);
    this.nodeNames = outputOf(built, (b) => b.nodeNames) as pulumi.Output<string[]>;
    this.nodeRuntimeEndpoints = outputOf(built, (b) => b.nodeRuntimeEndpoints) as pulumi.Output<{ [host: string]: string }>;
    this.nodeRuntimeInstallDir = pulumi.output(build.config.nodeRuntime.installDir);
    this.playgroundHosts = outputOf(built, (b) => b.playgroundHosts);
    this.registerOutputs({
      nodeNames: this.nodeNames,
      nodeRuntimeEndpoints: this.nodeRuntimeEndpoints,
      nodeRuntimeInstallDir: this.nodeRuntimeInstallDir,
      playgroundHosts: this.playgroundHosts,
    });
  }
}
