// Every step the provisioner runs on a host or on the Pulumi machine, as scripts: the host
// bootstrap, kubeadm init and join, the bootstrap token refresh, the node runtime, yurthub, and
// the kind dev environment's local steps.
export {
  CONTAINERD_SOCKET,
  NODE_RUNTIME_SOCKET,
  PAUSE_IMAGE,
  SYSCTLS,
  criSocketFor,
  debianPackages,
  hostBootstrapSteps,
  planForHost,
  type HostPlan,
} from "./bootstrap.js";
export { hostScriptStep } from "./scriptStep.js";
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
export { bootstrapTokenStep, REFRESHED_TOKEN_TTL } from "./bootstrapToken.js";
export { nodeRuntimeStep, NODE_RUNTIME_UNIT, type NodeRuntimeStepInput } from "./nodeRuntime.js";
export { containerName, devContainerStep, dockerCheckStep, inContainer, kindInstallStep, NODE_IP_PLACEHOLDER } from "./kind.js";
export { yurthubJoinScript, yurthubLeaveScript, KUBELET_DROPIN, KUBELET_VIA_YURTHUB_CONF, YURTHUB_MANIFEST, type YurthubJoinOptions } from "./yurthub.js";
