// Every step the provisioner runs on a host or on the Pulumi machine, as scripts: the host
// bootstrap (listed here, one step per file), kubeadm init and join, the bootstrap token refresh,
// the node runtime, yurthub, MinIO's data directory, and the kind dev environment's local steps.
import type { StackConfig } from "../config/schema.js";
import type { Step } from "../scripts/step.js";
import { aptAutoUpgradesOffStep } from "./apt-auto-upgrades-off.js";
import { aptProxyStep } from "./apt-proxy.js";
import { containerdStep } from "./containerd.js";
import { firecrackerStep } from "./firecracker.js";
import type { HostPlan } from "./host-plan.js";
import type { HostStep, HostStepName } from "./host-step.js";
import { kernelModulesStep } from "./kernel-modules.js";
import { kubernetesStep } from "./kubernetes.js";
import { limitsStep } from "./limits.js";
import { packagesStep } from "./packages.js";
import { planHostSteps } from "./plan-host-steps.js";
import { runscStep } from "./runsc.js";
import { stargzStep } from "./stargz.js";
import { swapOffStep } from "./swap-off.js";
import { sysctlStep } from "./sysctl.js";

/**
 * The host bootstrap: what vHive's node setup does for the chosen sandbox, made idempotent
 * (guards, drop-in files, persisted sysctls and modules) and undoable (each step's delete script),
 * in an order that satisfies every step's `after`. Each file says what its step needs and why.
 */
export const HOST_BOOTSTRAP_STEPS = [
  limitsStep,
  aptProxyStep,
  aptAutoUpgradesOffStep,
  packagesStep,
  swapOffStep,
  kernelModulesStep,
  sysctlStep,
  stargzStep,
  runscStep,
  firecrackerStep,
  containerdStep,
  kubernetesStep,
] as const satisfies readonly HostStep[];

/** Compiles only while every step name has its step in the list above. */
export const EVERY_HOST_STEP_LISTED: Exclude<HostStepName, (typeof HOST_BOOTSTRAP_STEPS)[number]["name"]> extends never ? true : never = true;

/** Every bootstrap step of one host, each with the steps of that host it needs. Pure: config in, scripts out. */
export function hostBootstrapSteps(config: StackConfig, plan: HostPlan): Step[] {
  return planHostSteps(HOST_BOOTSTRAP_STEPS, { config, plan });
}

export { CONTAINERD_SOCKET, NODE_RUNTIME_SOCKET, criSocketFor } from "./cri-socket.js";
export { planForHost, type HostPlan } from "./host-plan.js";
export type { HostStep, HostStepName, HostStepContext, StepBodies } from "./host-step.js";
export { checkHostStepGraph, planHostSteps } from "./plan-host-steps.js";
export { SYSCTLS } from "./sysctl.js";
export { debianPackages } from "./packages.js";
export { PAUSE_IMAGE } from "./containerd.js";
export { hostScriptStep } from "./script-step.js";
export {
  API_SERVER_PORT,
  BOOTSTRAP_TOKEN_TTL,
  CA_HASH_PREFIX,
  KUBECONFIG_PREFIX,
  kubeadmInitConfig,
  kubeadmInitStep,
  kubeadmJoinConfig,
  kubeadmJoinStep,
  stepOutput,
  type ControlPlaneInput,
  type JoinInput,
} from "./kubeadm.js";
export { bootstrapTokenStep, REFRESHED_TOKEN_TTL } from "./bootstrap-token.js";
export { nodeRuntimeStep, NODE_RUNTIME_UNIT, type NodeRuntimeStepInput } from "./node-runtime.js";
export { containerName, devContainerStep, dockerCheckStep, inContainer, kindInstallStep, NODE_IP_PLACEHOLDER } from "./kind.js";
export { minioDataDirStep } from "./minio-data-dir.js";
export { yurthubJoinScript, yurthubLeaveScript, KUBELET_DROPIN, KUBELET_VIA_YURTHUB_CONF, YURTHUB_MANIFEST, type YurthubJoinOptions } from "./yurthub.js";
