// The components users import: `new VhiveCluster(...)` for a serverless cluster, `new
// NodeRuntimeHosts(...)` for the node runtime alone, with their argument types.
export { VhiveCluster } from "./vhive-cluster.js";
export { NodeRuntimeHosts } from "./node-runtime-hosts.js";
export * from "./args.js";
