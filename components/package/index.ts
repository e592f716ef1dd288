// The package's entry as componentProviderHost's analyser reads it: the components it serves and,
// through their constructors, the argument and output types their schema is made from.
export { NodeRuntimeHosts, VhiveCluster } from "../cluster/index.js";
