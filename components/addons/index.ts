export type { AddonVersions, AddonChecksums, ClusterAddonsArgs, MetalLbPoolArgs, RegistryArgs } from "./args.js";
export { ClusterAddons } from "./cluster-addons.js";
export { HttpManifestFetcher, type ManifestFetcher } from "./fetch.js";
export { addonArtifacts, resolveArtifacts, type ReleaseArtifact } from "./releases.js";
export { VHIVE_FIRECRACKER_QUEUE_PROXY } from "./knative-settings.js";
