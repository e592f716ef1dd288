// The components users import: `new VhiveCluster(...)` for a serverless cluster, `new
// NodeRuntimeHosts(...)` for the node runtime alone, with their argument types.
export { VhiveCluster } from "./vhiveCluster.js";
export { NodeRuntimeHosts } from "./nodeRuntimeHosts.js";
export * from "./args.js";
