// Workers: every worker joins in parallel as soon as the control plane is up, using its
// outputs (token, CA hash). No human step: the join command is generated, not copied.
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs, HostCommand } from "../provider/index.js";
import { kubeadmJoinStep } from "../host-steps/index.js";
import { remoteStep } from "../nodes/step-commands.js";
import type { ControlPlane } from "./control-plane.js";

export interface WorkerNode {
  readonly name: string;
  readonly nodeIp: string;
  readonly criSocket: string;
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** What must be done on this host first (its bootstrap, its node runtime). */
  readonly after: pulumi.Input<pulumi.Resource>[];
}

export interface WorkersArgs {
  readonly controlPlane: ControlPlane;
  readonly controlPlaneIp: string;
  readonly workers: readonly WorkerNode[];
}

export class Workers extends pulumi.ComponentResource {
  readonly joins: Readonly<Record<string, HostCommand>>;
  readonly nodeNames: string[];

  constructor(name: string, args: WorkersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:cluster:Workers", name, {}, opts);
    const joins: Record<string, HostCommand> = {};
    for (const worker of args.workers) {
      const step = pulumi.all([args.controlPlane.token, args.controlPlane.caCertHash]).apply(([token, caCertHash]) =>
        kubeadmJoinStep({
          nodeName: worker.name,
          nodeIp: worker.nodeIp,
          controlPlaneIp: args.controlPlaneIp,
          token,
          caCertHash,
          criSocket: worker.criSocket,
        }),
      );
      joins[worker.name] = remoteStep(
        worker.name,
        step,
        { connection: worker.connection, parent: this, dependsOn: [...worker.after, args.controlPlane.init] },
        "kubeadm-join",
      );
    }
    this.joins = joins;
    this.nodeNames = args.workers.map((w) => w.name);
    this.registerOutputs({ nodeNames: this.nodeNames });
  }
}
