export type { AddonVersions, AddonChecksums, ClusterAddonsArgs, MetalLbPoolArgs, RegistryArgs } from "./args.js";
export type { ManifestFetcher } from "./fetch.js";
