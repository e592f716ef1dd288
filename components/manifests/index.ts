export type { IngressKind, K8sObject, PoolKind, SandboxKind } from "./types.js";
export { knativeService, DEFAULT_FIRECRACKER_STUB_IMAGE, type KnativeServiceInput } from "./knative-service.js";
export { vswarmEndpoints, vswarmEndpointsJson, type VswarmEndpoint, type DeployedFunction } from "./endpoints.js";
export { gvisorRuntimeClass, GVISOR_RUNTIME_CLASS } from "./runtime-class.js";
export { metallbAddressPool, metallbL2Advertisement } from "./metallb.js";
export { registryObjects } from "./registry.js";
export { nodePool, nodePoolMembership, yurthubStaticPod } from "./openyurt.js";
export { minioEndpoint, DEFAULT_MINIO_IMAGE } from "./minio.js";
export { parseManifest } from "./yaml.js";
