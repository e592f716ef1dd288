// HostBootstrap: every host's setup, all hosts in parallel. Per host, each step depends on the
// steps it names in `after` (the one before it when it names none), so steps that need nothing of
// each other run at once; hosts do not wait for each other.
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs, HostCommand } from "../provider/index.js";
import type { StackConfig } from "../config/schema.js";
import { hostBootstrapSteps, type HostPlan, type HostStepName } from "../host-steps/index.js";
import type { Step } from "../scripts/step.js";
import { remoteStep } from "./step-commands.js";
import { warnMissingChecksums } from "./missing-checksums.js";

/** What a host's sandboxes need: containerd (after its runtimes) and the kernel settings. */
const SANDBOX_STEPS: readonly string[] = ["containerd", "sysctl"] satisfies HostStepName[];

export interface BootstrapHost {
  readonly plan: HostPlan;
  readonly connection: pulumi.Input<ConnectionArgs>;
}

export interface HostBootstrapArgs {
  readonly config: StackConfig;
  readonly hosts: readonly BootstrapHost[];
}

export class HostBootstrap extends pulumi.ComponentResource {
  /** Every step command per host, in order. */
  readonly steps: Readonly<Record<string, HostCommand[]>>;
  /** The last step of each host: what later work on that host depends on. */
  readonly ready: Readonly<Record<string, HostCommand>>;
  /**
   * The steps after which a host's sandboxes can run (containerd, with runsc or Firecracker
   * before it, and the kernel's modules and sysctls): the node runtime needs these, not the
   * Kubernetes binaries.
   */
  readonly sandboxReady: Readonly<Record<string, HostCommand[]>>;
  /** Names of the steps each host runs, in order. */
  readonly stepNames: pulumi.Output<Record<string, string[]>>;

  constructor(name: string, args: HostBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:nodes:HostBootstrap", name, {}, opts);
    const steps: Record<string, HostCommand[]> = {};
    const ready: Record<string, HostCommand> = {};
    const sandboxReady: Record<string, HostCommand[]> = {};
    const names: Record<string, string[]> = {};
    const everyStep: Step[] = [];
    for (const host of args.hosts) {
      const planned = hostBootstrapSteps(args.config, host.plan);
      everyStep.push(...planned);
      const list: HostCommand[] = [];
      const byName = new Map<string, HostCommand>();
      for (const step of planned) {
        const needs = step.after ? step.after.map((n) => stepNamed(byName, n, host.plan.name, step.name)) : list.slice(-1);
        const cmd = remoteStep(host.plan.name, step, { connection: host.connection, parent: this, dependsOn: needs }, step.name);
        list.push(cmd);
        byName.set(step.name, cmd);
        if (SANDBOX_STEPS.includes(step.name)) {
          sandboxReady[host.plan.name] ??= [];
          sandboxReady[host.plan.name]!.push(cmd);
        }
      }
      steps[host.plan.name] = list;
      // The last step needs every other one, directly or not (hostBootstrapSteps makes it so).
      ready[host.plan.name] = list.at(-1)!;
      names[host.plan.name] = planned.map((s) => s.name);
    }
    this.steps = steps;
    this.ready = ready;
    this.sandboxReady = sandboxReady;
    this.stepNames = pulumi.output(names);
    warnMissingChecksums(everyStep, this);
    this.registerOutputs({ stepNames: this.stepNames });
  }
}

function stepNamed(byName: ReadonlyMap<string, HostCommand>, name: string, host: string, step: string): HostCommand {
  const found = byName.get(name);
  if (!found) throw new Error(`host ${host}: step ${step} needs step ${name}, which is not listed before it`);
  return found;
}
