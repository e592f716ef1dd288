// HostBootstrap: every host's setup, all hosts in parallel. Per host, the steps run in order
// (each command depends on the one before); hosts do not wait for each other.
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import type { StackConfig } from "../config/schema.js";
import { hostBootstrapSteps, type HostPlan } from "../scripts/hostSteps.js";
import { remoteStep } from "./stepCommands.js";
import { warnMissingChecksums } from "./missingChecksums.js";

export interface BootstrapHost {
  readonly plan: HostPlan;
  readonly connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
}

export interface HostBootstrapArgs {
  readonly config: StackConfig;
  readonly hosts: readonly BootstrapHost[];
}

export class HostBootstrap extends pulumi.ComponentResource {
  /** Every step command per host, in order. */
  readonly steps: Readonly<Record<string, command.remote.Command[]>>;
  /** The last step of each host: what later work on that host depends on. */
  readonly ready: Readonly<Record<string, command.remote.Command>>;
  /**
   * The step after which a host's sandboxes can run (containerd, with runsc or Firecracker
   * before it): the node runtime needs that, not the Kubernetes binaries.
   */
  readonly sandboxReady: Readonly<Record<string, command.remote.Command>>;
  /** Names of the steps each host runs, in order. */
  readonly stepNames: pulumi.Output<Record<string, string[]>>;

  constructor(name: string, args: HostBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:nodes:HostBootstrap", name, {}, opts);
    const steps: Record<string, command.remote.Command[]> = {};
    const ready: Record<string, command.remote.Command> = {};
    const sandboxReady: Record<string, command.remote.Command> = {};
    const names: Record<string, string[]> = {};
    for (const host of args.hosts) {
      const list: command.remote.Command[] = [];
      for (const step of hostBootstrapSteps(args.config, host.plan)) {
        const previous = list.at(-1);
        const cmd = remoteStep(host.plan.name, step, { connection: host.connection, parent: this, dependsOn: previous ? [previous] : [] }, step.name);
        list.push(cmd);
        if (step.name === "containerd") sandboxReady[host.plan.name] = cmd;
      }
      steps[host.plan.name] = list;
      ready[host.plan.name] = list.at(-1)!;
      names[host.plan.name] = hostBootstrapSteps(args.config, host.plan).map((s) => s.name);
    }
    this.steps = steps;
    this.ready = ready;
    this.sandboxReady = sandboxReady;
    this.stepNames = pulumi.output(names);
    warnMissingChecksums(args.hosts.flatMap((h) => hostBootstrapSteps(args.config, h.plan)), this);
    this.registerOutputs({ stepNames: this.stepNames });
  }
}
