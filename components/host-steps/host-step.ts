// One step of a host's bootstrap, as data: its name, the steps it needs, whether a host gets it,
// and how its scripts are made. The names form a closed union, so a dependency on a step that does
// not exist (a typo) fails to compile; planHostSteps checks the same at plan time for callers
// that bypass the types.
import type { StackConfig } from "../config/schema.js";
import type { HostPlan } from "./host-plan.js";

export type HostStepName =
  | "limits"
  | "apt-proxy"
  | "apt-auto-upgrades-off"
  | "packages"
  | "swap-off"
  | "kernel-modules"
  | "sysctl"
  | "stargz"
  | "runsc"
  | "firecracker"
  | "containerd"
  | "kubernetes";

/** What a step is planned for: the stack and the host. */
export interface HostStepContext {
  readonly config: StackConfig;
  readonly plan: HostPlan;
}

/** A step's script bodies; the planner wraps them into complete scripts (script-step.ts). */
export interface StepBodies {
  readonly create: string;
  readonly delete: string;
}

export interface HostStep {
  readonly name: HostStepName;
  /**
   * The steps this one needs, among those the host gets (a needed step a host does not get, such as
   * the apt proxy without one configured, is left out).
   */
  readonly after: readonly HostStepName[];
  /** Whether a host gets this step. */
  readonly when: (context: HostStepContext) => boolean;
  readonly build: (context: HostStepContext) => StepBodies;
}

/** Declares a step: its name stays a literal type, and it cannot name itself in `after`. */
export function hostStep<N extends HostStepName>(
  definition: HostStep & { readonly name: N; readonly after: readonly Exclude<HostStepName, N>[] },
): HostStep & { readonly name: N } {
  return definition;
}
